/**
 * int8LinearMatmul: exact int32 for every K (spec §5.2), on both CPU paths, against a plain
 * reference and against onnxruntime-node's MatMulInteger as an independent oracle.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { errorCode } from '../helpers/errors.js';
import { LowbitError, Tensor, backendInfo, int8LinearMatmul, int8LinearMatmulAsync, setCpuIsa, setNumThreads } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';
import { buildSingleNodeModel, createSession, runOnce } from '../../bench/ort.js';
import { int8MatmulRef, randInt8 } from '../reference/int8-ref.js';

// Kernel paths: scalar; AVX2; AVX-512 (the VNNI tiles when the CPU has VNNI); the AMX tiles on
// their C++ twins (M >= 8).
type Path = 'scalar' | 'avx2' | 'avx512' | 'amx-emulated';
const info = backendInfo().cpu;
const ISAS: Path[] = [
  'scalar', ...(info.avx2 ? (['avx2'] as const) : []), ...(info.avx512 ? (['avx512'] as const) : []), 'amx-emulated',
];
const setPath = (path: Path) => setCpuIsa(path);
afterAll(() => {
  setCpuIsa('auto');
  setNumThreads(0);
});

// (M, N, K): K covers 1, 3, a prime (499, not a multiple of 4 or 16), 512 and 4096; odd M and N
// hit every tile edge of the packed (M >= 8) and direct (M < 8) kernels.
const SHAPES: [number, number, number][] = [
  [1, 7, 1], [3, 5, 3], [9, 13, 3], [7, 33, 499], [33, 17, 499], [5, 31, 512], [13, 9, 512], [1, 65, 4096], [11, 19, 4096],
  // several weight blocks and K chunks (K > 2048) on the packed paths
  [19, 203, 4099],
];

describe('int8LinearMatmul is exact', () => {
  for (const isa of ISAS) {
    for (const [M, N, K] of SHAPES) {
      it(`${isa}: M=${M} N=${N} K=${K} with full-range int8 (including -128)`, () => {
        setPath(isa);
        const a = randInt8(M * K, 1000 + M * 7 + K);
        const b = randInt8(N * K, 2000 + N * 3 + K);
        // Saturating corner: the largest products, where vpmaddubsw-based kernels overflow int16.
        a.fill(-128, 0, Math.min(K, 64));
        b.fill(-128, 0, Math.min(K, 64));
        const C = int8LinearMatmul(Tensor.from(a, [M, K]), Tensor.from(b, [N, K]));
        expect(C.dtype).toBe('int32');
        expect(C.shape).toEqual([M, N]);
        expect(Array.from(C.data)).toEqual(Array.from(int8MatmulRef(a, b, M, N, K)));
      });
    }
  }

  it('gives the same int32 for any thread count and keeps leading dimensions', () => {
    setCpuIsa('auto');
    const [B0, B1, N, K] = [2, 9, 21, 300];
    const a = randInt8(B0 * B1 * K, 5);
    const b = randInt8(N * K, 6);
    setNumThreads(1);
    const one = int8LinearMatmul(Tensor.from(a, [B0, B1, K]), Tensor.from(b, [N, K]));
    setNumThreads(2);
    const two = int8LinearMatmul(Tensor.from(a, [B0, B1, K]), Tensor.from(b, [N, K]));
    expect(one.shape).toEqual([B0, B1, N]);
    expect(Array.from(two.data)).toEqual(Array.from(one.data));
    expect(Array.from(one.data)).toEqual(Array.from(int8MatmulRef(a, b, B0 * B1, N, K)));
  });

  it('sums of the extreme magnitude stay exact at large K', () => {
    // K = 65536: every product (-128)(-128) = 16384, C = 2^30 exactly; and mixed signs.
    const K = 65536;
    const a = new Int8Array(2 * K).fill(-128);
    const b = new Int8Array(3 * K).fill(-128);
    for (let k = 0; k < K; k++) b[K + k] = 127;
    for (let k = 0; k < K; k++) b[2 * K + k] = k % 2 ? 127 : -128;
    for (const isa of ISAS) {
      setPath(isa);
      const C = int8LinearMatmul(Tensor.from(a, [2, K]), Tensor.from(b, [3, K]));
      expect(Array.from(C.data)).toEqual([2 ** 30, -128 * 127 * K, (K / 2) * (16384 - 128 * 127), 2 ** 30, -128 * 127 * K, (K / 2) * (16384 - 128 * 127)]);
    }
  });

  it('the largest K (131071) stays exact on the packed paths (M = 8), where partial sums wrap', () => {
    const K = 131071;
    const M = 8;
    const a = new Int8Array(M * K).fill(-128);
    for (let k = 0; k < K; k++) a[K + k] = 127; // row 1: +127
    const b = new Int8Array(2 * K).fill(127);
    b.fill(-128, K); // weight row 1: -128
    const want: number[] = [];
    for (let m = 0; m < M; m++) {
      const av = m === 1 ? 127 : -128;
      want.push(av * 127 * K, av * -128 * K);
    }
    expect(Math.max(...want.map(Math.abs))).toBeLessThan(2 ** 31);
    for (const isa of ISAS) {
      setPath(isa);
      const C = int8LinearMatmul(Tensor.from(a, [M, K]), Tensor.from(b, [2, K]));
      expect(Array.from(C.data)).toEqual(want);
    }
  });

  it('empty batches give empty outputs; async twin agrees', async () => {
    const b = randInt8(4 * 8, 9);
    const C0 = int8LinearMatmul(Tensor.from(new Int8Array(0), [0, 8]), Tensor.from(b, [4, 8]));
    expect(C0.shape).toEqual([0, 4]);
    const a = randInt8(3 * 8, 10);
    const C = await int8LinearMatmulAsync(Tensor.from(a, [3, 8]), Tensor.from(b, [4, 8]));
    expect(Array.from(C.data)).toEqual(Array.from(int8MatmulRef(a, b, 3, 4, 8)));
  });

  it('rejects bad input with typed errors', () => {
    const a = Tensor.from(randInt8(12, 1), [3, 4]);
    const code = errorCode;
    expect(code(() => int8LinearMatmul(a, Tensor.from(randInt8(15, 2), [3, 5])))).toBe('LOWBIT_E_SHAPE'); // K mismatch
    expect(code(() => int8LinearMatmul(Tensor.from(new Float32Array(12), [3, 4]), a))).toBe('LOWBIT_E_DTYPE');
    expect(code(() => int8LinearMatmul(a, Tensor.from(new Int32Array(12), [3, 4])))).toBe('LOWBIT_E_DTYPE');
    expect(code(() => int8LinearMatmul(a, Tensor.from(randInt8(12, 2), [12])))).toBe('LOWBIT_E_SHAPE');
    // The native boundary re-checks byte lengths when called directly.
    expect(code(() => nativeAddon().cpu.int8LinearMatmul!({ a: new Int8Array(3), b: new Int8Array(12), M: 3, N: 3, K: 4, out: new Int32Array(9) }))).toBe('LOWBIT_E_SHAPE');
    expect(code(() => nativeAddon().cpu.int8LinearMatmul!({ a: new Int8Array(12), b: new Int8Array(12), M: 3, N: 3, K: 200000, out: new Int32Array(9) }))).toBe('LOWBIT_E_ARGUMENT');
  });
});

describe('onnxruntime-node MatMulInteger as an independent oracle', () => {
  it('int8 x int8 -> int32 agrees exactly (s8s8, no zero points)', async () => {
    const [M, N, K] = [17, 23, 499];
    const a = randInt8(M * K, 77);
    const b = randInt8(N * K, 78);
    // ONNX MatMul takes B as [K, N]: transpose the nn.Linear-layout weight.
    const bt = new Int8Array(K * N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) bt[k * N + n] = b[n * K + k]!;
    const model = buildSingleNodeModel({
      opType: 'MatMulInteger',
      inputs: [{ name: 'A', type: 'int8', dims: ['M', K] }],
      initializers: [{ name: 'B', type: 'int8', dims: [K, N], data: bt }],
      outputs: [{ name: 'Y', type: 'int32', dims: ['M', N] }],
    });
    const session = await createSession(model, 1);
    const res = await runOnce(session, { A: { type: 'int8', data: a, dims: [M, K] } });
    const ort = Array.from(res.Y!.data as Int32Array);
    for (const isa of ISAS) {
      setPath(isa);
      const C = int8LinearMatmul(Tensor.from(a, [M, K]), Tensor.from(b, [N, K]));
      expect(Array.from(C.data)).toEqual(ort);
    }
  });
});
