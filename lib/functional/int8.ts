/**
 * LLM.int8() functional ops (bitsandbytes `int8_vectorwise_quant`, `int8_linear_matmul`,
 * `int8_mm_dequant`, `int8_scaled_mm`, `int8_mixed_scaled_mm`) and the fused forward of
 * Linear8bitLt. Numerics: ../shared/spec/bitsandbytes-numerics.md §5 and §11; the formulas
 * are documented once in native/include/lowbit/ops_int8.h.
 *
 * Output precision. bitsandbytes routes every int8 matmul result through float16 (values
 * beyond ±65504 become ±Inf, even for bfloat16/float32 models). lowbit's default computes
 * the result in float32 and rounds once to the activation dtype; `bnbCompat: true`
 * reproduces bitsandbytes' float16 behaviour exactly (activations cast to float16 before
 * quantization, result rounded through float16, non-float16 bias added to the float16
 * result).
 *
 * Non-finite activations: a NaN (below the threshold) makes its row statistic NaN, so that
 * whole output row is NaN; with threshold 0 an ±Inf does the same (its row absmax is Inf);
 * with threshold > 0 an ±Inf is an outlier (|x| >= threshold) and flows through the float
 * outlier path like any other outlier.
 */
import { LowbitError } from '../errors.js';
import { DTYPE_CODE, FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import { Tensor } from '../core/tensor.js';
import { assertBoolean, assertDType, assertShape, assertSameDevice, checkOut, toTensor, type TensorInput } from '../core/validate.js';
import { backendFor } from '../backend/backend.js';
import { nativeAddon } from '../backend/native.js';

/** Largest K with exact int32 accumulation for any int8 operands: 131071·128·128 < 2^31. */
export const INT8_MAX_K = 131071;

export interface Int8VectorwiseQuantResult {
  /** int8, same shape as the input; |q| <= 127. */
  CA: Tensor;
  /** float32 [rows]: the absmax each row was scaled by (rows = all leading dims). */
  rowStats: Tensor;
  /** int32, sorted column indices holding an element with |x| >= threshold; null when threshold is 0. */
  outlierCols: Tensor | null;
}

export interface Int8Options {
  /** Reproduce bitsandbytes' float16 round trip exactly (default false, see the module doc). */
  bnbCompat?: boolean;
}

function checkThreshold(threshold: unknown, op: string): number {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0 || threshold > 3e38) {
    throw new LowbitError(`Expected a finite number >= 0 for \`threshold\` in ${op} but received ${String(threshold)}`, 'LOWBIT_E_ARGUMENT');
  }
  return threshold;
}

function compatFlag(opts: Int8Options | undefined, op: string): boolean {
  return opts?.bnbCompat === undefined ? false : assertBoolean(opts.bnbCompat, op, 'bnbCompat');
}

function lastDim(t: Tensor, op: string, arg: string): number {
  assertShape(t.ndim >= 1, op, () => `Expected at least 1 dimension for \`${arg}\` but received a scalar`);
  return t.shape[t.ndim - 1]!;
}

function checkK(K: number, op: string, arg: string): void {
  assertShape(K >= 1 && K <= INT8_MAX_K, op, () => `Expected the last dimension of \`${arg}\` in [1, ${INT8_MAX_K}] (exact int32 accumulation) but received ${K}`);
}

function checkVector(t: Tensor, length: number, op: string, arg: string, what: string): void {
  assertShape(t.ndim === 1 && t.shape[0] === length, op, () => `Expected \`${arg}\` of shape [${length}] (${what}) but received [${t.shape.join(', ')}]`);
}

/**
 * Row-wise (vector-wise) int8 quantization with LLM.int8() outlier columns.
 *
 * @example
 * const { CA, rowStats, outlierCols } = int8VectorwiseQuant(x, 6.0); // x: float [..., K]
 * @throws LowbitError LOWBIT_E_DTYPE (non-float input), LOWBIT_E_ARGUMENT (bad threshold),
 *   LOWBIT_E_SHAPE (scalar input or empty last dimension)
 */
