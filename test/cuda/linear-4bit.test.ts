// Linear4bit / LinearNF4 / LinearFP4 and Params4bit / QuantState on CUDA through the public API.
// Quantization of a CUDA weight carries the CPU's bits (nested statistics stay nested, on the
// device); forward / forwardAsync agree with the same layer on the CPU within the bounds of
// test/quant/bounds-4bit.ts (the GPU sums in its own fixed order) and give the same bits on every
// run; the state dict round trip works from and to a CUDA layer; bad input gets a typed error,
// never a crash or a silent copy between devices. In CI this runs against the emulated-CUDA addon;
// on a GPU machine scripts/gpu-check.sh runs it on the device.
import { describe, expect, it } from 'vitest';

import {
  Linear4bit,
  LinearFP4,
  LinearNF4,
  Params4bit,
  Tensor,
  backendInfo,
  dequantize4bit,
  linear4bitFromStateDict,
  linear4bitToStateDict,
  matmul4bit,
  quantize4bit,
  type FloatDType,
} from '../../lib/index.js';
import { decode, encode, randn } from '../reference/int8-ref.js';
import { expectLowbitError } from '../helpers/errors.js';
import { bytesOf } from '../int8/backends.js';
import { countOutOfBounds, tensorCoreWeight, valuesOf } from '../quant/bounds-4bit.js';

const cudaAvailable = backendInfo().cuda.available;

function floatTensor(shape: number[], dtype: FloatDType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(encode(dtype, randn(n, seed)), shape, dtype);
}

function expectSameBits(a: Tensor, b: Tensor, what: string): void {
  expect(a.dtype, what).toBe(b.dtype);
  expect(a.shape, what).toEqual(b.shape);
  expect(bytesOf(a).equals(bytesOf(b)), `${what}: bytes differ`).toBe(true);
}

/** y from the CUDA layer within the bounds of the CPU layer's y (same packed weight). */
function expectWithinBounds(cudaY: Tensor, cpuY: Tensor, cpuLayer: Linear4bit, x: Tensor, what: string): void {
  expect(cudaY.device, what).toBe('cuda:0');
  expect(cudaY.dtype, what).toBe(cpuY.dtype);
  expect(cudaY.shape, what).toEqual(cpuY.shape);
  const [N, K] = cpuLayer.weight.shape as [number, number];
  const w = dequantize4bit(cpuLayer.weight.data, cpuLayer.weight.quantState, { outDtype: 'float32' }).toFloat32Array();
  const bv = cpuLayer.bias ? valuesOf(cpuLayer.bias.toDType(cpuLayer.computeDtype ?? (x.dtype as FloatDType))) : null; // as the product reads it
  const errors: string[] = [];
  const M = x.numel / K;
  const wr = tensorCoreWeight(M, cpuY.dtype as FloatDType, cpuLayer.weight.data, cpuLayer.weight.quantState);
  const p = { M, N, K, dtype: cpuY.dtype as FloatDType, xv: valuesOf(x), w, bv, wr };
  expect(countOutOfBounds(p, valuesOf(cudaY), valuesOf(cpuY), errors), `${what}: ${errors.join('; ')}`).toBe(0);
}

