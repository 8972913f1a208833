// One table of every `...Async` op against its sync twin, for every option the op takes: the
// results must be the same bytes (a twin that drops an option, e.g. dequantize4bitAsync
// ignoring outDtype, fails here). And every layer method after dispose() throws
// LOWBIT_E_DISPOSED, including the ones that only read.
import { describe, expect, it } from 'vitest';

import {
  dequantize4bit, dequantize4bitAsync, dequantizeBlockwise, dequantizeBlockwiseAsync, gemv4bit, gemv4bitAsync,
  int8LinearForward, int8LinearForwardAsync, int8LinearMatmul, int8LinearMatmulAsync, Linear4bit, Linear8bitLt, LinearFP4,
  LinearNF4, linear4bitToStateDict, linear8bitLtStateDict, loadLinear8bitLtStateDict, matmul4bit, matmul4bitAsync,
  quantize4bit, quantize4bitAsync, quantizeBlockwise, quantizeBlockwiseAsync, QuantState, Tensor, LowbitError,
} from '../../lib/index.js';
import { int8LinearForwardPacked, int8LinearForwardPackedAsync, int8PackWeight, int8PackWeightAsync } from '../../lib/functional/int8.js';
import { randn } from '../reference/quant-ref.js';
import { randInt8 } from '../reference/int8-ref.js';