export function int8VectorwiseQuant(A: TensorInput, threshold = 0, opts?: Int8Options): Int8VectorwiseQuantResult {
  const op = 'int8VectorwiseQuant';
  const a = toTensor(A, op, 'A');
  assertDType(a, FLOAT_DTYPES, op, 'A');
  const thr = checkThreshold(threshold, op);
  const bnbCompat = compatFlag(opts, op);
  const cols = lastDim(a, op, 'A');
  assertShape(cols >= 1, op, () => `Expected a non-empty last dimension for \`A\` but received shape [${a.shape.join(', ')}]`);
  const rows = a.numel / cols;
  const be = backendFor(a);
  be.require('int8VectorwiseQuant', { rows, cols });
  const CA = be.empty(a.shape, 'int8');
  const rowStats = be.empty([rows], 'float32');
  const sparse = thr > 0;
  const colsBuf = sparse ? be.empty([cols], 'int32') : null;
  const count = sparse ? be.empty([1], 'int32') : null;
  be.run('int8VectorwiseQuant', {
    input: a, dtype: DTYPE_CODE[a.dtype], rows, cols, threshold: thr, bnbCompat,
    out: CA, rowStats, ...(sparse ? { outlierCols: colsBuf, outlierCount: count } : {}),
  });
  let outlierCols: Tensor | null = null;
  if (sparse) {
    // The list's length is data-dependent: the count (4 bytes) and the list come to the host
    // here, the one synchronous read of this op on CUDA; the list goes back to A's device.
    const n = (count!.toTypedArray() as Int32Array)[0]!;
    const list = Tensor.from((colsBuf!.toTypedArray() as Int32Array).slice(0, n), [n], 'int32');
    outlierCols = a.device === 'cpu' ? list : list.to(a.device);
    if (outlierCols !== list) list.dispose();
    colsBuf!.dispose();
    count!.dispose();
  }
  return { CA, rowStats, outlierCols };
}

function matmulArgs(A: TensorInput, B: TensorInput, op: string) {
  const a = toTensor(A, op, 'A');
  const b = toTensor(B, op, 'B');
  assertDType(a, ['int8'], op, 'A');
  assertDType(b, ['int8'], op, 'B');
  assertSameDevice(op, a, b);
  assertShape(b.ndim === 2, op, () => `Expected \`B\` of shape [N, K] but received [${b.shape.join(', ')}]`);
  const K = lastDim(a, op, 'A');
  const [N, KB] = b.shape as [number, number];
  assertShape(KB === K, op, () => `Expected \`B\` with K = ${K} columns (the last dimension of \`A\`) but received [${b.shape.join(', ')}]`);
  checkK(K, op, 'A');
  const M = a.numel / K;
  const be = backendFor(a);
  be.require(op, { M, N, K });
  const out = be.empty([...a.shape.slice(0, -1), N], 'int32');
  return { be, out, args: { a, b, M, N, K, out } };
}

/**
 * Exact int32 matrix product `A · Bᵀ` of int8 operands (bitsandbytes' `int8_linear_matmul`),
 * for every K up to INT8_MAX_K (no K % 4 restriction and no float fallback).
 *
 * @example
 * const C = int8LinearMatmul(CA, CB); // CA int8 [..., K], CB int8 [N, K] -> int32 [..., N]
 * @throws LowbitError LOWBIT_E_DTYPE (not int8), LOWBIT_E_SHAPE (K mismatch, K out of range)
 */
export function int8LinearMatmul(A: TensorInput, B: TensorInput): Tensor {
  const { be, out, args } = matmulArgs(A, B, 'int8LinearMatmul');
  if (out.numel > 0) be.run('int8LinearMatmul', args);
  return out;
}

/** Async twin of {@link int8LinearMatmul} (runs on the libuv pool). */
export async function int8LinearMatmulAsync(A: TensorInput, B: TensorInput): Promise<Tensor> {
  const { be, out, args } = matmulArgs(A, B, 'int8LinearMatmul');
  if (out.numel > 0) await be.runAsync('int8LinearMatmul', args);
  return out;
}

