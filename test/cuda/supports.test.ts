// supports(op, shape) / require(op, shape): a backend's own limits for a shape are asked before
// TypeScript allocates any output on the device. On CUDA the answer comes from the launchers' own
// checks (cuda.supports -> lb::cuda::int8_gemm_supports, gemm_4bit_supports, ...), so no limit is
// written in TypeScript. The device-allocation spy makes these tests fail if the check ran after an
// output was allocated (the launcher would still reject the call, but only after the allocation).
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Tensor, backendFor, backendInfo, int8LinearMatmul, matmul4bit, quantize4bit } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';
import { randn } from '../reference/int8-ref.js';
import { expectLowbitError } from '../helpers/errors.js';

const cudaAvailable = backendInfo().cuda.available;

// The int8 GEMM's prefill configuration tiles M by 128 rows and a CUDA grid has at most 65535 rows
// of tiles (cuda/launch/int8_gemm.cu); one more row is past the kernel's limit. The CPU has none.
// This constant is the test's own input choice, not a copy used by the library.
const M_PAST_GRID = 65535 * 128 + 1;

describe('supports(op, shape) on the CPU backend', () => {
  it('the CPU has no backend-specific limits beyond the shared validators', () => {
    const cpu = backendFor('cpu');
    expect(cpu.supports('int8LinearMatmul')).toBe(true);
    expect(cpu.supports('int8LinearMatmul', { M: M_PAST_GRID, N: 1, K: 1 })).toBe(true);
    expect(cpu.supports('gemm4bit', { M: 1, N: 8, K: 64, aDtype: 0, blocksize: 64, activations: 2 })).toBe(true);
    expect(cpu.supports('noSuchOp')).toBe(false);
    expect(() => cpu.require('int8LinearMatmul', { M: M_PAST_GRID, N: 1, K: 1 })).not.toThrow();
  });
});

describe.skipIf(!cudaAvailable)('supports(op, shape) on CUDA: asked before any device allocation', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('int8LinearMatmul with M past the GEMM grid: the CPU computes it, CUDA rejects it before allocating', () => {
    const a = new Int8Array(M_PAST_GRID);
    for (let i = 0; i < a.length; i += 4099) a[i] = (i % 255) - 127;
    const A = Tensor.from(a, [M_PAST_GRID, 1], 'int8');
    const B = Tensor.from(new Int8Array([-3]), [1, 1], 'int8');

    const onCpu = int8LinearMatmul(A, B).toTypedArray() as Int32Array;
    expect(onCpu.length).toBe(M_PAST_GRID);
    for (let i = 0; i < a.length; i += 4099) expect(onCpu[i]).toBe((a[i]! * -3) | 0);

    const cuda = backendFor('cuda:0');
    expect(cuda.supports('int8LinearMatmul')).toBe(true);
    expect(cuda.supports('int8LinearMatmul', { M: M_PAST_GRID, N: 1, K: 1 })).toBe(false);
    expect(cuda.supports('int8LinearMatmul', { M: M_PAST_GRID - 1, N: 1, K: 1 })).toBe(true);
    expect(cuda.supports('int8LinearForward', { M: M_PAST_GRID, N: 1, K: 1 })).toBe(false);
    expect(cuda.supports('int8MixedScaledMm', { M: M_PAST_GRID, N: 1, K: 1 })).toBe(false);

    const Ad = A.to('cuda');
    const Bd = B.to('cuda');
    const alloc = vi.spyOn(nativeAddon().cuda, 'alloc');
    expectLowbitError(() => int8LinearMatmul(Ad, Bd), 'LOWBIT_E_UNSUPPORTED', /int8 GEMM on CUDA: M = 8388481 needs at most 8388480 rows/);
    expect(alloc, 'a device allocation happened before the limit was checked').not.toHaveBeenCalled();
    Ad.dispose();
    Bd.dispose();
  });

  it('matmul4bit with int8 activations: a CPU-only mode, rejected on CUDA before allocating', () => {
    const W = Tensor.from(randn(16 * 64, 3, 1), [16, 64], 'float32');
    const x = Tensor.from(randn(2 * 64, 4, 1), [2, 64], 'float32');
    const [packed, state] = quantize4bit(W, { quantType: 'nf4', compressStatistics: false });
    expect(matmul4bit(x, packed, state, null, { activations: 'int8' }).shape).toEqual([2, 16]);

    const [pd, sd] = quantize4bit(W.to('cuda'), { quantType: 'nf4', compressStatistics: false });
    const xd = x.to('cuda');
    const alloc = vi.spyOn(nativeAddon().cuda, 'alloc');
    expectLowbitError(() => matmul4bit(xd, pd, sd, null, { activations: 'int8' }), 'LOWBIT_E_UNSUPPORTED', /CPU-only/);
    expect(alloc, 'a device allocation happened before the limit was checked').not.toHaveBeenCalled();
    alloc.mockRestore();
    expect(matmul4bit(xd, pd, sd).device).toBe('cuda:0'); // float32 activations run
    expect(nativeAddon().cuda.supports('gemm4bit', { M: 2, N: 16, K: 64, aDtype: 0, blocksize: 64, activations: 0 })).toBeNull();
  });
});
