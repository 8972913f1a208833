/**
 * int8VectorwiseQuant (spec §5.1): row absmax without the outliers, scale 127/absmax,
 * round half to even, outlier elements (|x| >= threshold) and columns zeroed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LowbitError, Tensor, backendInfo, int8VectorwiseQuant, setCpuIsa } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';
import { decode, encode, randn, roundToF16, vectorwiseQuantRef, type RefDType } from '../reference/int8-ref.js';

const ISAS: ('scalar' | 'avx2')[] = backendInfo().cpu.avx2 ? ['scalar', 'avx2'] : ['scalar'];
afterAll(() => setCpuIsa('auto'));

/** bitsandbytes' own acceptance rule (tests §3): |Δ| <= 1 everywhere, |Δ| > 1... none; ≤ 1/500 off by one. */
function compareCodes(got: Int8Array, want: Int8Array): { offByOne: number; worse: number } {
  let offByOne = 0;
  let worse = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (d === 1) offByOne++;
    else if (d > 1) worse++;
  }
  return { offByOne, worse };
}

function quant(values: Float32Array, rows: number, cols: number, threshold: number, dtype: RefDType = 'float32', bnbCompat = false) {
  const x = Tensor.from(encode(dtype, values), [rows, cols], dtype);
  return int8VectorwiseQuant(x, threshold, { bnbCompat });
}

