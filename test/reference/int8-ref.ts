/**
 * Independent, deliberately plain TypeScript reference for LLM.int8()
 * (../shared/spec/bitsandbytes-numerics.md §5 and §11). Written from the spec, not from the
 * native code: float32 arithmetic is emulated with Math.fround, fused multiply-add with an
 * exact error-free transformation, float16 / bfloat16 rounding from their definitions.
 * Slow on purpose; keep test shapes modest.
 */
import { uniform } from './quant-ref.js';

const f32 = Math.fround;

// ---- float formats --------------------------------------------------------------------

const scratch = new DataView(new ArrayBuffer(8));

function f32Bits(x: number): number {
  scratch.setFloat32(0, x);
  return scratch.getUint32(0);
}

function f32FromBits(b: number): number {
  scratch.setUint32(0, b >>> 0);
  return scratch.getFloat32(0);
}

/** Round half to even to an integer. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // rounds .5 up
  if (Math.abs(v % 1) === 0.5) return 2 * Math.round(v / 2);
  return r;
}

/** floor(log2(a)) for a finite a > 0, exactly (from the float64 exponent bits). */
function exponentOf(a: number): number {
  scratch.setFloat64(0, a);
  const e = (scratch.getUint16(0) >> 4) & 0x7ff;
  if (e === 0) return exponentOf(a * Math.pow(2, 64)) - 64; // double subnormal
  return e - 1023;
}

/** IEEE binary16 rounding (RNE) of a number, returned as a number; overflow gives ±Infinity. */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity; // 65504 + half an ulp (16) rounds to Inf
  const e = Math.max(exponentOf(a), -14); // binary16 spacing is 2^(e-10), 2^-24 for subnormals
  const ulp = Math.pow(2, e - 10);
  return Math.sign(x) * roundHalfEven(a / ulp) * ulp;
}

/** binary16 bits of a number (RNE). */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const v = Math.abs(roundToF16(x));
  if (v === Infinity) return sign | 0x7c00;
  if (v === 0) return sign;
  if (v < Math.pow(2, -14)) return sign | (v / Math.pow(2, -24));
  const e = exponentOf(v);
  const m = v / Math.pow(2, e) - 1;
  return sign | ((e + 15) << 10) | (m * 1024);
}

export function f16FromBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * Math.pow(2, -24);
  return sign * (1 + m / 1024) * Math.pow(2, e - 15);
}

/** bfloat16 bits of a float32 value (RNE on the dropped 16 bits). */
export function bf16Bits(x: number): number {
  const b = f32Bits(f32(x));
  if (Number.isNaN(x)) return ((b >>> 16) | 0x40) & 0xffff;
  const low = b & 0xffff;
  let hi = b >>> 16;
  if (low > 0x8000 || (low === 0x8000 && (hi & 1) === 1)) hi += 1;
  return hi & 0xffff;
}

export function bf16FromBits(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

export type RefDType = 'float32' | 'float16' | 'bfloat16';

/** The value a tensor of `dtype` holds for the float32 value x. */
export function roundTo(dtype: RefDType, x: number): number {
  if (dtype === 'float16') return roundToF16(x);
  if (dtype === 'bfloat16') return bf16FromBits(bf16Bits(x));
  return f32(x);
}

/** Encodes float values into the storage of `dtype` (Float32Array or Uint16Array bits). */
export function encode(dtype: RefDType, values: ArrayLike<number>): Float32Array | Uint16Array {
  if (dtype === 'float32') return Float32Array.from(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = dtype === 'float16' ? f16Bits(values[i]!) : bf16Bits(values[i]!);
  return out;
}

export function decode(dtype: RefDType, data: ArrayLike<number>): number[] {
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    out[i] = dtype === 'float32' ? data[i]! : dtype === 'float16' ? f16FromBits(data[i]!) : bf16FromBits(data[i]!);
  }
  return out;
}

/** The next float32 after x in the direction of `toward`. */
function nextF32(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) return toward > 0 ? f32FromBits(1) : -f32FromBits(1);
  const b = f32Bits(x);
  const up = toward > x === x > 0;
  return f32FromBits(up ? b + 1 : b - 1);
}

/**
 * Exact float32 fused multiply-add fmaf(a, b, c) for float32 a, b, c. a·b is exact in a
 * double (48 significant bits); s = a·b + c is rounded once to double, and the rounding
 * error is recovered exactly (TwoSum), so the only case needing care is s landing exactly
 * halfway between two float32 values, where the error decides the direction.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  if (!Number.isFinite(s)) return f32(s);
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb);
  const r = f32(s);
  if (err === 0 || r === s) return r; // r === s: s is a float32 and |err| is far below half its ulp
  const other = nextF32(r, s);
  // s exactly halfway between r and `other`: the true value lies on the side of err.
  if (Math.abs(s - r) === Math.abs(other - s)) {
    const towardOther = (other > r) === (err > 0);
    return towardOther ? other : r;
  }
  return r;
}

// ---- LLM.int8() -------------------------------------------------------------------------

export const MM_DEQUANT_CONST = f32FromBits(0x38820610); // f32(1/16129)
export const INV_127 = f32FromBits(0x3c010204); // f32(1/127)

export interface QuantRef {
  q: Int8Array;
  stats: Float32Array;
  outlierCols: number[];
}

/**
 * int8_vectorwise_quant as spec §5.1 / §11 step 2-3, on float32 values already in the
 * precision the quantizer sees (callers round to float16 first for bitsandbytes mode).
 */