function optionalBias(bias: TensorInput | null | undefined, N: number, op: string, device: Tensor): Tensor | null {
  if (bias === undefined || bias === null) return null;
  const t = toTensor(bias, op, 'bias');
  assertDType(t, FLOAT_DTYPES, op, 'bias');
  assertSameDevice(op, device, t);
  checkVector(t, N, op, 'bias', 'one value per output feature');
  return t;
}

export interface Int8MmDequantOptions extends Int8Options {
  /** Output dtype; default float32 (float16 with bnbCompat, like bitsandbytes). */
  dtype?: FloatDType;
}

/**
 * Dequantizes an int32 product: `out = fmaf((C·rowStats[m])·colStats[n], 1/16129, bias[n])`
 * (bitsandbytes' `int8_mm_dequant`, CUDA constant and operation order).
 *
 * @example
 * const y = int8MmDequant(C, SCA, SCB, bias); // float32 [..., N]
 * @throws LowbitError LOWBIT_E_DTYPE, LOWBIT_E_SHAPE (stats or bias of the wrong length)
 */
export function int8MmDequant(C: TensorInput, rowStats: TensorInput, colStats: TensorInput, bias?: TensorInput | null, opts?: Int8MmDequantOptions): Tensor {
  const op = 'int8MmDequant';
  const c = toTensor(C, op, 'C');
  assertDType(c, ['int32'], op, 'C');
  const rs = toTensor(rowStats, op, 'rowStats');
  const cs = toTensor(colStats, op, 'colStats');
  assertDType(rs, ['float32'], op, 'rowStats');
  assertDType(cs, ['float32'], op, 'colStats');
  assertSameDevice(op, c, rs, cs);
  const bnbCompat = compatFlag(opts, op);
  const dtype: FloatDType = opts?.dtype ?? (bnbCompat ? 'float16' : 'float32');
  if (!FLOAT_DTYPES.includes(dtype)) {
    throw new LowbitError(`Expected float32, float16 or bfloat16 for \`dtype\` in ${op} but received ${String(dtype)}`, 'LOWBIT_E_DTYPE');
  }
  const N = lastDim(c, op, 'C');
  const M = N === 0 ? 0 : c.numel / N;
  checkVector(rs, M, op, 'rowStats', 'one value per row of C');
  checkVector(cs, N, op, 'colStats', 'one value per column of C');
  const b = optionalBias(bias, N, op, c);
  const be = backendFor(c);
  be.require(op);
  const out = be.empty(c.shape, dtype);
  if (out.numel > 0) {
    be.run('int8MmDequant', {
      c, rowStats: rs, colStats: cs, M, N, out, outDtype: DTYPE_CODE[dtype], bnbCompat,
      ...(b ? { bias: b, biasDtype: DTYPE_CODE[b.dtype] } : {}),
    });
  }
  return out;
}

