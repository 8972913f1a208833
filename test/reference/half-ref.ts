/**
 * Independent float16 / bfloat16 references for the tests, written from the IEEE 754
 * definitions with float64 arithmetic (not from lowbit's bit-manipulation code).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

export function bitsOfF32(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** Round half to even of a non-negative double. */
function roundHalfEven(q: number): number {
  const fl = Math.floor(q);
  const diff = q - fl;
  if (diff > 0.5) return fl + 1;
  if (diff < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/** Decodes binary16 bits into a number (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Encodes a float32 value into binary16 bits, round to nearest even (NaN: quiet, payload top bits kept). */
export function numberToF16Bits(x: number, f32bits = bitsOfF32(x)): number {
  const signBit = f32bits & 0x80000000 ? 0x8000 : 0;
  if (Number.isNaN(x)) return signBit | 0x7e00 | ((f32bits & 0x7fffff) >>> 13);
  const a = Math.abs(x);
  if (a === Infinity) return signBit | 0x7c00;
  // Largest finite half is 65504; halfway to the next binade step (65520) rounds to Inf (even).
  if (a >= 65520) return signBit | 0x7c00;
  if (a < 2 ** -14) {
    const q = roundHalfEven(a / 2 ** -24); // subnormal units; 1024 becomes the smallest normal
    return signBit | q;
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e += 1;
  }
  if (e > 15) return signBit | 0x7c00;
  return signBit | ((e + 15) << 10) | m;
}

/** Encodes a float32 value into bfloat16 bits by choosing the nearer neighbour (ties to even). */
export function numberToBf16Bits(x: number, bits = bitsOfF32(x)): number {
  if (Number.isNaN(x)) return ((bits >>> 16) | 0x0040) & 0xffff;
  const lo = bits >>> 16; // truncation toward zero in magnitude
  const loVal = f32FromBits(lo << 16);
  if (loVal === x) return lo;
  const hi = (lo + 1) & 0xffff; // next magnitude (may become Inf)
  // Past the largest finite bfloat16 the next step is 2^128: rounding there overflows to Inf.
  const hiRaw = f32FromBits(hi << 16);
  const hiVal = Number.isFinite(hiRaw) ? hiRaw : Math.sign(x) * 2 ** 128;
  const dLo = Math.abs(x - loVal);
  const dHi = Math.abs(hiVal - x);
  if (dLo < dHi) return lo;
  if (dHi < dLo) return hi;
  return lo % 2 === 0 ? lo : hi;
}
