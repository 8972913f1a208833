/**
 * Independent, slow TypeScript reference for the 4-bit / 8-bit blockwise numerics, written
 * from ../shared/spec/bitsandbytes-numerics.md (not from lowbit's native code): tables as the
 * spec's hex, thresholds as the spec's formulas / literals, the 8-bit index as an argmin, the
 * dynamic map regenerated with the spec's create_dynamic_map algorithm, float64 matmuls.
 */
import { createHash } from 'node:crypto';

const f32 = Math.fround;

function fromHex(words: string): Float32Array {
  const hex = words.trim().split(/\s+/);
  const u = new Uint32Array(hex.map((h) => parseInt(h, 16)));
  return new Float32Array(u.buffer);
}

/** spec §1.1 */
export const NF4_SPEC = fromHex(
  'bf800000 bf3239b1 bf066b30 beca32a0 be91a24d be3d353f bdba7871 00000000 3da2faff 3e24cae3 3e7c04dd 3ead033a 3ee1a4b8 3f1007ab 3f3913b3 3f800000',
);
/** spec §1.2, code order */
export const FP4_SPEC = fromHex(
  '00000000 3baaaaab 3f2aaaab 3f800000 3eaaaaab 3f000000 3e2aaaab 3e800000 80000000 bbaaaaab bf2aaaab bf800000 beaaaaab bf000000 be2aaaab be800000',
);
/** spec §2.3 NF4 thresholds table (hex) */
export const NF4_THRESHOLDS_SPEC = fromHex(
  'bf591cd8 bf1c5270 beeb8480 beadea76 be703cec be0d38bc bd3a7871 3d22faff 3df64862 3e5067e0 3e9582d4 3ec753f9 3f006d04 3f248daf 3f5c89da',
);
/** spec §2.3 FP4 literal table (hex), ascending magnitude splits */
export const FP4_LITERALS_SPEC = fromHex('3b2aaab9 3db00000 3e555555 3e955555 3ed55556 3f155550 3f555555');
/** magnitude order of FP4 codes, spec §2.3 */
const FP4_MAG_ORDER = [0, 1, 6, 7, 4, 5, 2, 3];

export const SHA256 = {
  nf4: '8501941daa1b8a90ad1bbfeb632e5101b5dddbc4bb52d6e55abcfd777e60c06a',
  fp4: '39af60562e49a4f14fa01b864d62e6cbf0693a3ecf51e7861fc54259abb16237',
  dynamic: 'e732639a65f497b4ad684bb166a4467708255edd5207757de8b8f0c7e1fda89c',
};

export function sha256OfFloats(a: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}

/** spec §4.1 create_dynamic_map(signed=True): PyTorch linspace with single-rounding elements. */
export function createDynamicMap(): Float32Array {
  const linspace = (start: number, end: number, steps: number): number[] => {
    const s = f32(start), e = f32(end);
    const step = f32(f32(e - s) / (steps - 1));
    const half = Math.floor(steps / 2);
    const out: number[] = [];
    for (let k = 0; k < steps; k++) out.push(k < half ? f32(s + step * k) : f32(e - step * (steps - 1 - k)));
    return out;
  };
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const b = linspace(0.1, 1.0, 2 ** i + 1);
    const means: number[] = [];
    for (let k = 0; k < b.length - 1; k++) means.push(f32(f32(b[k]! + b[k + 1]!) / 2));
    const scale = f32(10 ** (i - 6));
    for (const mu of means) data.push(f32(scale * mu));
    for (const mu of means) data.push(f32(-scale * mu));
  }
  data.push(0, 1);
  data.sort((x, y) => x - y);
  return Float32Array.from(data);
}

function absmaxOf(x: Float32Array, begin: number, end: number): number {
  let m = 0;
  for (let i = begin; i < end; i++) {
    const v = Math.abs(x[i]!);
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

/** Code of a scaled value, spec §2.3 (count formulation; NaN -> 0). */
export function encode4(s: number, type: 'nf4' | 'fp4'): number {
  if (type === 'nf4') {
    let c = 0;
    for (const t of NF4_THRESHOLDS_SPEC) if (s > t) c++;
    return c;
  }
  const sign = s < 0 ? 8 : 0;
  const m = Math.abs(s);
  let r = 0;
  for (const t of FP4_LITERALS_SPEC) if (m > t) r++;
  return FP4_MAG_ORDER[r]! + sign;
}

export function refQuantize4bit(x: Float32Array, blocksize: number, type: 'nf4' | 'fp4'): { packed: Uint8Array; absmax: Float32Array } {
  const n = x.length;
  const nb = Math.ceil(n / blocksize);
  const absmax = new Float32Array(nb);
  const codes = new Uint8Array(n + 1);
  for (let b = 0; b < nb; b++) {
    const begin = b * blocksize, end = Math.min(n, begin + blocksize);
    const am = absmaxOf(x, begin, end);
    absmax[b] = am;
    const inv = f32(1 / am);
    for (let i = begin; i < end; i++) codes[i] = encode4(f32(x[i]! * inv), type);
    if (end === n && n % 2 === 1) codes[n] = encode4(f32(0 * inv), type);
  }
  const packed = new Uint8Array(Math.ceil(n / 2));
  for (let i = 0; i < packed.length; i++) packed[i] = (codes[2 * i]! << 4) | codes[2 * i + 1]!;
  return { packed, absmax };
}

export function refDequantize4bit(packed: Uint8Array, absmax: Float32Array, n: number, blocksize: number, type: 'nf4' | 'fp4'): Float32Array {
  const lut = type === 'nf4' ? NF4_SPEC : FP4_SPEC;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const byte = packed[j >> 1]!;
    const code = j & 1 ? byte & 15 : byte >> 4;
    out[j] = f32(lut[code]! * absmax[Math.floor(j / blocksize)]!);
  }
  return out;
}

/** 8-bit blockwise, index = argmin |s - code| (spec §4.2: equals the kernel's search off ties). */
export function refQuantizeBlockwise(x: Float32Array, blocksize: number, code: Float32Array): { q: Uint8Array; absmax: Float32Array } {
  const n = x.length;
  const nb = Math.ceil(n / blocksize);
  const absmax = new Float32Array(nb);
  const q = new Uint8Array(n);
  for (let b = 0; b < nb; b++) {
    const begin = b * blocksize, end = Math.min(n, begin + blocksize);
    const am = absmaxOf(x, begin, end);
    absmax[b] = am;
    const inv = f32(1 / am);
    for (let i = begin; i < end; i++) {
      const s = f32(x[i]! * inv);
      let best = 0, bestD = Infinity;
      for (let c = 0; c < 256; c++) {
        const d = Math.abs(s - code[c]!);
        if (d < bestD) { bestD = d; best = c; }
      }
      q[i] = best;
    }
  }
  return { q, absmax };
}

/** Y[m, n] = sum_k A[m, k] * W[n, k] (+ bias) in float64. */
export function refMatmulT(A: ArrayLike<number>, W: ArrayLike<number>, M: number, N: number, K: number, bias?: ArrayLike<number> | null): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * K + k]! * W[n * K + k]!;
      out[m * N + n] = s + (bias ? bias[n]! : 0);
    }
  return out;
}

/** Deterministic N(0, 1) samples (mulberry32 + Box-Muller). */
export function randn(n: number, seed: number): Float32Array {
  const rand = uniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(rand(), 1e-12), u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Deterministic uniform [0, 1) generator. */
export function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function meanAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

export function meanRelErr(a: ArrayLike<number>, b: ArrayLike<number>, eps: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!) / (Math.abs(a[i]!) + eps);
  return s / a.length;
}
