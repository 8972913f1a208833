/**
 * 4-bit NF4 / FP4 blockwise quantization, bit-compatible with bitsandbytes'
 * `quantize_4bit` / `dequantize_4bit` (spec bitsandbytes-numerics.md §1-3).
 */
import { backendFor } from '../backend/backend.js';
import { DTYPE_CODE, FLOAT_DTYPES, dtypeSize, type DType, type FloatDType } from '../core/dtype.js';
import { QUANT_TYPE_CODE, QuantState, quantCodeTable, type QuantType4bit } from '../core/quant-state.js';
import { Tensor } from '../core/tensor.js';
import { assertDType, assertOneOf, assertShape, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError } from '../errors.js';

/** Block sizes bitsandbytes accepts for 4-bit quantization. */
export const BLOCKSIZES_4BIT = [32, 64, 128, 256, 512, 1024, 2048, 4096] as const;
/** Storage dtypes for the packed bytes (the same bytes, viewed as another dtype, as in bitsandbytes). */
export const QUANT_STORAGE_DTYPES: readonly DType[] = ['uint8', 'int8', 'float16', 'bfloat16', 'float32'];
/** Block size of the nested (double) quantization of 4-bit block scales. */
export const NESTED_BLOCKSIZE_4BIT = 256;

export interface Quantize4bitOptions {
  /** 'nf4' or 'fp4' (bitsandbytes' default is 'fp4'). */
  quantType?: QuantType4bit;
  /** Elements per absmax block: 32, 64 (default), 128, ..., 4096. */
  blocksize?: number;
  /** Double-quantize the block scales (8-bit, nested blocksize 256, offset = mean). Default false. */
  compressStatistics?: boolean;
  /** dtype the packed bytes are viewed as (default 'uint8'). */
  quantStorage?: DType;
}

interface Prepared {
  A: Tensor;
  n: number;
  blocksize: number;
  quantType: QuantType4bit;
  compress: boolean;
  storage: DType;
}

function prepare(op: string, input: TensorInput, opts: Quantize4bitOptions): Prepared {
  const A = toTensor(input, op, 'A');
  assertDType(A, FLOAT_DTYPES, op, 'A');
  const blocksize = assertOneOf(opts.blocksize ?? 64, BLOCKSIZES_4BIT, op, 'blocksize');
  const quantType = assertOneOf(opts.quantType ?? 'fp4', ['nf4', 'fp4'] as const, op, 'quantType');
  const compress = opts.compressStatistics ?? false;
  if (typeof compress !== 'boolean') {
    throw new LowbitError(`Expected a boolean for \`compressStatistics\` in ${op} but received ${String(compress)}`, 'LOWBIT_E_ARGUMENT');
  }
  const storage = assertOneOf(opts.quantStorage ?? 'uint8', QUANT_STORAGE_DTYPES, op, 'quantStorage');
  return { A, n: A.numel, blocksize, quantType, compress, storage };
}

/** Packed-byte tensor of `[ceil(ceil(n/2) / itemsize), 1]` elements of `storage` (bytes beyond ceil(n/2) are zero). */
function allocPacked(be: ReturnType<typeof backendFor>, n: number, storage: DType): Tensor {
  const bytes = Math.ceil(n / 2);
  return be.empty([Math.ceil(bytes / dtypeSize(storage)), 1], storage);
}

function nestState(be: ReturnType<typeof backendFor>, absmax: Tensor): { qabsmax: Tensor; offset: number; state2: QuantState } {
  const nb = absmax.numel;
  const qabsmax = be.empty([nb], 'uint8');
  const nestedAbsmax = be.empty([Math.ceil(nb / NESTED_BLOCKSIZE_4BIT)], 'float32');
  const offset = be.empty([1], 'float32');
  const code = quantCodeTable('dynamic');
  be.run('nestAbsmax', { absmax, n: nb, nestedBlocksize: NESTED_BLOCKSIZE_4BIT, code, qabsmax, nestedAbsmax, offset });
  const offsetValue = offset.toFloat32Array()[0]!;
  const state2 = new QuantState({ absmax: nestedAbsmax, shape: [nb], dtype: 'float32', blocksize: NESTED_BLOCKSIZE_4BIT, code, quantType: null });
  return { qabsmax, offset: offsetValue, state2 };
}