function mixedArgs(
  A: TensorInput | null, CA: TensorInput, CB: TensorInput, SCA: TensorInput, SCB: TensorInput,
  outlierCols: TensorInput | null | undefined, bias: TensorInput | null | undefined, dtype: FloatDType | undefined,
  bnbCompat: boolean, op: string,
) {
  const ca = toTensor(CA, op, 'CA');
  const cb = toTensor(CB, op, 'CB');
  assertDType(ca, ['int8'], op, 'CA');
  assertDType(cb, ['int8'], op, 'CB');
  const sca = toTensor(SCA, op, 'SCA');
  const scb = toTensor(SCB, op, 'SCB');
  assertDType(sca, ['float32'], op, 'SCA');
  assertDType(scb, ['float32'], op, 'SCB');
  assertShape(cb.ndim === 2, op, () => `Expected \`CB\` of shape [N, K] but received [${cb.shape.join(', ')}]`);
  const K = lastDim(ca, op, 'CA');
  const [N, KB] = cb.shape as [number, number];
  assertShape(KB === K, op, () => `Expected \`CB\` with K = ${K} columns (the last dimension of \`CA\`) but received [${cb.shape.join(', ')}]`);
  checkK(K, op, 'CA');
  const M = ca.numel / K;
  checkVector(sca, M, op, 'SCA', 'one row statistic per row of CA');
  checkVector(scb, N, op, 'SCB', 'one absmax per weight row');
  let a: Tensor | null = null;
  if (A !== null) {
    a = toTensor(A, op, 'A');
    assertDType(a, FLOAT_DTYPES, op, 'A');
    assertShape(a.numel === ca.numel && lastDim(a, op, 'A') === K, op, () => `Expected \`A\` with the shape of \`CA\` [${ca.shape.join(', ')}] but received [${a!.shape.join(', ')}]`);
  }
  let cols: Tensor | null = null;
  if (outlierCols !== undefined && outlierCols !== null) {
    cols = toTensor(outlierCols, op, 'outlierCols');
    assertDType(cols, ['int32'], op, 'outlierCols');
    assertShape(cols.ndim === 1 && cols.numel <= K, op, () => `Expected \`outlierCols\` as a 1-D list of at most ${K} column indices but received [${cols!.shape.join(', ')}]`);
    if (cols.numel > 0 && a === null) {
      throw new LowbitError(`Expected the original activations \`A\` in ${op} when outlier columns are given`, 'LOWBIT_E_ARGUMENT');
    }
  }
  const outDtype: FloatDType = a ? (a.dtype as FloatDType) : (dtype ?? 'float32');
  const b = optionalBias(bias, N, op, ca);
  assertSameDevice(op, ca, cb, sca, scb, ...(a ? [a] : []), ...(cols ? [cols] : []));
  const be = backendFor(ca);
  be.require('int8MixedScaledMm', { M, N, K });
  const out = be.empty([...ca.shape.slice(0, -1), N], outDtype);
  const numOutliers = cols ? cols.numel : 0;
  const args: Record<string, unknown> = {
    ca, cb, rowStats: sca, scb, M, N, K, xDtype: DTYPE_CODE[outDtype], bnbCompat, out, numOutliers,
    ...(numOutliers > 0 ? { x: a, outlierCols: cols } : {}),
    ...(b ? { bias: b, biasDtype: DTYPE_CODE[b.dtype] } : {}),
  };
  return { be, out, args };
}

/**
 * `int8_mm_dequant(int8_linear_matmul(CA, CB), SCA, SCB, bias)` fused into one pass per
 * output tile (bitsandbytes' `int8_scaled_mm`), in `dtype` (default float32).
 *
 * @throws LowbitError LOWBIT_E_DTYPE, LOWBIT_E_SHAPE
 */
export function int8ScaledMm(CA: TensorInput, CB: TensorInput, SCA: TensorInput, SCB: TensorInput, bias?: TensorInput | null, opts?: Int8MmDequantOptions): Tensor {
  const op = 'int8ScaledMm';
  const { be, out, args } = mixedArgs(null, CA, CB, SCA, SCB, null, bias, opts?.dtype, compatFlag(opts, op), op);
  if (out.numel > 0) be.run('int8MixedScaledMm', args);
  return out;
}

/**
 * The LLM.int8() mixed-precision matmul (bitsandbytes' `int8_mixed_scaled_mm`): the int8
 * product of the quantized activations (outlier columns zeroed) and the weight, dequantized,
 * plus `A[:, outlierCols] · W[:, outlierCols]ᵀ` in float with the dequantized weight columns
 * `(CB·SCB)·(1/127)`. Output dtype = A's dtype.
 *
 * @example
 * const { CA, rowStats, outlierCols } = int8VectorwiseQuant(x, 6);
 * const y = int8MixedScaledMm(x, CA, CB, rowStats, SCB, outlierCols, bias);
 * @throws LowbitError LOWBIT_E_DTYPE, LOWBIT_E_SHAPE, LOWBIT_E_ARGUMENT (unsorted or out-of-range outlier columns)
 */
