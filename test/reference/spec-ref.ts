/**
 * Independent references for the parts of the numerics that were checked only by consistency
 * between lowbit's own CPU paths. Written from ../shared/spec/bitsandbytes-numerics.md and, for
 * lowbit's own opt-in int8/int16 activation modes, from their documented contract (the comment
 * on Gemm4bitParams in native/include/lowbit/ops_quant.h and Matmul4bitOptions.activations);
 * nothing is imported from lib/ or native/. float32 arithmetic is Math.fround after each
 * operation; fused multiply-add is the exact fmaf of int8-ref.ts.
 *
 * Also the constructed boundary inputs: values that sit exactly on every NF4 threshold, every
 * FP4 literal, every dynamic-map midpoint and every x.5 rounding tie, so a flipped comparison
 * or rounding rule changes a byte (random data almost never lands on a boundary).
 */
import { fmaf, roundHalfEven } from './int8-ref.js';
import { FP4_LITERALS_SPEC, FP4_SPEC, NF4_SPEC, NF4_THRESHOLDS_SPEC, encode4 } from './quant-ref.js';

const f32 = Math.fround;
const view = new DataView(new ArrayBuffer(4));

/** The next float32 above (dir = 1) or below (dir = -1) a finite float32 x. */
export function nextF32(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * 2 ** -149;
  view.setFloat32(0, x);
  const b = view.getUint32(0);
  view.setUint32(0, (x > 0) === (dir > 0) ? b + 1 : b - 1);
  return view.getFloat32(0);
}

// ---- 8-bit: spec §4.2, dQuantize<0>, transcribed literally ---------------------------------

/**
 * The index of s in a sorted 256-entry code: spec §4.2 step by step, with its `lower` /
 * `upper` values (not only the indices) and its end fix-ups, so its tie rule is the spec's.
 */
export function dQuantizeSpec(s: number, code: ArrayLike<number>): number {
  let pivot = 127, lo = 0, hi = 255;
  let lower = -1, upper = 1;
  for (const step of [64, 32, 16, 8, 4, 2, 1]) {
    if (s > code[pivot]!) {
      lo = pivot;
      lower = code[pivot]!;
      pivot += step;
    } else {
      hi = pivot;
      upper = code[pivot]!;
      pivot -= step;
    }
  }
  const val = code[pivot]!;
  if (hi === 255) upper = code[255]!;
  if (lo === 0) lower = code[0]!;
  if (s > val) return s > f32(f32(upper + val) * 0.5) ? hi : pivot;
  return s < f32(f32(lower + val) * 0.5) ? lo : pivot;
}

function absmaxOf(x: ArrayLike<number>, begin: number, end: number): number {
  let m = 0;
  for (let i = begin; i < end; i++) {
    const v = Math.abs(x[i]!);
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

/** quantize_blockwise (spec §4.2): absmax per block, s = f32(x * f32(1 / absmax)), dQuantizeSpec. */
export function quantizeBlockwiseSpec(x: ArrayLike<number>, blocksize: number, code: ArrayLike<number>): { q: Uint8Array; absmax: Float32Array } {
  const n = x.length;
  const nb = Math.ceil(n / blocksize);
  const q = new Uint8Array(n);
  const absmax = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const begin = b * blocksize, end = Math.min(n, begin + blocksize);
    const am = absmaxOf(x, begin, end);
    absmax[b] = am;
    const inv = f32(1 / am);
    for (let i = begin; i < end; i++) q[i] = dQuantizeSpec(f32(x[i]! * inv), code);
  }
  return { q, absmax };
}

/** dequantize_blockwise (spec §4.3) to float32. */
export function dequantizeBlockwiseSpec(q: ArrayLike<number>, absmax: ArrayLike<number>, blocksize: number, code: ArrayLike<number>): Float32Array {
  const out = new Float32Array(q.length);
  for (let j = 0; j < q.length; j++) out[j] = f32(code[q[j]!]! * absmax[Math.floor(j / blocksize)]!);
  return out;
}

// ---- double quantization: spec §3 (4-bit, nested blocksize 256) and §4.2 nested=True -------

export interface NestedRef {
  /** mean(absmax): summed in float64 in index order, rounded once to float32 (lowbit's documented choice). */
  offset: number;
  /** 8-bit codes of f32(absmax - offset), blockwise with `nestedBlocksize`. */
  qabsmax: Uint8Array;
  /** absmax of the centred scales per nested block. */
  nestedAbsmax: Float32Array;
  /** spec §3.2: f32(f32(code[q] * nestedAbsmax[i / nbs]) + offset). */
  reconstructed: Float32Array;
}

export function nestAbsmaxSpec(absmax: ArrayLike<number>, nestedBlocksize: number, code: ArrayLike<number>): NestedRef {
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) sum += absmax[i]!;
  const offset = absmax.length ? f32(sum / absmax.length) : 0;
  const centred = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) centred[i] = f32(absmax[i]! - offset);
  const { q, absmax: nestedAbsmax } = quantizeBlockwiseSpec(centred, nestedBlocksize, code);
  const reconstructed = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) reconstructed[i] = f32(f32(code[q[i]!]! * nestedAbsmax[Math.floor(i / nestedBlocksize)]!) + offset);
  return { offset, qabsmax: q, nestedAbsmax, reconstructed };
}