function finish(be: ReturnType<typeof backendFor>, p: Prepared, packed: Tensor, absmax: Tensor): [Tensor, QuantState] {
  const code = quantCodeTable(p.quantType);
  const base = { shape: p.A.shape, dtype: p.A.dtype as FloatDType, blocksize: p.blocksize, code, quantType: p.quantType };
  if (!p.compress) return [packed, new QuantState({ ...base, absmax })];
  const { qabsmax, offset, state2 } = nestState(be, absmax);
  absmax.dispose();
  return [packed, new QuantState({ ...base, absmax: qabsmax, offset, state2 })];
}

function quantizeArgs(p: Prepared, packed: Tensor, absmax: Tensor): Record<string, unknown> {
  return {
    input: p.A,
    dtype: DTYPE_CODE[p.A.dtype],
    n: p.n,
    blocksize: p.blocksize,
    quantType: QUANT_TYPE_CODE[p.quantType],
    packed,
    absmax,
  };
}

/**
 * Quantizes a float tensor to packed 4-bit codes (two per byte, the even element in the high
 * nibble) with one float32 absmax per block of the flattened tensor.
 *
 * @example
 * const [packed, state] = quantize4bit(Float32Array.from([2, -1, 0.5, 0.1]), { quantType: 'nf4' });
 * const back = dequantize4bit(packed, state); // Float32 tensor [4]
 * Numerics follow bitsandbytes' CUDA kernel bit for bit (spec §2.3): `absmax = max|x|` per block,
 * `s = x * f32(1 / absmax)`, code by strict `>` thresholds (ties go to the lower code). Differences
 * from CUDA are limited to its fast-math reciprocal (rare one-code flips exactly at a threshold).
 * An all-zero block gets code 0 everywhere (bytes 0x00, CUDA's pattern) and absmax 0, so it
 * dequantizes to (-)0. With an odd element count the last low nibble is the code of 0.
 *
 * NaN / Inf: they affect only their own block. A NaN makes that block's absmax NaN (every value
 * of the block dequantizes to NaN); an Inf makes it Inf and every value of the block dequantizes
 * to a non-finite value (NaN, or -Inf where the code is NF4's -1.0, which includes the Inf
 * element itself: `inf * (1/inf)` is NaN). Other blocks are unaffected. matmul4bit with such a
 * weight yields NaN/Inf in the affected output rows only.
 *
 * @returns `[packed, state]`: packed `[ceil(n/2), 1]` uint8 (or `quantStorage`), state with the block scales.
 * @throws LowbitError LOWBIT_E_DTYPE (input not float32/float16/bfloat16), LOWBIT_E_ARGUMENT
 *   (blocksize, quantType or quantStorage not allowed).
 */
export function quantize4bit(A: TensorInput, opts: Quantize4bitOptions = {}): [Tensor, QuantState] {
  const p = prepare('quantize4bit', A, opts);
  const be = backendFor(p.A);
  const packed = allocPacked(be, p.n, p.storage);
  const absmax = be.empty([Math.ceil(p.n / p.blocksize)], 'float32');
  be.run('quantize4bit', quantizeArgs(p, packed, absmax));
  return finish(be, p, packed, absmax);
}

/** quantize4bit off the event loop (libuv pool). Same arguments and results. */
export async function quantize4bitAsync(A: TensorInput, opts: Quantize4bitOptions = {}): Promise<[Tensor, QuantState]> {
  const p = prepare('quantize4bitAsync', A, opts);
  const be = backendFor(p.A);
  const packed = allocPacked(be, p.n, p.storage);
  const absmax = be.empty([Math.ceil(p.n / p.blocksize)], 'float32');
  await be.runAsync('quantize4bit', quantizeArgs(p, packed, absmax));
  return finish(be, p, packed, absmax);
}