export function int8MixedScaledMm(
  A: TensorInput, CA: TensorInput, CB: TensorInput, SCA: TensorInput, SCB: TensorInput,
  outlierCols: TensorInput | null, bias?: TensorInput | null, opts?: Int8Options,
): Tensor {
  const op = 'int8MixedScaledMm';
  const { be, out, args } = mixedArgs(A, CA, CB, SCA, SCB, outlierCols, bias, undefined, compatFlag(opts, op), op);
  if (out.numel > 0) be.run('int8MixedScaledMm', args);
  return out;
}

export interface Int8LinearForwardOptions extends Int8Options {
  bias?: TensorInput | null;
  /** Outlier threshold (bitsandbytes `threshold`); 0 (default) disables outlier handling. */
  threshold?: number;
  /**
   * Writes the result into this tensor instead of allocating one (returned as `out`): a Tensor of
   * the result's shape `[..., N]`, dtype (x's) and device, sharing no memory with x, CB, SCB or the
   * bias. For decode loops that keep one output per layer. Every element is overwritten; with
   * the async op, leave it alone until the promise settles. null or undefined: allocate.
   */
  out?: Tensor | null;
}

export interface Int8LinearForwardResult {
  out: Tensor;
  /** Number of outlier columns found in this call (0 when threshold is 0). */
  outlierColumns: number;
}

/**
 * Internal (Linear8bitLt): CB packed once in the tile layout of the active ISA's GEMM
 * (Int8Params.packedWeight). The native op reads it only while that layout is still the one the
 * GEMM reads, else it packs CB per call: the same bits either way.
 */
export interface PackedInt8Weight {
  data: Tensor;
  layout: number;
}

/** The outlier count a forward wrote (0 without a threshold); frees its one-element tensor. */
function takeCount(count: Tensor | null): number {
  if (!count) return 0;
  const n = (count.toTypedArray() as Int32Array)[0]!;
  count.dispose();
  return n;
}

function forwardArgs(x: TensorInput, CB: TensorInput, SCB: TensorInput, opts: Int8LinearForwardOptions | undefined, op: string, packed?: PackedInt8Weight | null) {
  const a = toTensor(x, op, 'x');
  assertDType(a, FLOAT_DTYPES, op, 'x');
  const cb = toTensor(CB, op, 'CB');
  const scb = toTensor(SCB, op, 'SCB');
  assertDType(cb, ['int8'], op, 'CB');
  assertDType(scb, ['float32'], op, 'SCB');
  assertShape(cb.ndim === 2, op, () => `Expected \`CB\` of shape [N, K] but received [${cb.shape.join(', ')}]`);
  const K = lastDim(a, op, 'x');
  const [N, KB] = cb.shape as [number, number];
  assertShape(KB === K, op, () => `Expected the last dimension of \`x\` to be ${KB} (in_features of the weight [${cb.shape.join(', ')}]) but received ${K}`);
  checkK(K, op, 'x');
  checkVector(scb, N, op, 'SCB', 'one absmax per weight row');
  const threshold = checkThreshold(opts?.threshold ?? 0, op);
  const bnbCompat = compatFlag(opts, op);
  const b = optionalBias(opts?.bias, N, op, a);
  assertSameDevice(op, a, cb, scb);
  const M = a.numel / K;
  const be = backendFor(a);
  be.require('int8LinearForward', { M, N, K });
  const outShape = [...a.shape.slice(0, -1), N];
  const out = opts?.out === undefined || opts.out === null
    ? be.empty(outShape, a.dtype)
    : checkOut(opts.out, op, outShape, a.dtype, a.device, { x: a, CB: cb, SCB: scb, bias: b });
  // The outlier count exists only with a threshold (0 outliers otherwise): no allocation per call.
  const count = threshold > 0 ? be.empty([1], 'int32') : null;
  const args = {
    x: a, xDtype: DTYPE_CODE[a.dtype], cb, scb, M, N, K, threshold, bnbCompat, out,
    ...(count ? { outlierCount: count } : {}),
    ...(b ? { bias: b, biasDtype: DTYPE_CODE[b.dtype] } : {}),
    // A copy replaced meanwhile (setCpuIsa, a new weight) is skipped: CB is then packed per call.
    ...(packed && be.kind === 'cpu' && !packed.data.disposed ? { packed: packed.data, packedLayout: packed.layout } : {}),
  };
  return { be, out, count, args };
}