describe.skipIf(!cudaAvailable)('Linear4bit on cuda', () => {
  it('quantize4bit / Params4bit.fromFloat of a CUDA weight: the CPU bits, nested statistics nested on the device', () => {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const W = floatTensor([33, 100], dtype, 3);
      const cpu = Params4bit.fromFloat(W, { quantType: 'nf4', blocksize: 64 });
      const cuda = Params4bit.fromFloat(W.to('cuda'), { quantType: 'nf4', blocksize: 64 });
      expect(cuda.device).toBe('cuda:0');
      const st = cuda.quantState;
      expect(st.nested).toBe(true);
      expect(st.absmax.device).toBe('cuda:0');
      expect(st.absmax.dtype).toBe('uint8');
      expect(st.state2!.absmax.device).toBe('cuda:0');
      expect(st.offset).toBe(cpu.quantState.offset);
      expectSameBits(cuda.data.to('cpu'), cpu.data, `${dtype} packed`);
      expectSameBits(st.absmax.to('cpu'), cpu.quantState.absmax, `${dtype} qabsmax`);
      expectSameBits(st.state2!.absmax.to('cpu'), cpu.quantState.state2!.absmax, `${dtype} nested absmax`);
      cuda.dispose();
      cpu.dispose();
    }
  });

  for (const Ctor of [LinearNF4, LinearFP4]) {
    it(`${Ctor.name}: .to('cuda') and fromFloat(cuda weight): forward / forwardAsync within the bounds, same bits every run`, async () => {
      for (const [dtype, compress, bs] of [['float32', true, 64], ['float16', false, 128], ['bfloat16', true, 32]] as const) {
        const W = floatTensor([40, 100], 'float32', 5);
        const bias = floatTensor([40], 'float32', 6);
        const cpuLayer = Ctor.fromFloat(W, bias, { compressStatistics: compress, blocksize: bs });
        const moved = Ctor.fromFloat(W, bias.to('cpu').toDType('float32'), { compressStatistics: compress, blocksize: bs }).to('cuda');
        const onDevice = Ctor.fromFloat(W.to('cuda'), bias.to('cuda'), { compressStatistics: compress, blocksize: bs });
        expect(moved.device).toBe('cuda:0');
        expect(moved.weight.quantState.nested).toBe(compress);
        for (const [M, lead] of [[1, [1]], [3, [3]], [6, [2, 3]]] as const) {
          const x = floatTensor([...lead, 100], dtype, 7 + M);
          const want = cpuLayer.forward(x);
          const a = moved.forward(x.to('cuda'));
          const b = await onDevice.forwardAsync(x.to('cuda'));
          expectWithinBounds(a, want, cpuLayer, x, `${Ctor.name} ${dtype} M ${M}`);
          expectSameBits(b.to('cpu'), a.to('cpu'), `${Ctor.name} ${dtype} M ${M}: fromFloat(cuda) vs .to('cuda')`);
          expectSameBits(moved.forward(x.to('cuda')).to('cpu'), a.to('cpu'), `${Ctor.name} ${dtype} M ${M}: second run`);
        }
        moved.dispose();
        onDevice.dispose();
        cpuLayer.dispose();
      }
    });
  }

  it('compute dtype rules as on the CPU: float16 input after a float32 one computes in float32', () => {
    const W = floatTensor([24, 64], 'float32', 9);
    const cpuLayer = LinearNF4.fromFloat(W, floatTensor([24], 'float32', 10));
    const cudaLayer = LinearNF4.fromFloat(W, floatTensor([24], 'float32', 10)).to('cuda');
    const x32 = floatTensor([2, 64], 'float32', 11);
    const x16 = floatTensor([2, 64], 'float16', 12);
    cpuLayer.forward(x32);
    cudaLayer.forward(x32.to('cuda'));
    expect(cudaLayer.computeDtype).toBe('float32');
    const want = cpuLayer.forward(x16);
    const got = cudaLayer.forward(x16.to('cuda'));
    expect(got.dtype).toBe('float16');
    expectWithinBounds(got, want, cpuLayer, x16, 'float16 in float32 compute');
  });

  it('state dict round trip from and to a CUDA layer', () => {
    const W = floatTensor([33, 96], 'float32', 13);
    const layer = LinearNF4.fromFloat(W.to('cuda'), floatTensor([33], 'float32', 14).to('cuda'), { compressStatistics: true });
    const dict = linear4bitToStateDict(layer);
    expect(dict['weight']!.device).toBe('cuda:0');
    expect(dict['weight.absmax']!.device).toBe('cuda:0');
    expect(dict['weight.nested_absmax']!.device).toBe('cuda:0');
    const back = linear4bitFromStateDict(dict);
    expect(back.device).toBe('cuda:0');
    const x = floatTensor([2, 96], 'float32', 15).to('cuda');
    expectSameBits(back.forward(x).to('cpu'), layer.forward(x).to('cpu'), 'reloaded cuda layer');
    // to the CPU and back: host copies of every tensor load into a CPU layer with the same packed weight
    const host: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(dict)) host[k] = t.to('cpu');
    const cpuLayer = linear4bitFromStateDict(host);
    expect(cpuLayer.device).toBe('cpu');
    expectWithinBounds(layer.forward(x), cpuLayer.forward(x.to('cpu')), cpuLayer, x.to('cpu'), 'cuda layer vs its CPU reload');
    cpuLayer.to('cuda');
    expectSameBits(cpuLayer.forward(x).to('cpu'), layer.forward(x).to('cpu'), 'CPU reload moved to cuda');
  });

  it('typed errors: mixed devices, disposed tensors, CPU-only modes, sizes past the limits', () => {
    const W = floatTensor([16, 64], 'float32', 17);
    const [packed, state] = quantize4bit(W, { quantType: 'nf4', compressStatistics: true });
    const x = floatTensor([1, 64], 'float32', 18);
    const xc = x.to('cuda');
    const pc = packed.to('cuda');
    // CUDA activations and packed weight with the CPU state: no silent copy
    expectLowbitError(() => matmul4bit(xc, pc, state), 'LOWBIT_E_DEVICE', /state/);
    // CUDA packed weight with CPU activations
    expectLowbitError(() => matmul4bit(x, pc, state), 'LOWBIT_E_DEVICE');
    // a layer on CUDA given a CPU input
    const layer = LinearNF4.fromFloat(W).to('cuda');
    expectLowbitError(() => layer.forward(x), 'LOWBIT_E_DEVICE', /cuda:0/);
    // the int16 / int8 activation modes are CPU-only
    const cstate = quantize4bit(W.to('cuda'), { quantType: 'nf4' })[1];
    expectLowbitError(() => matmul4bit(xc, pc, cstate, null, { activations: 'int8' }), 'LOWBIT_E_UNSUPPORTED', /CPU/);
    // disposed: activations, packed weight, state statistics, layer
    const xd = x.to('cuda');
    xd.dispose();
    expectLowbitError(() => matmul4bit(xd, pc, cstate), 'LOWBIT_E_DISPOSED');
    const [p2, s2] = quantize4bit(W.to('cuda'), { quantType: 'fp4', compressStatistics: true });
    s2.state2!.absmax.dispose();
    expectLowbitError(() => matmul4bit(xc, p2, s2), 'LOWBIT_E_DISPOSED', /state2/);
    p2.dispose();
    expectLowbitError(() => matmul4bit(xc, p2, cstate), 'LOWBIT_E_DISPOSED');
    layer.dispose();
    expectLowbitError(() => layer.forward(xc), 'LOWBIT_E_DISPOSED');
    // a state claiming more weights than the packed tensor holds (or than the kernels index)
    const huge = new (cstate.constructor as typeof import('../../lib/index.js').QuantState)({
      absmax: cstate.absmax, shape: [2 ** 24, 2 ** 23], dtype: 'float32', blocksize: 64, code: cstate.code, quantType: 'nf4',
    });
    expectLowbitError(() => matmul4bit(Tensor.zeros([1, 2 ** 23], 'float16').to('cuda'), pc, huge), 'LOWBIT_E_SHAPE');
  });

  it('Linear4bit state moves in place and frees what it leaves behind', () => {
    const layer = new Linear4bit(64, 8, { quantType: 'nf4' });
    layer.loadFloatWeight(floatTensor([8, 64], 'float32', 19));
    const oldPacked = layer.weight.data;
    const oldAbsmax = layer.weight.quantState.absmax;
    layer.to('cuda');
    expect(oldPacked.disposed).toBe(true);
    expect(oldAbsmax.disposed).toBe(true);
    expect(layer.weight.quantState.device).toBe('cuda:0');
    layer.to('cpu');
    expect(layer.device).toBe('cpu');
    const y = layer.forward(floatTensor([1, 64], 'float32', 20));
    expect(decode('float32', y.toTypedArray() as Float32Array).every(Number.isFinite)).toBe(true);
  });
});