/** Checks that `packed` and `state` describe a 4-bit tensor and belong together. */
export function check4bitState(op: string, packed: Tensor, state: QuantState): void {
  if (!(state instanceof QuantState)) {
    throw new LowbitError(`Expected a QuantState for \`state\` in ${op} but received ${typeof state}`, 'LOWBIT_E_ARGUMENT');
  }
  if (state.quantType !== 'nf4' && state.quantType !== 'fp4') {
    throw new LowbitError(`Expected a 4-bit (nf4/fp4) QuantState in ${op} but received an 8-bit state`, 'LOWBIT_E_ARGUMENT');
  }
  const n = state.numel;
  assertShape(packed.byteLength >= Math.ceil(n / 2), op, () =>
    `Expected at least ${Math.ceil(n / 2)} packed bytes for a tensor of shape [${state.shape.join(', ')}] but \`packed\` has ${packed.byteLength}`);
  const nb = Math.ceil(n / state.blocksize);
  assertShape(state.absmax.numel === nb, op, () =>
    `Expected ${nb} block scales for shape [${state.shape.join(', ')}] with blocksize ${state.blocksize} but the state has ${state.absmax.numel}`);
  assertDType(state.absmax, [state.nested ? 'uint8' : 'float32'], op, 'state.absmax');
}

function dequantArgs(packed: Tensor, state: QuantState, out: Tensor): Record<string, unknown> {
  return {
    packed,
    absmax: state.absmaxFloat32(),
    n: state.numel,
    blocksize: state.blocksize,
    quantType: QUANT_TYPE_CODE[state.quantType as QuantType4bit],
    out,
    outDtype: DTYPE_CODE[out.dtype],
  };
}

/**
 * Dequantizes packed 4-bit codes: `out[j] = dtype(f32(table[code_j] * absmax[j / blocksize]))`,
 * shape `state.shape`, dtype `state.dtype` (or `outDtype`).
 *
 * @example
 * const W = dequantize4bit(packed, state);
 * @throws LowbitError LOWBIT_E_SHAPE when `packed` is too small for `state` (or `out` has the
 *   wrong size), LOWBIT_E_ARGUMENT for an 8-bit or foreign state.
 */
export function dequantize4bit(packed: TensorInput, state: QuantState, opts: { outDtype?: FloatDType; out?: Tensor } = {}): Tensor {
  const op = 'dequantize4bit';
  const P = toTensor(packed, op, 'packed');
  check4bitState(op, P, state);
  const outDtype = assertOneOf(opts.out?.dtype ?? opts.outDtype ?? state.dtype, FLOAT_DTYPES, op, 'outDtype');
  const be = backendFor(P);
  let out: Tensor;
  if (opts.out) {
    // bitsandbytes' `out=`: reuse a preallocated tensor of the original shape (avoids page faults
    // of a fresh allocation on large weights).
    out = toTensor(opts.out, op, 'out');
    assertShape(out.numel === state.numel && out.device === P.device, op, () =>
      `Expected \`out\` with ${state.numel} elements on ${P.device} but received shape [${out.shape.join(', ')}] on ${out.device}`);
  } else {
    out = be.empty(state.shape, outDtype);
  }
  be.run('dequantize4bit', dequantArgs(P, state, out));
  return out;
}

/** dequantize4bit off the event loop. */
export async function dequantize4bitAsync(packed: TensorInput, state: QuantState, opts: { outDtype?: FloatDType } = {}): Promise<Tensor> {
  const op = 'dequantize4bitAsync';
  const P = toTensor(packed, op, 'packed');
  check4bitState(op, P, state);
  const outDtype = assertOneOf(opts.outDtype ?? state.dtype, FLOAT_DTYPES, op, 'outDtype');
  const be = backendFor(P);
  const out = be.empty(state.shape, outDtype);
  await be.runAsync('dequantize4bit', dequantArgs(P, state, out));
  return out;
}
