/**
 * Fused 4-bit matmul: `A[..., K] @ dequant(W[N, K])^T (+ bias)` without materialising the
 * float weight (bitsandbytes `matmul_4bit` / `gemv_4bit`, spec §6). Products and sums are
 * float32; the weight values are exactly those dequantize4bit produces in float32; the result
 * is rounded once to A's dtype. Nested (double-quantized) block scales are reconstructed once
 * and cached in the QuantState on the CPU; the CUDA kernels rebuild them inside the kernel.
 *
 * On CUDA (every operand on one device; the state moved with `state.to(device)` or the layer's
 * `to`): the same weight values and float32 products, summed in the kernel's own fixed order
 * (cuda/kernels/gemv_4bit.cuh), so results carry the same bits on every run but may differ from
 * the CPU's in the last bits, within 2 * K * 2^-24 of sum |x * w|. The 'int16'/'int8' activation
 * modes are CPU-only (LOWBIT_E_UNSUPPORTED on CUDA).
 */
import { backendFor, type Backend } from '../backend/backend.js';
import type { Device } from '../core/device.js';
import { DTYPE_CODE, FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import { LowbitError } from '../errors.js';
import { QUANT_TYPE_CODE, type QuantState, type QuantType4bit } from '../core/quant-state.js';
import type { Tensor } from '../core/tensor.js';
import { assertDType, assertOneOf, assertSameDevice, assertShape, checkOut, toTensor, type TensorInput } from '../core/validate.js';
import { check4bitState } from './quantize-4bit.js';

/** Activation precisions of the fused product (Matmul4bitOptions.activations). */
/** Largest element count of one operand (native: kGemm4bitMaxElements in lowbit/gemm_4bit_validate.h). */
export const MAX_GEMM_4BIT_ELEMENTS = 2 ** 46;

export const MATMUL_ACTIVATIONS = ['float32', 'int16', 'int8'] as const;
export type MatmulActivations = (typeof MATMUL_ACTIVATIONS)[number];

export interface Matmul4bitOptions {
  /**
   * Activation precision. 'float32' (default): the exact float32 products of the dequantized
   * weight, in one fixed order (every CPU path, thread count and batch size gives the same bits).
   * Two opt-in faster modes, each again the same bits on every path:
   * - 'int16' (single-row products, M = 1): the row is quantized to int16 per 64 values (32 for
   *   blocksize 32) and the weight table to round(value * 2^14); products are summed exactly in
   *   int32 per sub-block and accumulated in float32. Relative error about 1e-4 of the output.
   * - 'int8' (any number of rows, each quantized on its own, so a row gives the same result
   *   alone or in a batch): the same sub-blocks quantized to int8 and the table to
   *   round(value * 127), summed exactly in int32 per 8 values. With AVX-512 VNNI
   *   (backendInfo().cpu.int8Vnni) the fastest mode (decode GEMV at the memory bandwidth, M = 8..32
   *   about 2x the float32 path); elsewhere a portable loop gives the same numbers, slower than
   *   float32. Error about 1e-2 of the output, under a fifth of NF4's own quantization error.
   * Where a mode does not apply the float32 path is used: rows with NaN/Inf, K % blocksize != 0,
   * 'int16' with M > 1, 'int8' with K % 64 != 0.
   */
  activations?: MatmulActivations;
  /**
   * Writes the result into this tensor instead of allocating one, and returns it: a Tensor of the
   * result's shape `[..., N]`, dtype (A's) and device, sharing no memory with A, the packed weight,
   * the bias or the block scales. For decode loops that keep one output per layer (no allocation
   * per call). Every element is overwritten; with the async ops, leave it alone until the promise
   * settles. null or undefined: allocate.
   */
  out?: Tensor | null;
}

interface Prepared {
  be: Backend;
  args: Record<string, unknown>;
  out: Tensor;
}

/** Internal options of the layers (lib/nn/linear-4bit.ts). */
export interface Matmul4bitInternal {
  /** dtype of the result (default A's): a wider compute dtype without converting A. */
  outDtype?: FloatDType;
}

/** Device copies of code tables (the nested 256-entry map), one per table and device, uploaded once. */
const deviceTables = new WeakMap<Tensor, Map<string, Tensor>>();

function tableOn(code: Tensor, device: Device): Tensor {
  if (code.device === device) return code;
  let perDevice = deviceTables.get(code);
  if (!perDevice) {
    perDevice = new Map();
    deviceTables.set(code, perDevice);
  }
  let copy = perDevice.get(device);
  if (!copy || copy.disposed) {
    copy = code.to(device);
    perDevice.set(device, copy);
  }
  return copy;
}

/**
 * Typed errors for a 4-bit state that cannot run with activations on `device`: its block scales
 * (or nested statistics) live elsewhere, or were disposed. Nothing is copied between devices.
 */
function checkStateDevice(op: string, state: QuantState, device: Device): void {
  const parts: [string, Tensor][] = [['state.absmax', state.absmax]];
  if (state.state2) parts.push(['state.state2.absmax', state.state2.absmax]);
  for (const [name, t] of parts) {
    if (t.disposed) throw new LowbitError(`\`${name}\` in ${op} was disposed`, 'LOWBIT_E_DISPOSED');
    if (t.device !== device) {
      throw new LowbitError(
        `Expected the quantization state on ${device} (the device of the activations and packed weight) in ${op} but \`${name}\` is on ${t.device}; move the state with state.to('${device}') or the layer with layer.to('${device}')`,
        'LOWBIT_E_DEVICE',
      );
    }
  }
}

function prepare(op: string, input: TensorInput, packed: TensorInput, state: QuantState, bias: TensorInput | null | undefined, oneRow: boolean, opts: Matmul4bitOptions, internal: Matmul4bitInternal = {}): Prepared {
  const A = toTensor(input, op, 'A');
  const P = toTensor(packed, op, 'packed');
  check4bitState(op, P, state);
  assertDType(A, FLOAT_DTYPES, op, 'A');
  assertShape(state.shape.length === 2, op, () => `Expected a 2-D [N, K] weight state but its shape is [${state.shape.join(', ')}]`);
  const [N, K] = state.shape as [number, number];
  assertShape(A.ndim >= 1 && A.shape[A.ndim - 1] === K, op, () =>
    `Expected the last dimension of \`A\` to be K = ${K} (weight [${N}, ${K}]) but A has shape [${A.shape.join(', ')}]`);
  const M = K === 0 ? A.numel : A.numel / K;
  if (oneRow) assertShape(M === 1, op, () => `Expected exactly one row in \`A\` for gemv4bit but A has shape [${A.shape.join(', ')}] (${M} rows); use matmul4bit`);
  assertShape(M * K <= MAX_GEMM_4BIT_ELEMENTS && N * K <= MAX_GEMM_4BIT_ELEMENTS && M * N <= MAX_GEMM_4BIT_ELEMENTS, op, () =>
    `Expected at most 2^46 elements per operand (the kernels' index limit) but A is [${M}, ${K}] and the weight [${N}, ${K}]`);
  const B = bias === null || bias === undefined ? null : toTensor(bias, op, 'bias');
  if (B) {
    assertDType(B, FLOAT_DTYPES, op, 'bias');
    assertShape(B.numel === N, op, () => `Expected ${N} elements in \`bias\` but received shape [${B.shape.join(', ')}]`);
    assertSameDevice(op, A, P, B);
  } else {
    assertSameDevice(op, A, P);
  }
  checkStateDevice(op, state, A.device);
  const activations = assertOneOf(opts.activations ?? 'float32', MATMUL_ACTIVATIONS, op, 'activations');
  const be = backendFor(A);
  const activationsCode = activations === 'float32' ? 0 : activations === 'int16' ? 1 : 2; // MatmulActivations in ops_quant.h
  // The backend's own limits for this shape (on CUDA: the int16/int8 modes are CPU-only, grid
  // limits), asked before any output is allocated on the device.
  be.require('gemm4bit', { M, N, K, aDtype: DTYPE_CODE[A.dtype], blocksize: state.blocksize, activations: activationsCode });
  const outDtype = internal.outDtype ?? (A.dtype as FloatDType);
  const outShape = [...A.shape.slice(0, -1), N];
  const out = opts.out === undefined || opts.out === null
    ? be.empty(outShape, outDtype)
    : checkOut(opts.out, op, outShape, outDtype, A.device, { A, packed: P, bias: B, 'state.absmax': state.absmax });
  const args: Record<string, unknown> = {
    a: A, aDtype: DTYPE_CODE[A.dtype], packed: P, M, N, K,
    blocksize: state.blocksize, quantType: QUANT_TYPE_CODE[state.quantType as QuantType4bit], out, outDtype: DTYPE_CODE[outDtype],
  };
  if (activationsCode !== 0) args.activations = activationsCode;
  if (B) {
    args.bias = B;
    args.biasDtype = DTYPE_CODE[B.dtype];
  }
  if (state.nested) {
    // The double-quantized scales: the CUDA kernels rebuild each float32 scale from them in the
    // kernel (no de-nesting pass per call); the CPU's memory-bound kernels may stream these 1-byte
    // scales instead of the de-nested float32 ones (same values, same results).
    const s2 = state.state2!;
    Object.assign(args, {
      qabsmax: state.absmax, nestedAbsmax: s2.absmax, nestedCode: tableOn(s2.code, A.device), nestedOffset: state.offset, nestedBlocksize: s2.blocksize,
    });
  }
  if (!state.nested || be.kind === 'cpu') args.absmax = state.absmaxFloat32();
  return { be, args, out };
}

/**
 * `A[..., K] @ dequant(W)^T + bias` for any number of rows; output `[..., N]` in A's dtype.
 * Blocks that straddle weight rows (K % blocksize != 0) are supported on a slower path.
 *
 * @example
 * const [packed, state] = quantize4bit(W, { quantType: 'nf4' });   // W: [N, K]
 * const y = matmul4bit(x, packed, state, bias);                    // x: [..., K]
 * @throws LowbitError LOWBIT_E_SHAPE (K mismatch, bias size, packed too small),
 *   LOWBIT_E_DTYPE (A or bias not float), LOWBIT_E_ARGUMENT (not a 4-bit state).
 */
export function matmul4bit(A: TensorInput, packed: TensorInput, state: QuantState, bias?: TensorInput | null, opts: Matmul4bitOptions = {}): Tensor {
  const p = prepare('matmul4bit', A, packed, state, bias, false, opts);
  p.be.run('gemm4bit', p.args);
  return p.out;
}

/** matmul4bit off the event loop (libuv pool). */
export async function matmul4bitAsync(A: TensorInput, packed: TensorInput, state: QuantState, bias?: TensorInput | null, opts: Matmul4bitOptions = {}): Promise<Tensor> {
  const p = prepare('matmul4bitAsync', A, packed, state, bias, false, opts);
  await p.be.runAsync('gemm4bit', p.args);
  return p.out;
}

/**
 * Single-row product (bitsandbytes `gemv_4bit`): `A` holds exactly one row of K values
 * (shape `[K]`, `[1, K]` or `[1, 1, K]`). Same numerics as matmul4bit.
 *
 * @throws LowbitError LOWBIT_E_SHAPE when A has more than one row, plus matmul4bit's errors.
 */
export function gemv4bit(A: TensorInput, packed: TensorInput, state: QuantState, bias?: TensorInput | null, opts: Matmul4bitOptions = {}): Tensor {
  const p = prepare('gemv4bit', A, packed, state, bias, true, opts);
  p.be.run('gemm4bit', p.args);
  return p.out;
}

/** gemv4bit off the event loop. */
export async function gemv4bitAsync(A: TensorInput, packed: TensorInput, state: QuantState, bias?: TensorInput | null, opts: Matmul4bitOptions = {}): Promise<Tensor> {
  const p = prepare('gemv4bitAsync', A, packed, state, bias, true, opts);
  await p.be.runAsync('gemm4bit', p.args);
  return p.out;
}

/**
 * @internal matmul4bit with the result in `outDtype` (the layers' wider compute dtype: the
 * float32 sums rounded once to `outDtype`, without converting A first). Not exported from the package.
 */
export function matmul4bitAs(op: string, A: Tensor, packed: Tensor, state: QuantState, bias: Tensor | null, opts: Matmul4bitOptions, outDtype: FloatDType): Tensor {
  const p = prepare(op, A, packed, state, bias, false, opts, { outDtype });
  p.be.run('gemm4bit', p.args);
  return p.out;
}

/** @internal matmul4bitAs off the event loop. */
export async function matmul4bitAsAsync(op: string, A: Tensor, packed: Tensor, state: QuantState, bias: Tensor | null, opts: Matmul4bitOptions, outDtype: FloatDType): Promise<Tensor> {
  const p = prepare(op, A, packed, state, bias, false, opts, { outDtype });
  await p.be.runAsync('gemm4bit', p.args);
  return p.out;
}
