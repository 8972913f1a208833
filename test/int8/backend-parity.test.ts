/**
 * One parity spec for the LLM.int8() ops, run on every backend (test/int8/backends.ts): each
 * result must carry the same bits as the CPU scalar path, which test/int8/{quant,matmul,dequant,
 * linear}.test.ts check against independent references. On CUDA this covers both tile
 * configurations of the tensor-core GEMM (M <= 16 and M > 16), ragged M, N, K (K not a multiple of
 * 16 or 32, K = 1), int8 -128, thresholds 0 and 6 with outlier columns at the start, the end and
 * side by side, float16 / bfloat16 / float32 and bnbCompat.
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  Tensor,
  int8LinearForward,
  int8LinearForwardAsync,
  int8LinearMatmul,
  int8MixedScaledMm,
  int8MmDequant,
  int8VectorwiseQuant,
  type FloatDType,
} from '../../lib/index.js';
import { encode, randInt8, randn } from '../reference/int8-ref.js';
import { ORACLE, bytesOf, int8Backends, onBackend, restoreDefaults, type Int8Backend } from './backends.js';

afterAll(restoreDefaults);

const BACKENDS = int8Backends().filter((b) => b !== ORACLE);
const MS = [1, 3, 16, 17, 130];
const NS = [1, 8, 33, 257];
const KS = [1, 3, 31, 33, 4099];
const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** Activations [M, K] with outliers (|x| >= 6) in columns 0, K-1 and the adjacent pair K/2, K/2+1. */
function activations(M: number, K: number, dtype: FloatDType, seed: number): Tensor {
  const v = randn(M * K, seed, 1.5);
  for (let i = 0; i < v.length; i++) v[i] = Math.max(-5.5, Math.min(5.5, v[i]!));
  const set = (m: number, k: number, x: number) => {
    if (m < M && k >= 0 && k < K) v[m * K + k] = x;
  };
  set(0, 0, 9.5);
  set(M - 1, K - 1, -7.25);
  set(Math.floor(M / 2), Math.floor(K / 2), 6); // exactly the threshold: an outlier (>=)
  set(Math.floor(M / 3), Math.floor(K / 2) + 1, -12);
  return Tensor.from(encode(dtype, v), [M, K], dtype);
}

function weight(N: number, K: number, seed: number): { CB: Tensor; SCB: Tensor } {
  const cb = randInt8(N * K, seed);
  for (let n = 0; n < N; n++) cb[n * K] = -128;
  const scb = Float32Array.from(randn(N, seed + 1), (x) => 0.05 + Math.abs(x));
  return { CB: Tensor.from(cb, [N, K], 'int8'), SCB: Tensor.from(scb, [N], 'float32') };
}

function expectSame(got: Tensor | null, want: Tensor | null, what: string): void {
  if (want === null || got === null) {
    expect(got, what).toBe(want);
    return;
  }
  expect(got.dtype, what).toBe(want.dtype);
  expect(got.shape, what).toEqual(want.shape);
  expect(bytesOf(got).equals(bytesOf(want)), `${what}: bytes differ`).toBe(true);
}

/** Runs `op` on the oracle and on `be` (inputs copied to its device) and returns both. */
function both<T>(be: Int8Backend, inputs: Tensor[], op: (...t: Tensor[]) => T): [T, T] {
  ORACLE.use();
  const want = op(...inputs);
  be.use();
  const moved = inputs.map((t) => onBackend(be, t));
  const got = op(...moved);
  for (let i = 0; i < moved.length; i++) if (moved[i] !== inputs[i]) moved[i]!.dispose();
  return [got, want];
}

