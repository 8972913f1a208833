/**
 * The AMX-INT8 int8 GEMM (native/cpu/amx/): exact int32, the same bits as the scalar path, on its
 * C++ twin everywhere (setCpuIsa('amx-emulated')) and on the tile hardware where the CPU has it.
 * Shapes cross every tile edge: 16-row slices (M = 8 pads to one, 17 to two, 33 to three: a
 * 32-row pair plus a lone slice), 32-column pairs, 64-byte K tiles and 2048-value K chunks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, backendInfo, int8LinearForward, int8LinearMatmul, setCpuIsa } from '../../lib/index.js';
import { int8MatmulRef, randInt8, randn } from '../reference/int8-ref.js';

afterAll(() => {
  setCpuIsa('auto');
});

const AMX_PATHS = (backendInfo().cpu.amx ? ['amx-emulated', 'amx'] : ['amx-emulated']) as ('amx' | 'amx-emulated')[];

// (M, N, K)
const SHAPES: [number, number, number][] = [
  [8, 1, 1], [8, 33, 3], [16, 32, 64], [17, 31, 65], [33, 100, 63], [48, 64, 128], [9, 257, 200], [40, 70, 2048 + 64 + 5],
];

describe('backendInfo reports AMX', () => {
  it('says whether the CPU has it and why not', () => {
    const cpu = backendInfo().cpu;
    expect(typeof cpu.amx).toBe('boolean');
    if (cpu.amx) expect(cpu.amxReason).toBe('');
    else expect(cpu.amxReason).toMatch(/AMX|AVX-512|x86-64/);
    expect(setCpuIsa('amx-emulated')).toBe('amx-emulated');
    expect(backendInfo().cpu.int8Amx).toBe('emulated');
    expect(backendInfo().cpu.isa).toBe('amx-emulated');
    setCpuIsa('scalar');
    expect(backendInfo().cpu.int8Amx).toBe('off');
    if (!cpu.amx) {
      // The hardware level is refused with the reason, never selected on a CPU without it.
      expect(() => setCpuIsa('amx')).toThrow(new RegExp(cpu.amxReason.replace(/[()]/g, '.')));
    }
    setCpuIsa('auto');
    expect(backendInfo().cpu.int8Amx).toBe(cpu.amx ? 'hardware' : 'off');
  });
});

describe.each(AMX_PATHS)('int8LinearMatmul on AMX tiles (%s)', (path) => {
  it.each(SHAPES)('M=%i N=%i K=%i: exact, including -128 x -128 products', (M, N, K) => {
    const a = randInt8(M * K, 300 + M + K);
    const b = randInt8(N * K, 400 + N + K);
    a.fill(-128, 0, Math.min(K, 70));
    b.fill(-128, 0, Math.min(K, 70));
    setCpuIsa(path);
    const C = int8LinearMatmul(Tensor.from(a, [M, K]), Tensor.from(b, [N, K]));
    expect(Array.from(C.data)).toEqual(Array.from(int8MatmulRef(a, b, M, N, K)));
  });

  it.each([0, 6])('int8LinearForward, threshold %i: the same bits as the scalar path', (threshold) => {
    const [M, N, K] = [37, 45, 300];
    const x = randn(M * K, 11); // |x| >= 6 (6 sigma) never happens by chance: only the planted outliers
    // Outlier columns at the start, the end and side by side (threshold 6).
    for (const col of [0, 150, 151, K - 1]) x[5 * K + col] = 9;
    const W = randInt8(N * K, 12);
    const SCB = new Float32Array(N).map((_, i) => 0.5 + i / 7);
    const bias = randn(N, 13);
    const run = (isa: 'scalar' | 'amx' | 'amx-emulated') => {
      setCpuIsa(isa);
      const r = int8LinearForward(Tensor.from(x, [M, K]), Tensor.from(W, [N, K]), Tensor.from(SCB, [N]), {
        threshold, bias: Tensor.from(bias, [N]),
      });
      return { y: Array.from(r.out.data as Float32Array), outliers: r.outlierColumns };
    };
    const scalar = run('scalar');
    const amx = run(path);
    expect(amx.outliers).toBe(scalar.outliers);
    if (threshold > 0) expect(scalar.outliers).toBe(4);
    expect(amx.y).toEqual(scalar.y);
  });
});