describe('int8VectorwiseQuant', () => {
  for (const isa of ISAS) {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      it(`${isa} ${dtype}: matches the reference (row stats exact, codes within ±1, ≤ 1/500 off by one)`, () => {
        setCpuIsa(isa);
        const [rows, cols] = [37, 301];
        const raw = randn(rows * cols, 11, 2);
        const values = Float32Array.from(decode(dtype, encode(dtype, raw)));
        const r = quant(values, rows, cols, 0, dtype);
        const ref = vectorwiseQuantRef(values, rows, cols, 0);
        expect(Array.from(r.rowStats.data)).toEqual(Array.from(ref.stats));
        const cmp = compareCodes(r.CA.data as Int8Array, ref.q);
        expect(cmp.worse).toBe(0);
        expect(cmp.offByOne).toBeLessThanOrEqual(rows * cols / 500);
        // Our reference follows the same float32 formula, so it is in fact exact:
        expect(cmp.offByOne).toBe(0);
        expect(r.outlierCols).toBeNull();
        // Each row's largest magnitude maps to ±127 and the stats equal amax(|x|) (bnb test).
        for (let m = 0; m < rows; m++) {
          let amax = 0;
          for (let k = 0; k < cols; k++) amax = Math.max(amax, Math.abs(values[m * cols + k]!));
          expect(r.rowStats.data[m]).toBe(Math.fround(amax));
        }
      });
    }

    it(`${isa}: rounds half to even`, () => {
      setCpuIsa(isa);
      // absmax 127 -> scale exactly 1, so x·scale = x: the .5 cases round to the even integer.
      const values = Float32Array.from([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, 126.5, -126.5]);
      const r = quant(values, 1, values.length, 0);
      expect(Array.from(r.CA.data)).toEqual([127, 0, 2, 2, -0, -2, -2, 3, 126, -126].map((v) => v + 0));
      expect(r.rowStats.data[0]).toBe(127);
    });

    it(`${isa}: outlier columns at exactly the threshold (>=) are zeroed in every row`, () => {
      setCpuIsa(isa);
      const [rows, cols, thr] = [5, 40, 6];
      const values = randn(rows * cols, 21, 1);
      // column 0 and the last column hold exactly 6.0 / -6.0 in one row; column 7 holds 5.999.
      values[2 * cols + 0] = 6;
      values[4 * cols + cols - 1] = -6;
      values[1 * cols + 7] = Math.fround(5.999);
      values[3 * cols + 11] = 1000; // a large outlier must not inflate the row's scale
      const r = quant(values, rows, cols, thr);
      const ref = vectorwiseQuantRef(values, rows, cols, thr);
      expect(Array.from(r.outlierCols!.data)).toEqual([0, 11, cols - 1]);
      expect(ref.outlierCols).toEqual([0, 11, cols - 1]);
      expect(Array.from(r.rowStats.data)).toEqual(Array.from(ref.stats));
      expect(Array.from(r.CA.data)).toEqual(Array.from(ref.q));
      for (let m = 0; m < rows; m++) for (const c of [0, 11, cols - 1]) expect(r.CA.data[m * cols + c]).toBe(0);
      // Non-outlier values in an outlier column still count for the row absmax (spec §5.1).
      expect(r.rowStats.data[3]).toBeLessThan(6);
      // 5.999 is below the threshold: its column is kept and it sets row 1's absmax.
      expect(r.rowStats.data[1]).toBe(Math.fround(5.999));
      expect(r.CA.data[1 * cols + 7]).toBe(127);
    });

    it(`${isa}: a single row zeroes only its outlier elements; all-zero rows give zeros`, () => {
      setCpuIsa(isa);
      const values = Float32Array.from([0, 0, 0, 0, 1, -7, 2, 0.5]);
      const r = quant(values, 2, 4, 6);
      expect(Array.from(r.rowStats.data)).toEqual([0, 2]);
      expect(Array.from(r.CA.data)).toEqual([0, 0, 0, 0, 64, 0, 127, 32]); // only column 1 (the outlier column) is zeroed
      const one = quant(Float32Array.from([1, -7, 2, 0.5]), 1, 4, 6);
      expect(Array.from(one.CA.data)).toEqual([64, 0, 127, 32]); // 1·63.5 = 63.5 -> 64 (even), 0.5·63.5 = 31.75 -> 32
      expect(Array.from(one.outlierCols!.data)).toEqual([1]);
      const zero = quant(new Float32Array(64), 2, 32, 0);
      expect(Array.from(zero.CA.data).every((v) => v === 0)).toBe(true);
      expect(Array.from(zero.rowStats.data)).toEqual([0, 0]);
    });

    it(`${isa}: NaN poisons its row statistic; Inf is an outlier when threshold > 0`, () => {
      setCpuIsa(isa);
      const values = Float32Array.from([1, NaN, 2, 3, /* row 1 */ 4, 5, 6, 7, /* row 2 */ Infinity, 1, 1, 1]);
      const r = quant(values, 3, 4, 0);
      expect(Number.isNaN(r.rowStats.data[0])).toBe(true);
      expect(r.rowStats.data[1]).toBe(7);
      expect(r.rowStats.data[2]).toBe(Infinity);
      expect(Array.from(r.CA.data.slice(0, 4))).toEqual([0, 0, 0, 0]);
      const t = quant(values, 3, 4, 100);
      expect(Array.from(t.outlierCols!.data)).toEqual([0]);
      expect(t.rowStats.data[2]).toBe(1);
    });

    it(`${isa}: bnbCompat quantizes the float16 rounding of the input`, () => {
      setCpuIsa(isa);
      const [rows, cols] = [6, 50];
      const values = randn(rows * cols, 31, 3);
      values[7] = 70000; // beyond float16: becomes Inf, an outlier at threshold 6
      const r = quant(values, rows, cols, 6, 'float32', true);
      const ref = vectorwiseQuantRef(Array.from(values, roundToF16), rows, cols, 6);
      expect(Array.from(r.rowStats.data)).toEqual(Array.from(ref.stats));
      expect(Array.from(r.CA.data)).toEqual(Array.from(ref.q));
      expect(Array.from(r.outlierCols!.data)).toEqual(ref.outlierCols);
    });
  }

  it('scalar and AVX2 paths give identical bits on a wide sweep', ({ skip }) => {
    skip(ISAS.length < 2, 'this CPU has no AVX2: only the scalar path exists');
    for (const [rows, cols, thr] of [[64, 1000, 0], [64, 1000, 2.5], [3, 33, 1]] as const) {
      const values = randn(rows * cols, rows + cols, 1.5);
      setCpuIsa('scalar');
      const a = quant(values, rows, cols, thr);
      setCpuIsa('avx2');
      const b = quant(values, rows, cols, thr);
      expect(Array.from(b.CA.data)).toEqual(Array.from(a.CA.data));
      expect(Array.from(b.rowStats.data)).toEqual(Array.from(a.rowStats.data));
      expect(b.outlierCols && Array.from(b.outlierCols.data)).toEqual(a.outlierCols && Array.from(a.outlierCols.data));
    }
  });

  it('keeps leading dimensions and rejects bad input with typed errors', () => {
    const x = Tensor.from(randn(2 * 3 * 8, 3), [2, 3, 8]);
    const r = int8VectorwiseQuant(x, 0);
    expect(r.CA.shape).toEqual([2, 3, 8]);
    expect(r.rowStats.shape).toEqual([6]);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(LowbitError);
        expect((e as LowbitError).message.length).toBeGreaterThan(20);
        return (e as LowbitError).code;
      }
      return 'no error';
    };
    expect(code(() => int8VectorwiseQuant(x, NaN))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => int8VectorwiseQuant(x, Infinity))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => int8VectorwiseQuant(x, -1))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => int8VectorwiseQuant(Tensor.from(new Int8Array(8), [2, 4]), 0))).toBe('LOWBIT_E_DTYPE');
    expect(code(() => nativeAddon().cpu.int8VectorwiseQuant!({ input: new Float32Array(8), dtype: 0, rows: 2, cols: 4, threshold: NaN, out: new Int8Array(8), rowStats: new Float32Array(2) }))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => nativeAddon().cpu.int8VectorwiseQuant!({ input: new Float32Array(8), dtype: 0, rows: 2, cols: 4, out: new Int8Array(8), rowStats: new Float32Array(1) }))).toBe('LOWBIT_E_SHAPE');
  });
});