export function vectorwiseQuantRef(x: ArrayLike<number>, rows: number, cols: number, threshold: number): QuantRef {
  const sparse = threshold > 0;
  const isOutlierCol = new Array<boolean>(cols).fill(false);
  if (sparse) {
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) if (Math.abs(x[r * cols + k]!) >= threshold) isOutlierCol[k] = true;
  }
  const q = new Int8Array(rows * cols);
  const stats = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let absmax = 0;
    let nan = false;
    for (let k = 0; k < cols; k++) {
      const a = Math.abs(x[r * cols + k]!);
      if (sparse && a >= threshold) continue;
      if (Number.isNaN(a)) nan = true;
      else absmax = Math.max(absmax, a);
    }
    const stat = nan ? NaN : absmax;
    stats[r] = stat;
    const scale = f32(127 / stat);
    for (let k = 0; k < cols; k++) {
      const v = x[r * cols + k]!;
      const zeroed = (sparse && Math.abs(v) >= threshold) || (sparse && rows > 1 && isOutlierCol[k]) || stat === 0;
      const t = f32(v * scale);
      q[r * cols + k] = zeroed || Number.isNaN(t) ? 0 : roundHalfEven(t);
    }
  }
  const outlierCols: number[] = [];
  isOutlierCol.forEach((o, k) => o && outlierCols.push(k));
  return { q, stats, outlierCols };
}

/** C = A·Bᵀ with exact integers (doubles hold every partial sum exactly here). */
export function int8MatmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k]! * b[n * K + k]!;
      c[m * N + n] = s;
    }
  return c;
}

export interface DequantRefOptions {
  bias?: ArrayLike<number> | null; // bias values (already in their dtype's precision)
  biasIsF16?: boolean;
  outDtype?: RefDType;
  bnbCompat?: boolean;
  /** Outlier sum per element, in float32 (S of the spec), or null. */
  outlier?: ((m: number, n: number) => number) | null;
}

/** One output element of the dequant epilogue, as the value stored in outDtype. */
export function dequantValueRef(c: number, row: number, col: number, n: number, m: number, o: DequantRefOptions): number {
  const D = o.outDtype ?? 'float32';
  const v0 = f32(f32(f32(c) * row) * col);
  const bias = o.bias ? o.bias[n]! : 0;
  const s = o.outlier ? o.outlier(m, n) : null;
  if (!o.bnbCompat) {
    let v = fmaf(v0, MM_DEQUANT_CONST, bias);
    if (s !== null) v = f32(v + s);
    return roundTo(D, v);
  }
  let y16: number;
  if (o.bias && o.biasIsF16) {
    y16 = roundToF16(fmaf(v0, MM_DEQUANT_CONST, bias));
  } else {
    y16 = roundToF16(fmaf(v0, MM_DEQUANT_CONST, 0));
    if (o.bias) y16 = roundToF16(f32(y16 + bias));
  }
  let y = roundTo(D, y16);
  if (s !== null) y = roundTo(D, f32(y + roundTo(D, s)));
  return y;
}

export interface LinearRefOptions {
  threshold: number;
  dtype: RefDType;
  bias?: ArrayLike<number> | null;
  biasDtype?: RefDType;
  bnbCompat?: boolean;
}

/**
 * Linear8bitLt forward of spec §11 on activations x (values in their dtype), weight codes
 * CB [N, K] and SCB [N]. Returns the stored output values and the outlier columns.
 */
export function linear8bitRef(
  x: ArrayLike<number>, M: number, K: number, CB: Int8Array, SCB: Float32Array, N: number, o: LinearRefOptions,
): { out: number[]; outlierCols: number[] } {
  const xq = o.bnbCompat ? Array.from(x, (v) => roundToF16(v)) : Array.from(x);
  const { q, stats, outlierCols } = vectorwiseQuantRef(xq, M, K, o.threshold);
  const C = int8MatmulRef(q, CB, M, N, K);
  const D = o.dtype;
  // Dequantized weight columns at the outliers, rounded to the activation dtype.
  const w = outlierCols.map((k) => Array.from({ length: N }, (_, n) => roundTo(D, f32(f32(CB[n * K + k]! * SCB[n]!) * INV_127))));
  const outlier = outlierCols.length
    ? (m: number, n: number) => {
        let s = 0;
        outlierCols.forEach((k, j) => {
          s = fmaf(x[m * K + k]!, w[j]![n]!, s);
        });
        return s;
      }
    : null;
  const out = new Array<number>(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      out[m * N + n] = dequantValueRef(C[m * N + n]!, stats[m]!, SCB[n]!, n, m, {
        bias: o.bias ?? null, biasIsF16: o.biasDtype === 'float16', outDtype: D, bnbCompat: o.bnbCompat, outlier,
      });
    }
  return { out, outlierCols };
}

/** Weight quantization (spec §5.1, threshold 0): CB [N, K] int8 and SCB [N]. */
export function quantizeWeightRef(w: ArrayLike<number>, N: number, K: number): { CB: Int8Array; SCB: Float32Array } {
  const { q, stats } = vectorwiseQuantRef(w, N, K, 0);
  return { CB: q, SCB: stats };
}

/** Normal samples from the shared mulberry32 generator (quant-ref.ts `uniform`), one per pair. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const u = uniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.max(u(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  }
  return out;
}

export function randInt8(n: number, seed: number, min = -128, max = 127): Int8Array {
  const u = uniform(seed);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = min + Math.floor(u() * (max - min + 1));
  return out;
}
