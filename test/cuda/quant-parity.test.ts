// The CUDA quantization kernels through the public API: every result on 'cuda' must be
// bit-identical to the same op on 'cpu' (4-bit NF4/FP4 with every blocksize family, partial
// blocks and odd sizes, double quantization, 8-bit blockwise), plus the spec's worked example
// and error paths. In CI this runs against the emulated-CUDA addon, so the launchers, copies
// and error handling of the CUDA host code are exercised end to end.
import { describe, expect, it } from 'vitest';

import {
  LowbitError,
  Tensor,
  backendInfo,
  dequantize4bit,
  dequantize4bitAsync,
  dequantizeBlockwise,
  quantize4bit,
  quantize4bitAsync,
  quantizeBlockwise,
  type FloatDType,
} from '../../lib/index.js';

const cudaAvailable = backendInfo().cuda.available;

function bytesOf(t: Tensor): Buffer {
  const a = t.toTypedArray();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameBits(cuda: Tensor, cpu: Tensor, what: string): void {
  expect(cuda.device, what).toBe('cuda:0');
  expect(cpu.device, what).toBe('cpu');
  expect(cuda.dtype, what).toBe(cpu.dtype);
  expect(cuda.shape, what).toEqual(cpu.shape);
  expect(bytesOf(cuda).equals(bytesOf(cpu)), `${what}: bytes differ`).toBe(true);
}

// Deterministic values with varied block scales, exact zeros (an all-zero block), negative
// zero and subnormals; LCG so the test needs no dependency.
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < n; i++) {
    const block = Math.floor(i / 64);
    if (block % 7 === 3) out[i] = 0;
    else if (i % 97 === 5) out[i] = -0;
    else if (i % 101 === 7) out[i] = 1e-41;
    else out[i] = (next() * 2 - 1) * 2 ** ((block % 9) - 4);
  }
  return out;
}

function input(n: number, dtype: FloatDType, seed: number): Tensor {
  return Tensor.from(values(n, seed), [n], 'float32').toDType(dtype);
}

describe.skipIf(!cudaAvailable)('cuda quantization is bit-identical to cpu', () => {
  for (const quantType of ['nf4', 'fp4'] as const) {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      it(`quantize4bit / dequantize4bit ${quantType} ${dtype}`, () => {
        for (const [blocksize, n] of [[32, 7], [64, 64 * 5 + 33], [128, 1], [4096, 4096 + 3]] as const) {
          const A = input(n, dtype, n + blocksize);
          const Ad = A.to('cuda');
          const [pc, sc] = quantize4bit(A, { quantType, blocksize });
          const [pd, sd] = quantize4bit(Ad, { quantType, blocksize });
          const what = `${quantType} ${dtype} bs ${blocksize} n ${n}`;
          expectSameBits(pd, pc, `${what} packed`);
          expectSameBits(sd.absmax, sc.absmax, `${what} absmax`);
          for (const outDtype of ['float32', 'float16', 'bfloat16'] as const) {
            expectSameBits(dequantize4bit(pd, sd, { outDtype }), dequantize4bit(pc, sc, { outDtype }), `${what} dequant ${outDtype}`);
          }
          Ad.dispose();
          pd.dispose();
        }
      });
    }
  }

  it('double quantization (compressStatistics) matches, including the reconstruction', () => {
    const n = 64 * 300 + 17;  // 301 block scales: two nested blocks of 256, the last partial
    const A = input(n, 'float16', 77);
    const [pc, sc] = quantize4bit(A, { quantType: 'nf4', blocksize: 64, compressStatistics: true });
    const [pd, sd] = quantize4bit(A.to('cuda'), { quantType: 'nf4', blocksize: 64, compressStatistics: true });
    expectSameBits(pd, pc, 'packed');
    expectSameBits(sd.absmax, sc.absmax, 'qabsmax');
    expect(Object.is(sd.offset, sc.offset)).toBe(true);
    expectSameBits(sd.state2!.absmax, sc.state2!.absmax, 'nested absmax');
    expectSameBits(dequantize4bit(pd, sd), dequantize4bit(pc, sc), 'dequantized');
  });

  it('async variants give the same bits', async () => {
    const A = input(1000, 'float32', 3);
    const [pc, sc] = quantize4bit(A, { quantType: 'fp4', blocksize: 256 });
    const [pd, sd] = await quantize4bitAsync(A.to('cuda'), { quantType: 'fp4', blocksize: 256 });
    expectSameBits(pd, pc, 'packed');
    expectSameBits(await dequantize4bitAsync(pd, sd), dequantize4bit(pc, sc), 'dequantized');
  });

  for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
    it(`quantizeBlockwise / dequantizeBlockwise ${dtype}`, () => {
      for (const [blocksize, n] of [[64, 64 * 3 + 5], [256, 1], [4096, 4096 + 100]] as const) {
        const A = input(n, dtype, 11 * n);
        const [qc, sc] = quantizeBlockwise(A, { blocksize });
        const [qd, sd] = quantizeBlockwise(A.to('cuda'), { blocksize });
        expectSameBits(qd, qc, `codes bs ${blocksize}`);
        expectSameBits(sd.absmax, sc.absmax, `absmax bs ${blocksize}`);
        expectSameBits(dequantizeBlockwise(qd, sd), dequantizeBlockwise(qc, sc), `dequantized bs ${blocksize}`);
      }
    });
  }

  it('reproduces the spec worked example on the device (bitsandbytes-numerics.md 2.3)', () => {
    const A = Tensor.from(Float32Array.from([2.0, -1.0, 0.5, 0.1, -0.05, 0.0, 1.3, -2.0])).to('cuda');
    const [nf4] = quantize4bit(A, { quantType: 'nf4', blocksize: 64 });
    expect(Array.from(nf4.toTypedArray())).toEqual([0xf2, 0xa8, 0x77, 0xe0]);
    const [fp4] = quantize4bit(A, { quantType: 'fp4', blocksize: 64 });
    expect(Array.from(fp4.toTypedArray())).toEqual([0x3d, 0x71, 0x90, 0x2b]);
  });

  it('rejects bad arguments with typed errors and mixed devices without crashing', () => {
    const Ad = input(128, 'float32', 1).to('cuda');
    expect(() => quantize4bit(Ad, { blocksize: 48 })).toThrow(LowbitError);
    const [pc, sc] = quantize4bit(input(128, 'float32', 1), { quantType: 'nf4' });
    let err: unknown;
    try {
      dequantize4bit(pc.to('cuda'), sc);  // packed on the device, absmax on the host
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LowbitError);
    expect((err as LowbitError).code).toBe('LOWBIT_E_DEVICE');
  });
});
