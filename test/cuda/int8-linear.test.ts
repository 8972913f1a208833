// Linear8bitLt and Int8Params on CUDA through the public API: every result on 'cuda:0' carries the
// bits of the same layer on 'cpu' (quantization of a CUDA weight, forward / forwardAsync with
// thresholds 0 and 6, outlierStats, the state dict round trip), and bad input gets a typed error.
// In CI this runs against the emulated-CUDA addon (test/emu/run.sh --addon); on a GPU machine,
// scripts/gpu-check.sh runs it on the device.
import { describe, expect, it } from 'vitest';

import {
  INT8_MAX_K,
  Int8Params,
  Linear8bitLt,
  Tensor,
  backendInfo,
  int8LinearForward,
  linear8bitLtFromStateDict,
  linear8bitLtStateDict,
  type FloatDType,
} from '../../lib/index.js';
import { encode, randn } from '../reference/int8-ref.js';
import { expectLowbitError } from '../helpers/errors.js';
import { bytesOf } from '../int8/backends.js';

const cudaAvailable = backendInfo().cuda.available;

function expectSameBits(cuda: Tensor, cpu: Tensor, what: string): void {
  expect(cuda.device, what).toBe('cuda:0');
  expect(cpu.device, what).toBe('cpu');
  expect(cuda.dtype, what).toBe(cpu.dtype);
  expect(cuda.shape, what).toEqual(cpu.shape);
  expect(bytesOf(cuda).equals(bytesOf(cpu)), `${what}: bytes differ`).toBe(true);
}

function floatTensor(shape: number[], dtype: FloatDType, seed: number, outliers = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = randn(n, seed, 1.2);
  if (outliers) {
    const K = shape[shape.length - 1]!;
    for (let i = 0; i < n; i += 5 * K + 3) v[i] = 8.5; // a few outlier columns
    v[K - 1] = -9;
  }
  return Tensor.from(encode(dtype, v), shape, dtype);
}

describe.skipIf(!cudaAvailable)('Linear8bitLt on cuda is bit-identical to cpu', () => {
  it('Int8Params.fromFloat with a CUDA weight quantizes like the CPU', () => {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const W = floatTensor([33, 70], dtype, 3);
      const cpu = Int8Params.fromFloat(W, { hasFp16Weights: false });
      const cuda = Int8Params.fromFloat(W.to('cuda'), { hasFp16Weights: false });
      expectSameBits(cuda.CB, cpu.CB, `${dtype} CB`);
      expectSameBits(cuda.SCB, cpu.SCB, `${dtype} SCB`);
      cuda.dispose();
    }
  });

  for (const threshold of [0, 6]) {
    it(`fromFloat(cuda weight) and .to('cuda'): forward, forwardAsync and outlierStats, threshold ${threshold}`, async () => {
      for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
        // A layer owns the tensors handed to it (.to frees what it leaves behind): one bias each.
        const W = floatTensor([40, 96], 'float32', 5);
        const bias = () => floatTensor([40], 'float32', 6);
        const cpu = Linear8bitLt.fromFloat(W, bias(), { hasFp16Weights: false, threshold });
        const built = Linear8bitLt.fromFloat(W.to('cuda'), bias().to('cuda'), { hasFp16Weights: false, threshold });
        const moved = Linear8bitLt.fromFloat(W, bias(), { hasFp16Weights: false, threshold }).to('cuda');
        expect(moved.weight.device).toBe('cuda:0');
        for (const [rows, seed] of [[1, 11], [5, 12], [2 * 3 * 7, 13]] as const) {
          const x = floatTensor([rows, 96], dtype, seed, true);
          const xd = x.to('cuda');
          const want = cpu.forward(x);
          expectSameBits(built.forward(xd), want, `${dtype} built M=${rows}`);
          expectSameBits(moved.forward(xd), want, `${dtype} moved M=${rows}`);
          expectSameBits(await moved.forwardAsync(xd), want, `${dtype} async M=${rows}`);
          xd.dispose();
        }
        expect(built.outlierStats).toEqual(cpu.outlierStats);
        if (threshold > 0) expect(cpu.outlierStats.totalOutlierColumns).toBeGreaterThan(0);
        built.dispose();
        moved.dispose();
        cpu.dispose();
      }
    });
  }

  it('3-D input and a float16 model with bnbCompat', () => {
    const W = floatTensor([24, 48], 'float16', 21);
    const cpu = Linear8bitLt.fromFloat(W, null, { hasFp16Weights: false, threshold: 6, bnbCompat: true });
    const cuda = Linear8bitLt.fromFloat(W, null, { hasFp16Weights: false, threshold: 6, bnbCompat: true }).to('cuda');
    const x = floatTensor([2, 3, 48], 'float16', 22, true);
    expectSameBits(cuda.forward(x.to('cuda')), cpu.forward(x), '3-D compat');
  });

  it('state dict round trip from and to a CUDA layer', () => {
    const W = floatTensor([16, 40], 'float32', 31);
    const b = floatTensor([16], 'float32', 32);
    const cuda = Linear8bitLt.fromFloat(W, b, { hasFp16Weights: false, threshold: 6 }).to('cuda');
    const sd = linear8bitLtStateDict(cuda);
    expect(sd.weight!.device).toBe('cuda:0');
    const cpuSd: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(sd)) cpuSd[k] = v.device === 'cpu' ? v : v.to('cpu');
    const fromCpu = linear8bitLtFromStateDict(cpuSd, { threshold: 6 }).to('cuda');
    const fromCuda = linear8bitLtFromStateDict(sd, { threshold: 6 });
    expect(fromCuda.weight.device).toBe('cuda:0');
    const x = floatTensor([3, 40], 'float32', 33, true).to('cuda');
    const want = cuda.forward(x);
    for (const layer of [fromCpu, fromCuda]) {
      const got = layer.forward(x);
      expect(bytesOf(got).equals(bytesOf(want))).toBe(true);
    }
  });

  it('bad input gets a typed error, never a crash or a silent copy', () => {
    const W = floatTensor([8, 16], 'float32', 41);
    const layer = Linear8bitLt.fromFloat(W, null, { hasFp16Weights: false }).to('cuda');
    // host activations for a device layer
    expectLowbitError(() => layer.forward(floatTensor([2, 16], 'float32', 42)), 'LOWBIT_E_DEVICE');
    // mixed host/device operands of a functional op
    expectLowbitError(() => int8LinearForward(floatTensor([2, 16], 'float32', 43).to('cuda'), layer.weight.CB.to('cpu'), layer.weight.SCB), 'LOWBIT_E_DEVICE');
    // use after dispose
    const x = floatTensor([2, 16], 'float32', 44).to('cuda');
    x.dispose();
    expectLowbitError(() => layer.forward(x), 'LOWBIT_E_DISPOSED');
    // K over the exact-int32 limit
    expectLowbitError(() => int8LinearForward(Tensor.zeros([1, INT8_MAX_K + 1], 'float32', 'cuda'), Tensor.zeros([1, INT8_MAX_K + 1], 'int8', 'cuda'), Tensor.zeros([1], 'float32', 'cuda')), 'LOWBIT_E_SHAPE');
    layer.dispose();
    expectLowbitError(() => layer.forward(floatTensor([2, 16], 'float32', 45).to('cuda')), 'LOWBIT_E_DISPOSED');
  });
});