/** Every tensor and number reachable from a result, as one string of bytes and values. */
function fingerprint(v: unknown): string {
  if (v instanceof Tensor) {
    const a = v.toTypedArray();
    return `${v.dtype}[${v.shape.join(',')}]:${Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex')}`;
  }
  if (v instanceof QuantState) {
    return `state(${v.dtype},${v.blocksize},${v.quantType},${v.offset},${v.shape.join(',')},${fingerprint(v.absmax)},${fingerprint(v.code)},${v.state2 ? fingerprint(v.state2) : '-'})`;
  }
  if (Array.isArray(v)) return `[${v.map(fingerprint).join('|')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${fingerprint(x)}`).join(',')}}`;
  return String(v);
}

const W = randn(24 * 128, 1);
const X = randn(3 * 128, 2);
const X1 = randn(128, 3);
const BIAS = randn(24, 4);
const CB = randInt8(24 * 128, 5, -127, 127);
const SCB = Float32Array.from(randn(24, 6), (v) => Math.abs(v) + 0.5);
const q4 = (opts: Parameters<typeof quantize4bit>[1]) => quantize4bit(Tensor.from(W, [24, 128]), opts);
const q8 = (opts: Parameters<typeof quantizeBlockwise>[1]) => quantizeBlockwise(Tensor.from(W, [24, 128]), opts);

type Twin = [name: string, sync: () => unknown, async: () => Promise<unknown>];
const twins: Twin[] = [];
for (const quantType of ['nf4', 'fp4'] as const)
  for (const blocksize of [32, 64, 256])
    for (const compressStatistics of [false, true])
      for (const quantStorage of ['uint8', 'float32'] as const) {
        const o = { quantType, blocksize, compressStatistics, quantStorage };
        twins.push([`quantize4bit ${JSON.stringify(o)}`, () => q4(o), () => quantize4bitAsync(Tensor.from(W, [24, 128]), o)]);
      }
for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
  const x = Tensor.from(W, [24, 128]).toDType(dtype);
  twins.push([`quantize4bit input ${dtype}`, () => quantize4bit(x, { quantType: 'nf4' }), () => quantize4bitAsync(x, { quantType: 'nf4' })]);
  twins.push([`quantizeBlockwise input ${dtype}`, () => quantizeBlockwise(x), () => quantizeBlockwiseAsync(x)]);
}
for (const compressStatistics of [false, true])
  for (const outDtype of [undefined, 'float32', 'float16', 'bfloat16'] as const) {
    const [p, s] = q4({ quantType: 'nf4', compressStatistics });
    twins.push([`dequantize4bit nested ${compressStatistics} outDtype ${outDtype}`, () => dequantize4bit(p, s, { outDtype }), () => dequantize4bitAsync(p, s, { outDtype })]);
  }
const customCode = Float32Array.from({ length: 256 }, (_, i) => Math.fround((i - 127.5) / 127.5));
for (const blocksize of [64, 256, 4096])
  for (const nested of [false, true])
    for (const code of [undefined, customCode]) {
      const o = { blocksize, nested, code };
      const label = `blocksize ${blocksize} nested ${nested} code ${code ? 'custom' : 'default'}`;
      twins.push([`quantizeBlockwise ${label}`, () => q8(o), () => quantizeBlockwiseAsync(Tensor.from(W, [24, 128]), o)]);
      const [q, s] = q8(o);
      for (const outDtype of [undefined, 'float16', 'bfloat16'] as const)
        twins.push([`dequantizeBlockwise ${label} outDtype ${outDtype}`, () => dequantizeBlockwise(q, s, { outDtype }), () => dequantizeBlockwiseAsync(q, s, { outDtype })]);
    }
for (const compressStatistics of [false, true])
  for (const activations of ['float32', 'int16', 'int8'] as const)
    for (const bias of [null, BIAS])
      for (const dtype of ['float32', 'float16'] as const) {
        const [p, s] = q4({ quantType: 'fp4', compressStatistics });
        const label = `nested ${compressStatistics} ${activations} bias ${!!bias} ${dtype}`;
        const xm = Tensor.from(X, [3, 128]).toDType(dtype), x1 = Tensor.from(X1, [1, 128]).toDType(dtype);
        twins.push([`matmul4bit ${label}`, () => matmul4bit(xm, p, s, bias, { activations }), () => matmul4bitAsync(xm, p, s, bias, { activations })]);
        twins.push([`gemv4bit ${label}`, () => gemv4bit(x1, p, s, bias, { activations }), () => gemv4bitAsync(x1, p, s, bias, { activations })]);
      }
twins.push(['int8LinearMatmul', () => int8LinearMatmul(Tensor.from(randInt8(3 * 128, 7), [3, 128]), Tensor.from(CB, [24, 128])),
  () => int8LinearMatmulAsync(Tensor.from(randInt8(3 * 128, 7), [3, 128]), Tensor.from(CB, [24, 128]))]);
for (const threshold of [0, 1.5])
  for (const bnbCompat of [false, true])
    for (const bias of [null, BIAS])
      for (const dtype of ['float32', 'float16'] as const) {
        const o = { threshold, bnbCompat, bias };
        const x = Tensor.from(X, [3, 128]).toDType(dtype);
        twins.push([`int8LinearForward ${dtype} threshold ${threshold} bnbCompat ${bnbCompat} bias ${!!bias}`,
          () => int8LinearForward(x, Tensor.from(CB, [24, 128]), SCB, o), () => int8LinearForwardAsync(x, Tensor.from(CB, [24, 128]), SCB, o)]);
      }

// Linear8bitLt's packed weight (internal ops): packing, and the forward reading the packed copy at
// M = 9 (the tiled GEMM), with and without outliers and bias.
{
  const cb = Tensor.from(CB, [24, 128]);
  const x9 = Tensor.from(randn(9 * 128, 8), [9, 128]);
  twins.push(['int8PackWeight', () => int8PackWeight(cb), () => int8PackWeightAsync(cb)]);
  for (const threshold of [0, 1.5])
    for (const bias of [null, BIAS]) {
      const o = { threshold, bias };
      twins.push([`int8LinearForwardPacked threshold ${threshold} bias ${!!bias}`,
        () => int8LinearForwardPacked(x9, cb, SCB, o, int8PackWeight(cb)),
        async () => int8LinearForwardPackedAsync(x9, cb, SCB, o, await int8PackWeightAsync(cb))]);
    }
}

describe('every ...Async op equals its sync twin for every option', () => {
  it('covers every ...Async op the functional modules export', async () => {
    // The ops (lib/functional); file readers with Async variants (lib/io) are not ops.
    const ops = { ...(await import('../../lib/functional/quant.js')), ...(await import('../../lib/functional/int8.js')) };
    const exported = Object.keys(ops).filter((k) => k.endsWith('Async')).sort();
    const covered = [...new Set(twins.map(([name]) => name.split(' ')[0] + 'Async'))].sort();
    expect(covered).toEqual(exported);
  });

  it.each(twins)('%s', async (_name, sync, async) => {
    const a = fingerprint(sync());
    const b = fingerprint(await async());
    expect(b).toBe(a);
  });

  it('layer forwardAsync equals forward', async () => {
    for (const layer of [LinearNF4.fromFloat(Tensor.from(W, [24, 128]), BIAS), LinearFP4.fromFloat(Tensor.from(W, [24, 128]), null, { activations: 'int8' }),
      Linear8bitLt.fromFloat(Tensor.from(W, [24, 128]), BIAS, { hasFp16Weights: false, threshold: 1.5 })]) {
      const x = Tensor.from(X, [3, 128]);
      const x9 = Tensor.from(randn(9 * 128, 9), [9, 128]); // the tiled GEMM with the weight packed once
      expect(fingerprint(await layer.forwardAsync(x9))).toBe(fingerprint(layer.forward(x9)));
      expect(fingerprint(await layer.forwardAsync(x))).toBe(fingerprint(layer.forward(x)));
      layer.dispose();
    }
  });
});

function disposedCode(f: () => unknown): Promise<string | undefined> {
  return (async () => {
    try {
      await f();
    } catch (e) {
      return e instanceof LowbitError ? e.code : `not a LowbitError: ${String(e)}`;
    }
    return undefined;
  })();
}

describe('every layer method after dispose() throws LOWBIT_E_DISPOSED', () => {
  const w = () => Tensor.from(W, [24, 128]);
  const x = () => Tensor.from(X, [3, 128]);
  const four: [string, (l: Linear4bit) => unknown][] = [
    ['loadFloatWeight', (l) => l.loadFloatWeight(w())],
    ['loadFloatWeight with bias', (l) => l.loadFloatWeight(w(), BIAS)],
    ['setBias', (l) => l.setBias(BIAS)],
    ['setBias(null)', (l) => l.setBias(null)],
    ['forward', (l) => l.forward(x())],
    ['forwardAsync', (l) => l.forwardAsync(x())],
    ['weightBytes', (l) => l.weightBytes()],
    ['linear4bitToStateDict', (l) => linear4bitToStateDict(l)],
  ];
  for (const ctor of [LinearNF4, LinearFP4]) {
    it.each(four)(`${ctor.name}.%s`, async (_n, call) => {
      const layer = ctor.fromFloat(w(), BIAS);
      layer.dispose();
      layer.dispose(); // idempotent
      expect(await disposedCode(() => call(layer))).toBe('LOWBIT_E_DISPOSED');
    });
  }
  it('Linear4bit that was never loaded, then disposed', async () => {
    const layer = new Linear4bit(128, 24);
    layer.dispose();
    expect(await disposedCode(() => layer.forward(x()))).toBe('LOWBIT_E_DISPOSED');
    expect(await disposedCode(() => layer.weightBytes())).toBe('LOWBIT_E_DISPOSED');
  });

  const eight: [string, (l: Linear8bitLt) => unknown][] = [
    ['loadFloatWeight', (l) => l.loadFloatWeight(w())],
    ['bias =', (l) => { l.bias = Tensor.from(BIAS); }],
    ['forward', (l) => l.forward(x())],
    ['forwardAsync', (l) => l.forwardAsync(x())],
    ['weightBytes', (l) => l.weightBytes()],
    ['linear8bitLtStateDict', (l) => linear8bitLtStateDict(l)],
    ['loadLinear8bitLtStateDict', (l) => loadLinear8bitLtStateDict(l, { weight: Tensor.from(CB, [24, 128]), SCB: Tensor.from(SCB), bias: Tensor.from(BIAS) })],
  ];
  for (const hasFp16Weights of [true, false]) {
    it.each(eight)(`Linear8bitLt (hasFp16Weights ${hasFp16Weights}).%s`, async (_n, call) => {
      const layer = Linear8bitLt.fromFloat(w(), BIAS, { hasFp16Weights });
      layer.dispose();
      layer.dispose();
      expect(await disposedCode(() => call(layer))).toBe('LOWBIT_E_DISPOSED');
    });
  }
});