// ---- lowbit's int16 / int8 activation modes (ops_quant.h Gemm4bitParams contract) ----------

/** The 4-bit table as integers rne(f32(LUT[c] * scale)). */
function integerTable(type: 'nf4' | 'fp4', scale: number): Int32Array {
  const lut = type === 'nf4' ? NF4_SPEC : FP4_SPEC;
  return Int32Array.from(lut, (v) => roundHalfEven(f32(v * scale)));
}

/** q = rne(f32(x * f32(qmax / amax))) per sub-block of S values (0 when amax == 0); null if not finite. */
function quantizeRow(x: ArrayLike<number>, S: number, qmax: number): { q: Int32Array; amax: number[] } | null {
  const K = x.length;
  const q = new Int32Array(K);
  const amax: number[] = [];
  for (let b = 0; b * S < K; b++) {
    const am = absmaxOf(x, b * S, Math.min(K, (b + 1) * S));
    if (!(am < Infinity)) return null;
    const inv = am > 0 ? f32(qmax / am) : 0;
    for (let k = b * S; k < Math.min(K, (b + 1) * S); k++) q[k] = roundHalfEven(f32(x[k]! * inv));
    amax.push(am);
  }
  return { q, amax };
}

function codeAt(packed: Uint8Array, flat: number): number {
  const byte = packed[flat >> 1]!;
  return flat & 1 ? byte & 15 : byte >> 4;
}

function reduceLanes(acc: number[]): number {
  const t0 = f32(acc[0]! + acc[4]!), t1 = f32(acc[1]! + acc[5]!), t2 = f32(acc[2]! + acc[6]!), t3 = f32(acc[3]! + acc[7]!);
  return f32(f32(t0 + t2) + f32(t1 + t3));
}

/**
 * out[m, n] of matmul4bit with `activations: 'int16'` (M = 1) or `'int8'`, float32 A and
 * output, K % blocksize == 0 (and K % 64 == 0 for int8), finite A. Bit-exact contract:
 *   S = min(blocksize, 64). int16: q = rne(a * f32(16383 / amax)), w = rne(LUT * 16384), lane
 *   L(k) = 4 (t & 1) + ((t >> 2) & 3) with t = k % 32, exact int32 sums per lane and sub-block,
 *   acc[L] = fma(f32(isum), f32(sx * absmax), acc[L]) with sx = f32(f32(amax / 16383) * 2^-14).
 *   int8: q = rne(a * f32(127 / amax)), w = rne(LUT * 127), lane L sums k in [c + 8L, c + 8L + 8)
 *   of every 64-chunk c, sx = f32(amax / 16129). Then t_i = acc[i] + acc[i + 4],
 *   (t0 + t2) + (t1 + t3), + bias.
 */
