// The scalar C++ LLM.int8() reference (native/cpu/ref/int8_linear_ref.cc, reached through the
// addon's `reference: true` flag) is the oracle the fast kernels are meant to match bit for bit.
// Here every int8 op runs both ways on every CPU kernel path, over the options that change the
// numerics (dtypes, bnbCompat, thresholds with outliers, bias, NaN rows, shapes that leave
// vector and tile tails), and the outputs must be the same bytes.
import { describe, expect, it } from 'vitest';

import { nativeAddon } from '../../lib/backend/native.js';
import { randInt8, randn } from '../reference/int8-ref.js';
import { hex, ISAS, withIsa } from '../quant/helpers.js';

const cpu = nativeAddon().cpu;
const DT = { float32: 0, float16: 1, bfloat16: 2 } as const; // DType codes of native/include/lowbit/dtype.h
type D = keyof typeof DT;

/** Float data as the raw storage of `dtype` (float16 / bfloat16 bits by truncation: any bits are valid inputs). */
function storage(x: Float32Array, dtype: D): Float32Array | Uint16Array {
  if (dtype === 'float32') return x;
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  return dtype === 'bfloat16' ? Uint16Array.from(u, (b) => b >>> 16) : Uint16Array.from(x, (v) => f16Trunc(v));
}
function f16Trunc(v: number): number {
  const s = v < 0 ? 0x8000 : 0;
  const a = Math.min(Math.abs(v), 65504);
  if (a < 2 ** -14) return s | Math.floor(a / 2 ** -24);
  const e = Math.floor(Math.log2(a));
  return s | ((e + 15) << 10) | Math.floor((a / 2 ** e - 1) * 1024);
}
function outOf(dtype: D, n: number): Float32Array | Uint16Array {
  return dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n);
}

/** Runs `op` with `make()` fresh outputs twice (fast, reference) and compares every output buffer. */
function bothWays(op: keyof typeof cpu, make: () => Record<string, unknown>, outputs: string[], where: string): void {
  const fast = make(), ref: Record<string, unknown> = { ...make(), reference: true };
  (cpu[op] as (o: Record<string, unknown>) => void)(fast);
  (cpu[op] as (o: Record<string, unknown>) => void)(ref);
  for (const k of outputs) expect(hex(fast[k] as ArrayBufferView), `${where}: ${k}`).toBe(hex(ref[k] as ArrayBufferView));
}

const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 7, 33], [3, 17, 64], [5, 31, 130], [8, 48, 257], [17, 9, 512]];