/**
 * The fused Linear8bitLt forward: quantize `x` row-wise (with outlier detection when
 * threshold > 0), int8 GEMM against `CB`, then dequant + bias + outlier contribution in one
 * pass over each output tile. With threshold 0 no outlier work is done at all.
 *
 * @example
 * const { out } = int8LinearForward(x, CB, SCB, { bias, threshold: 6 }); // [..., N], dtype of x
 * @throws LowbitError LOWBIT_E_DTYPE, LOWBIT_E_SHAPE (in_features mismatch), LOWBIT_E_ARGUMENT (threshold)
 */
export function int8LinearForward(x: TensorInput, CB: TensorInput, SCB: TensorInput, opts?: Int8LinearForwardOptions): Int8LinearForwardResult {
  return int8LinearForwardPacked(x, CB, SCB, opts, null);
}

/** Internal: {@link int8LinearForward} with CB's packed copy (Linear8bitLt). */
export function int8LinearForwardPacked(x: TensorInput, CB: TensorInput, SCB: TensorInput, opts: Int8LinearForwardOptions | undefined, packed: PackedInt8Weight | null): Int8LinearForwardResult {
  const { be, out, count, args } = forwardArgs(x, CB, SCB, opts, 'int8LinearForward', packed);
  if (out.numel > 0) be.run('int8LinearForward', args);
  return { out, outlierColumns: takeCount(count) };
}

/** Async twin of {@link int8LinearForward} (runs on the libuv pool). */
export async function int8LinearForwardAsync(x: TensorInput, CB: TensorInput, SCB: TensorInput, opts?: Int8LinearForwardOptions): Promise<Int8LinearForwardResult> {
  return int8LinearForwardPackedAsync(x, CB, SCB, opts, null);
}

/** Internal: async twin of {@link int8LinearForwardPacked}. */
export async function int8LinearForwardPackedAsync(x: TensorInput, CB: TensorInput, SCB: TensorInput, opts: Int8LinearForwardOptions | undefined, packed: PackedInt8Weight | null): Promise<Int8LinearForwardResult> {
  const { be, out, count, args } = forwardArgs(x, CB, SCB, opts, 'int8LinearForward', packed);
  if (out.numel > 0) await be.runAsync('int8LinearForward', args);
  return { out, outlierColumns: takeCount(count) };
}

function packArgs(CB: Tensor) {
  const [N, K] = CB.shape as [number, number];
  const info = nativeAddon().int8WeightLayout({ N, K });
  if (info.layout === 0) return null;
  const be = backendFor(CB);
  const data = be.empty([info.bytes], 'uint8');
  return { be, packed: { data, layout: info.layout }, args: { cb: CB, N, K, layout: info.layout, out: data } };
}

/**
 * Internal (Int8Params): CB [N, K] (CPU, int8) packed in the tile layout the active ISA's GEMM
 * reads, or null when that GEMM reads CB as it is (AVX2, scalar).
 */
export function int8PackWeight(CB: Tensor): PackedInt8Weight | null {
  const a = packArgs(CB);
  if (!a) return null;
  a.be.run('int8PackWeight', a.args);
  return a.packed;
}

/** Internal: async twin of {@link int8PackWeight} (packs on the libuv pool). */
export async function int8PackWeightAsync(CB: Tensor): Promise<PackedInt8Weight | null> {
  const a = packArgs(CB);
  if (!a) return null;
  await a.be.runAsync('int8PackWeight', a.args);
  return a.packed;
}

/** Internal: the layout code the active ISA's GEMM reads and from how many activation rows. */
export function int8WeightLayout(N: number, K: number): { layout: number; minRows: number } {
  return nativeAddon().int8WeightLayout({ N, K });
}