for (const be of BACKENDS) {
  describe(`int8 ops on ${be.name} are bit-identical to the cpu scalar path`, () => {
    for (const dtype of DTYPES) {
      for (const threshold of [0, 6]) {
        it(`int8VectorwiseQuant ${dtype} threshold ${threshold}`, () => {
          for (const M of MS) {
            for (const K of KS) {
              const x = activations(M, K, dtype, M * 100 + K);
              for (const bnbCompat of [false, true]) {
                const [got, want] = both(be, [x], (t) => int8VectorwiseQuant(t, threshold, { bnbCompat }));
                const what = `${M}x${K}${bnbCompat ? ' compat' : ''}`;
                expectSame(got.CA, want.CA, `${what} CA`);
                expectSame(got.rowStats, want.rowStats, `${what} rowStats`);
                expectSame(got.outlierCols, want.outlierCols, `${what} outlierCols`);
              }
            }
          }
        });
      }
    }

    it('int8LinearMatmul over every M, N, K of the parity grid (int8 -128 included)', () => {
      for (const M of MS) {
        for (const N of NS) {
          for (const K of KS) {
            const A = Tensor.from(randInt8(M * K, M + K), [M, K], 'int8');
            const { CB } = weight(N, K, N + K);
            const [got, want] = both(be, [A, CB], (a, b) => int8LinearMatmul(a!, b!));
            expectSame(got, want, `${M}x${N}x${K}`);
          }
        }
      }
    });

    it('int8MmDequant with every output dtype, bias dtype and bnbCompat', () => {
      const [M, N] = [17, 33];
      const C = Tensor.from(Int32Array.from(randInt8(M * N, 3), (v, i) => v * (1 + (i % 9000))), [M, N], 'int32');
      const rs = Tensor.from(Float32Array.from(randn(M, 4), (x) => 0.1 + Math.abs(x)), [M], 'float32');
      const cs = Tensor.from(Float32Array.from(randn(N, 5), (x) => 0.1 + Math.abs(x)), [N], 'float32');
      for (const dtype of DTYPES) {
        for (const biasDtype of [null, ...DTYPES]) {
          for (const bnbCompat of [false, true]) {
            const bias = biasDtype ? Tensor.from(encode(biasDtype, randn(N, 6, 3)), [N], biasDtype) : null;
            const inputs = bias ? [C, rs, cs, bias] : [C, rs, cs];
            const [got, want] = both(be, inputs, (c, r, s, b) => int8MmDequant(c!, r!, s!, b ?? null, { dtype, bnbCompat }));
            expectSame(got, want, `${dtype} bias ${biasDtype} ${bnbCompat}`);
          }
        }
      }
    });

    it('int8MixedScaledMm with outlier columns at the start, the end and side by side', () => {
      for (const dtype of DTYPES) {
        for (const [M, N, K] of [[3, 33, 70], [17, 8, 33], [1, 257, 31]] as const) {
          const x = activations(M, K, dtype, M + N + K);
          const CA = Tensor.from(randInt8(M * K, 7, -127, 127), [M, K], 'int8');
          const SCA = Tensor.from(Float32Array.from(randn(M, 8), (v) => 0.1 + Math.abs(v)), [M], 'float32');
          const { CB, SCB } = weight(N, K, 9);
          const cols = Tensor.from(Int32Array.from(new Set([0, 1, Math.floor(K / 2), Math.floor(K / 2) + 1, K - 1])).sort(), undefined, 'int32');
          const bias = Tensor.from(encode('float16', randn(N, 10)), [N], 'float16');
          for (const bnbCompat of [false, true]) {
            const [got, want] = both(be, [x, CA, CB, SCA, SCB, cols, bias], (a, ca, cb, sa, sb, c, b) =>
              int8MixedScaledMm(a!, ca!, cb!, sa!, sb!, c!, b!, { bnbCompat }),
            );
            expectSame(got, want, `${dtype} ${M}x${N}x${K} ${bnbCompat}`);
          }
        }
      }
    });

    for (const dtype of DTYPES) {
      for (const threshold of [0, 6]) {
        it(`int8LinearForward ${dtype} threshold ${threshold} over the parity grid`, () => {
          for (const M of MS) {
            for (const N of NS) {
              for (const K of KS) {
                const x = activations(M, K, dtype, M * 7 + N * 3 + K);
                const { CB, SCB } = weight(N, K, N * 5 + K);
                const bias = Tensor.from(encode(dtype, randn(N, N)), [N], dtype);
                const bnbCompat = (M + N) % 2 === 0;
                const [got, want] = both(be, [x, CB, SCB, bias], (a, cb, sb, b) =>
                  int8LinearForward(a!, cb!, sb!, { bias: b, threshold, bnbCompat }),
                );
                const what = `${M}x${N}x${K}`;
                expectSame(got.out, want.out, what);
                expect(got.outlierColumns, what).toBe(want.outlierColumns);
              }
            }
          }
        });
      }
    }

    it('int8LinearForwardAsync gives the bits of the synchronous call', async () => {
      be.use();
      const x = onBackend(be, activations(17, 33, 'float16', 1));
      const { CB, SCB } = weight(8, 33, 2);
      const cb = onBackend(be, CB);
      const scb = onBackend(be, SCB);
      const sync = int8LinearForward(x, cb, scb, { threshold: 6 });
      const async = await int8LinearForwardAsync(x, cb, scb, { threshold: 6 });
      expectSame(async.out, sync.out, 'async');
      expect(async.outlierColumns).toBe(sync.outlierColumns);
      expect(sync.outlierColumns).toBeGreaterThan(0);
    });
  });
}