export function gemm4bitIntRef(
  mode: 'int16' | 'int8', A: Float32Array, M: number, packed: Uint8Array, absmax: ArrayLike<number>,
  N: number, K: number, blocksize: number, type: 'nf4' | 'fp4', bias?: Float32Array | null,
): Float32Array {
  const S = Math.min(blocksize, 64);
  const w = integerTable(type, mode === 'int16' ? 16384 : 127);
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    const row = A.subarray(m * K, (m + 1) * K);
    const qr = quantizeRow(row, S, mode === 'int16' ? 16383 : 127);
    if (!qr) throw new Error('gemm4bitIntRef: the modes apply to finite rows only');
    const sx = qr.amax.map((am) => (mode === 'int16' ? f32(f32(am / 16383) * 2 ** -14) : f32(am / 16129)));
    for (let n = 0; n < N; n++) {
      const acc = [0, 0, 0, 0, 0, 0, 0, 0];
      if (mode === 'int16') {
        for (let b = 0; b * S < K; b++) {
          const isum = [0, 0, 0, 0, 0, 0, 0, 0];
          for (let k = b * S; k < (b + 1) * S; k++) {
            const t = k % 32;
            isum[4 * (t & 1) + ((t >> 2) & 3)]! += qr.q[k]! * w[codeAt(packed, n * K + k)]!;
          }
          const scale = f32(sx[b]! * absmax[Math.floor((n * K + b * S) / blocksize)]!);
          for (let L = 0; L < 8; L++) acc[L] = fmaf(f32(isum[L]!), scale, acc[L]!);
        }
      } else {
        for (let c = 0; c < K; c += 64) {
          for (let L = 0; L < 8; L++) {
            const k0 = c + 8 * L;
            let isum = 0;
            for (let k = k0; k < k0 + 8; k++) isum += qr.q[k]! * w[codeAt(packed, n * K + k)]!;
            const scale = f32(sx[Math.floor(k0 / S)]! * absmax[Math.floor((n * K + k0) / blocksize)]!);
            acc[L] = fmaf(f32(isum), scale, acc[L]!);
          }
        }
      }
      let s = reduceLanes(acc);
      if (bias) s = f32(s + bias[n]!);
      out[m * N + n] = s;
    }
  }
  return out;
}

// ---- constructed boundary inputs --------------------------------------------------------------

/** s, the float32 values just below and just above it. */
function around(s: number): number[] {
  return [nextF32(s, -1), s, nextF32(s, 1)];
}

/**
 * Scaled values that sit on every decision boundary of the 4-bit encoders: each NF4 threshold
 * (spec §2.3 hex table), each FP4 literal with both signs, the table values themselves, +-0,
 * each with its float32 neighbours. All are in [-1, 1].
 */
export function boundaryValues4bit(): number[] {
  const v: number[] = [0, -0, 1, -1];
  for (const t of NF4_THRESHOLDS_SPEC) v.push(...around(t));
  for (const t of FP4_LITERALS_SPEC) v.push(...around(t), ...around(-t));
  for (const c of NF4_SPEC) v.push(c);
  for (const c of FP4_SPEC) v.push(c);
  return v.filter((x) => Math.abs(x) <= 1);
}

/** Every midpoint f32(f32(code[i] + code[i + 1]) * 0.5) of the map, with its neighbours, and the code values. */
export function boundaryValuesDynamic(code: ArrayLike<number>): number[] {
  const v: number[] = [0, -0, 1];
  for (let i = 0; i < 255; i++) v.push(...around(f32(f32(code[i]! + code[i + 1]!) * 0.5)), code[i]!);
  return v.filter((x) => Math.abs(x) <= 1);
}

/**
 * Lays `values` (scaled values, |v| <= 1) into blocks of `blocksize` whose first element is
 * `scale` (the block maximum), times `scale`, so that with scale = 2^e the kernel's
 * s = x * (1 / absmax) is exactly the value (1 / 2^e is exact). Values that do not fill the last
 * block leave it partial.
 */
export function layIntoBlocks(values: number[], blocksize: number, scale = 1): Float32Array {
  const perBlock = blocksize - 1;
  const nb = Math.max(1, Math.ceil(values.length / perBlock));
  const n = (nb - 1) * blocksize + 1 + (values.length - (nb - 1) * perBlock);
  const x = new Float32Array(n);
  for (let b = 0, j = 0; b < nb; b++) {
    x[b * blocksize] = scale;
    for (let i = 1; i < blocksize && j < values.length; i++) x[b * blocksize + i] = f32(values[j++]! * scale);
  }
  return x;
}

/**
 * An activation row of K values (K a multiple of S) where every sub-block of S has its maximum
 * `qmax * 2^e` and the other values at (j + 0.5) * 2^e (and their negatives), so x * f32(qmax /
 * amax) = j + 0.5 exactly: a round-to-nearest-even tie at every element, with even and odd j.
 */
export function tiesRow(K: number, S: number, qmax: number, seed: number): Float32Array {
  const x = new Float32Array(K);
  for (let b = 0; b * S < K; b++) {
    const e = ((b * 7 + seed) % 9) - 4;
    const p = 2 ** e;
    for (let i = 0; i < S; i++) {
      const j = (i * 37 + b * 11 + seed) % Math.floor(qmax - 1);
      const sign = (i + b) % 2 ? -1 : 1;
      x[b * S + i] = i === (b * 5) % S ? sign * qmax * p : sign * (j + 0.5) * p;
    }
  }
  return x;
}

export { encode4 };