// amx-emulated: the AMX-INT8 tiles on their C++ twins (M >= 8), on every machine.
describe.each([...ISAS, 'amx-emulated' as const])('int8 ops: dispatched kernels == scalar reference on the %s path', (isa) => {
  it('int8VectorwiseQuant (dtypes, bnbCompat, thresholds with outliers, NaN rows)', () => {
    withIsa(isa, () => {
      for (const [rows, , cols] of SHAPES)
        for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
          for (const bnbCompat of [false, true])
            for (const threshold of [0, 2.5]) {
              const x = randn(rows * cols, rows * 131 + cols, 1.5);
              if (rows > 3) x[cols + 2] = NaN;
              const input = storage(x, dtype);
              bothWays('int8VectorwiseQuant', () => ({
                input, dtype: DT[dtype], rows, cols, threshold, bnbCompat, out: new Int8Array(rows * cols), rowStats: new Float32Array(rows),
                ...(threshold > 0 ? { outlierCols: new Int32Array(cols), outlierCount: new Int32Array(1) } : {}),
              }), threshold > 0 ? ['out', 'rowStats', 'outlierCols', 'outlierCount'] : ['out', 'rowStats'], `${rows}x${cols} ${dtype} bnb ${bnbCompat} t ${threshold}`);
            }
    });
  });

  it('int8VectorwiseQuant tails: cols = 32k + r (r = 1..33) with the row maximum at every tail position', () => {
    // The vector loop takes 32 columns at a time; the row maximum in the scalar tail sets the
    // row statistic, so a tail element skipped or scaled differently changes bytes.
    withIsa(isa, () => {
      for (const k of [0, 1])
        for (let r = 1; r <= 33; r++)
          for (let p = 0; p < r; p++) {
            const cols = 32 * k + r, rows = 2;
            const x = randn(rows * cols, cols * 64 + p, 0.5);
            for (let row = 0; row < rows; row++) x[row * cols + 32 * k + p] = row ? -4 : 4;
            bothWays('int8VectorwiseQuant', () => ({
              input: x, dtype: DT.float32, rows, cols, threshold: 0, out: new Int8Array(rows * cols), rowStats: new Float32Array(rows),
            }), ['out', 'rowStats'], `cols ${cols} max at ${32 * k + p}`);
          }
    });
  });

  it('int8LinearMatmul (exact int32, full int8 range)', () => {
    withIsa(isa, () => {
      for (const [M, N, K] of SHAPES) {
        const a = randInt8(M * K, M + K), b = randInt8(N * K, N + 7 * K);
        bothWays('int8LinearMatmul', () => ({ a, b, M, N, K, out: new Int32Array(M * N) }), ['out'], `${M}x${N}x${K}`);
      }
    });
  });

  it('int8MmDequant (out dtypes, bias dtypes, bnbCompat)', () => {
    withIsa(isa, () => {
      for (const [M, N] of SHAPES)
        for (const outDtype of ['float32', 'float16', 'bfloat16'] as const)
          for (const bnbCompat of [false, true])
            for (const biasDtype of [null, 'float32', 'float16'] as const) {
              const c = Int32Array.from(randn(M * N, M * N + 3, 40000), Math.round);
              const rowStats = Float32Array.from(randn(M, M + 1), (v) => Math.abs(v) * 3 + 0.1);
              const colStats = Float32Array.from(randn(N, N + 2), (v) => Math.abs(v) * 3 + 0.1);
              const bias = biasDtype ? storage(randn(N, N + 9), biasDtype) : null;
              bothWays('int8MmDequant', () => ({
                c, rowStats, colStats, M, N, outDtype: DT[outDtype], bnbCompat, out: outOf(outDtype, M * N),
                ...(bias ? { bias, biasDtype: DT[biasDtype!] } : {}),
              }), ['out'], `${M}x${N} ${outDtype} bnb ${bnbCompat} bias ${biasDtype}`);
            }
    });
  });

  it('int8LinearForward and int8MixedScaledMm (thresholds, outlier columns, bias, dtypes)', () => {
    withIsa(isa, () => {
      for (const [M, N, K] of SHAPES)
        for (const dtype of ['float32', 'float16'] as const)
          for (const bnbCompat of [false, true])
            for (const threshold of [0, 2.0]) {
              const x = storage(randn(M * K, M * 7 + K, 1.2), dtype);
              const cb = randInt8(N * K, N * 3 + K, -127, 127);
              const scb = Float32Array.from(randn(N, N + K), (v) => Math.abs(v) + 0.25);
              const bias = storage(randn(N, 11), 'float32');
              const where = `${M}x${N}x${K} ${dtype} bnb ${bnbCompat} t ${threshold}`;
              bothWays('int8LinearForward', () => ({
                x, xDtype: DT[dtype], cb, scb, M, N, K, threshold, bnbCompat, bias, biasDtype: DT.float32, out: outOf(dtype, M * N), outlierCount: new Int32Array(1),
              }), ['out', 'outlierCount'], where);
              const ca = randInt8(M * K, M + 5 * K, -127, 127);
              const rowStats = Float32Array.from(randn(M, M + 4), (v) => Math.abs(v) * 2 + 0.1);
              const outlierCols = Int32Array.from({ length: Math.min(3, K) }, (_, i) => (i * 5 + 1) % K);
              const unique = Int32Array.from(new Set(outlierCols));
              bothWays('int8MixedScaledMm', () => ({
                ca, rowStats, cb, scb, M, N, K, xDtype: DT[dtype], bnbCompat, out: outOf(dtype, M * N), bias, biasDtype: DT.float32,
                ...(threshold > 0 ? { numOutliers: unique.length, outlierCols: unique, x } : {}),
              }), ['out'], where);
            }
    });
  });
});
