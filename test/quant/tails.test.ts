// Partial blocks and vector-loop tails, on every CPU kernel path: n = k * blocksize + r for
// r = 1 .. 33 (the widest vector loop, AVX2 dequantize, takes 32 codes; quantize 16 / 8) with the
// block maximum placed at EVERY position of the partial block, so a tail loop that skips or
// double-counts an element changes the block's absmax and every code of the block.
// Also the fused matmul's column and row tails (N, M not multiples of the kernels' tiles).
import { describe, expect, it } from 'vitest';

import { dequantize4bit, dequantizeBlockwise, matmul4bit, quantize4bit, quantizeBlockwise, Tensor, type FloatDType } from '../../lib/index.js';
import { createDynamicMap, randn, refDequantize4bit, refMatmulT, refQuantize4bit, uniform } from '../reference/quant-ref.js';
import { roundTo } from '../reference/int8-ref.js';
import { quantizeBlockwiseSpec } from '../reference/spec-ref.js';
import { hex, ISAS, withIsa } from './helpers.js';

const DYN = createDynamicMap();
const MAX_TAIL = 33; // widest vector step (32) + 1

/** k full blocks then a partial block of r values, all in [-0.5, 0.5) as multiples of 2^-6
 *  (exact in float16 and bfloat16), with +-3 at tail position p. */
function tailInput(bs: number, k: number, r: number, p: number, seed: number): number[] {
  const rand = uniform(seed);
  const x = Array.from({ length: k * bs + r }, () => Math.floor(rand() * 64 - 32) / 64);
  x[k * bs + p] = p % 2 ? -3 : 3;
  return x;
}

function asInput(x: number[], dtype: FloatDType): { t: Tensor; exact: Float32Array } {
  const exact = Float32Array.from(x, (v) => roundTo(dtype, v));
  return { t: Tensor.from(exact, [x.length], 'float32').toDType(dtype), exact };
}

describe.each(ISAS)('tails on the %s path', (isa) => {
  it('quantize4bit / dequantize4bit: block max at every tail position, r = 1..33, float32/16/bf16', () => {
    withIsa(isa, () => {
      for (const bs of [32, 64])
        for (const k of [0, 1])
          for (let r = 1; r <= MAX_TAIL; r++) {
            if (r >= bs) continue;
            for (let p = 0; p < r; p++)
              for (const dtype of k === 1 && bs === 64 ? (['float32', 'float16', 'bfloat16'] as const) : (['float32'] as const))
                for (const type of ['nf4', 'fp4'] as const) {
                  const { t, exact } = asInput(tailInput(bs, k, r, p, r * 100 + p), dtype);
                  const ref = refQuantize4bit(exact, bs, type);
                  const [packed, state] = quantize4bit(t, { quantType: type, blocksize: bs });
                  const where = `${type} ${dtype} bs ${bs} k ${k} r ${r} max at ${p}`;
                  expect(hex(state.absmax.toTypedArray() as Float32Array), where).toBe(hex(ref.absmax));
                  expect(hex(packed.toTypedArray() as Uint8Array), where).toBe(hex(ref.packed));
                  expect(hex(dequantize4bit(packed, state, { outDtype: 'float32' }).toTypedArray() as Float32Array), where).toBe(
                    hex(refDequantize4bit(ref.packed, ref.absmax, exact.length, bs, type)));
                }
          }
    });
  });

  it('quantizeBlockwise / dequantizeBlockwise: block max at every tail position, r = 1..33', () => {
    withIsa(isa, () => {
      for (const k of [0, 1])
        for (let r = 1; r <= MAX_TAIL; r++)
          for (let p = 0; p < r; p++)
            for (const dtype of k === 1 ? (['float32', 'bfloat16'] as const) : (['float32'] as const)) {
              const { t, exact } = asInput(tailInput(64, k, r, p, r * 77 + p), dtype);
              const ref = quantizeBlockwiseSpec(exact, 64, DYN);
              const [q, state] = quantizeBlockwise(t, { blocksize: 64 });
              const where = `${dtype} k ${k} r ${r} max at ${p}`;
              expect(hex(state.absmax.toTypedArray() as Float32Array), where).toBe(hex(ref.absmax));
              expect(hex(q.toTypedArray() as Uint8Array), where).toBe(hex(ref.q));
              const back = dequantizeBlockwise(q, state, { outDtype: 'float32' }).toTypedArray() as Float32Array;
              const refBack = Float32Array.from(ref.q, (c, j) => Math.fround(DYN[c]! * ref.absmax[Math.floor(j / 64)]!));
              expect(hex(back), where).toBe(hex(refBack));
            }
    });
  });

  it('matmul4bit / gemv4bit: a float16 / bfloat16 bias is widened exactly (same bits as its float32 value)', () => {
    const K = 128, N = 13;
    const [packed, state] = quantize4bit(Tensor.from(randn(N * K, 17), [N, K]), { quantType: 'fp4', blocksize: 64 });
    withIsa(isa, () => {
      for (const dt of ['float16', 'bfloat16'] as const) {
        const bias = Tensor.from(randn(N, 18), [N]).toDType(dt);
        const wide = bias.toDType('float32');
        for (const M of [1, 3]) {
          const x = Tensor.from(randn(M * K, M), [M, K]);
          for (const activations of ['float32', 'int8', ...(M === 1 ? (['int16'] as const) : [])] as const) {
            const y = matmul4bit(x, packed, state, bias, { activations }).toTypedArray() as Float32Array;
            expect(hex(y), `${dt} M ${M} ${activations}`).toBe(hex(matmul4bit(x, packed, state, wide, { activations }).toTypedArray() as Float32Array));
          }
        }
      }
    });
  });

  it('matmul4bit: every N and M remainder of the column / row tiles equals the scalar path and a float64 bound', () => {
    const K = 128, bs = 64;
    for (const N of [1, 2, 3, 5, 7, 11, 12, 13, 17, 25, 31, 33])
      for (const M of [1, 2, 3, 5, 9]) {
        const W = randn(N * K, N * 31 + M);
        const x = randn(M * K, M + 1000 * N);
        const [packed, state] = quantize4bit(Tensor.from(W, [N, K]), { quantType: 'nf4', blocksize: bs });
        const y = withIsa(isa, () => matmul4bit(Tensor.from(x, [M, K]), packed, state).toTypedArray() as Float32Array);
        const yScalar = withIsa('scalar', () => matmul4bit(Tensor.from(x, [M, K]), packed, state).toTypedArray() as Float32Array);
        expect(hex(y), `N ${N} M ${M}`).toBe(hex(yScalar));
        // And the path itself against float64 sums of the dequantized weight: every product is
        // exact inside its fma, and a term passes through at most K/8 fma roundings in its lane
        // plus 3 in the lane reduction, each at most 2^-24 relative: |err| <= (K/8 + 3) 2^-24 sum |x w|
        // (first order; the second-order term is below 1e-6 of it, hence the factor).
        const Wd = dequantize4bit(packed, state).toTypedArray() as Float32Array;
        const exact = refMatmulT(x, Wd, M, N, K);
        for (let i = 0; i < M * N; i++) {
          let mag = 0;
          const m = Math.floor(i / N), n = i % N;
          for (let kk = 0; kk < K; kk++) mag += Math.abs(x[m * K + kk]! * Wd[n * K + kk]!);
          expect(Math.abs(y[i]! - exact[i]!), `N ${N} M ${M} i ${i}`).toBeLessThanOrEqual((K / 8 + 3) * 2 ** -24 * mag * (1 + 1e-6));
        }
      }
  });
});
