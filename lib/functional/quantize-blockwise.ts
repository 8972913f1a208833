/**
 * 8-bit blockwise quantization with a 256-entry code (default: bitsandbytes' signed dynamic
 * map), bit-compatible with `quantize_blockwise` / `dequantize_blockwise` (spec §4).
 */
import { backendFor } from '../backend/backend.js';
import { DTYPE_CODE, FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import { QuantState, quantCodeTable } from '../core/quant-state.js';
import { Tensor } from '../core/tensor.js';
import { assertDType, assertOneOf, assertShape, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError } from '../errors.js';

/** Block sizes bitsandbytes accepts for 8-bit blockwise quantization. */
export const BLOCKSIZES_8BIT = [64, 128, 256, 512, 1024, 2048, 4096] as const;

export interface QuantizeBlockwiseOptions {
  /** Elements per absmax block: 64 ... 4096 (default 4096). */
  blocksize?: number;
  /** 256 float32 values sorted ascending (default: the signed dynamic map). */
  code?: TensorInput;
  /** Quantize the absmax too (offset = mean, same blocksize), as bitsandbytes' `nested=True`. */
  nested?: boolean;
}

function prepare(op: string, input: TensorInput, opts: QuantizeBlockwiseOptions) {
  const A = toTensor(input, op, 'A');
  assertDType(A, FLOAT_DTYPES, op, 'A');
  const blocksize = assertOneOf(opts.blocksize ?? 4096, BLOCKSIZES_8BIT, op, 'blocksize');
  const code = opts.code === undefined ? quantCodeTable('dynamic') : toTensor(opts.code, op, 'code');
  assertDType(code, ['float32'], op, 'code');
  assertShape(code.numel === 256, op, () => `Expected 256 entries for \`code\` but received ${code.numel}`);
  const nested = opts.nested ?? false;
  if (typeof nested !== 'boolean') throw new LowbitError(`Expected a boolean for \`nested\` in ${op}`, 'LOWBIT_E_ARGUMENT');
  return { A, blocksize, code, nested };
}

/** Native steps of an op (run in order, sync or async) and how to build its result afterwards. */
interface Plan<T> {
  be: ReturnType<typeof backendFor>;
  steps: [string, Record<string, unknown>][];
  result: () => T;
}

function quantizePlan(op: string, A: TensorInput, opts: QuantizeBlockwiseOptions): Plan<[Tensor, QuantState]> {
  const p = prepare(op, A, opts);
  const be = backendFor(p.A);
  const n = p.A.numel;
  const out = be.empty(p.A.shape, 'uint8');
  const absmax = be.empty([Math.ceil(n / p.blocksize)], 'float32');
  const steps: Plan<[Tensor, QuantState]>['steps'] = [
    ['quantizeBlockwise', { input: p.A, dtype: DTYPE_CODE[p.A.dtype], n, blocksize: p.blocksize, code: p.code, out, absmax }],
  ];
  const base = { shape: p.A.shape, dtype: p.A.dtype as FloatDType, blocksize: p.blocksize, code: p.code, quantType: null };
  if (!p.nested) return { be, steps, result: () => [out, new QuantState({ ...base, absmax })] };
  const nb = absmax.numel;
  const qabsmax = be.empty([nb], 'uint8');
  const nestedAbsmax = be.empty([Math.ceil(nb / p.blocksize)], 'float32');
  const offset = be.empty([1], 'float32');
  const code2 = quantCodeTable('dynamic');
  steps.push(['nestAbsmax', { absmax, n: nb, nestedBlocksize: p.blocksize, code: code2, qabsmax, nestedAbsmax, offset }]);
  return {
    be,
    steps,
    result: () => {
      absmax.dispose();
      const state2 = new QuantState({ absmax: nestedAbsmax, shape: [nb], dtype: 'float32', blocksize: p.blocksize, code: code2, quantType: null });
      return [out, new QuantState({ ...base, absmax: qabsmax, offset: offset.toFloat32Array()[0]!, state2 })];
    },
  };
}

function runPlan<T>(plan: Plan<T>): T {
  for (const [name, args] of plan.steps) plan.be.run(name, args);
  return plan.result();
}

async function runPlanAsync<T>(plan: Plan<T>): Promise<T> {
  for (const [name, args] of plan.steps) await plan.be.runAsync(name, args);
  return plan.result();
}

/**
 * Quantizes to one uint8 index per element (same shape as `A`) plus a float32 absmax per block.
 *
 * @example
 * const [q, state] = quantizeBlockwise(Float32Array.from([0.5, -1, 0.001]), { blocksize: 64 });
 * const back = dequantizeBlockwise(q, state);
 * @throws LowbitError LOWBIT_E_DTYPE, LOWBIT_E_ARGUMENT (blocksize), LOWBIT_E_SHAPE (code size).
 */
export function quantizeBlockwise(A: TensorInput, opts: QuantizeBlockwiseOptions = {}): [Tensor, QuantState] {
  return runPlan(quantizePlan('quantizeBlockwise', A, opts));
}

/** quantizeBlockwise off the event loop (libuv pool). Same arguments and results. */
export async function quantizeBlockwiseAsync(A: TensorInput, opts: QuantizeBlockwiseOptions = {}): Promise<[Tensor, QuantState]> {
  return runPlanAsync(quantizePlan('quantizeBlockwiseAsync', A, opts));
}

function dequantizePlan(op: string, A: TensorInput, state: QuantState, opts: { outDtype?: FloatDType }): Plan<Tensor> {
  const Q = toTensor(A, op, 'A');
  assertDType(Q, ['uint8'], op, 'A');
  if (!(state instanceof QuantState) || state.quantType !== null) {
    throw new LowbitError(`Expected an 8-bit blockwise QuantState for \`state\` in ${op}`, 'LOWBIT_E_ARGUMENT');
  }
  assertShape(Q.numel === state.numel, op, () => `Expected ${state.numel} codes for shape [${state.shape.join(', ')}] but \`A\` has ${Q.numel}`);
  assertShape(state.absmax.numel === state.numBlocks, op, () => `Expected ${state.numBlocks} block scales but the state has ${state.absmax.numel}`);
  const outDtype = assertOneOf(opts.outDtype ?? state.dtype, FLOAT_DTYPES, op, 'outDtype');
  const be = backendFor(Q);
  const out = be.empty(state.shape, outDtype);
  const args = { codes: Q, absmax: state.absmaxFloat32(), code: state.code, n: state.numel, blocksize: state.blocksize, out, outDtype: DTYPE_CODE[outDtype] };
  return { be, steps: [['dequantizeBlockwise', args]], result: () => out };
}

/**
 * `out[j] = dtype(f32(code[A[j]] * absmax[j / blocksize]))`, shape and dtype of the original.
 *
 * @throws LowbitError LOWBIT_E_DTYPE (A not uint8), LOWBIT_E_SHAPE (A does not match the state),
 *   LOWBIT_E_ARGUMENT (a 4-bit state).
 */
export function dequantizeBlockwise(A: TensorInput, state: QuantState, opts: { outDtype?: FloatDType } = {}): Tensor {
  return runPlan(dequantizePlan('dequantizeBlockwise', A, state, opts));
}

/** dequantizeBlockwise off the event loop. */
export async function dequantizeBlockwiseAsync(A: TensorInput, state: QuantState, opts: { outDtype?: FloatDType } = {}): Promise<Tensor> {
  return runPlanAsync(dequantizePlan('dequantizeBlockwiseAsync', A, state, opts));
}
