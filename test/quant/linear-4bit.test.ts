// Linear4bit / LinearNF4 / LinearFP4 / Params4bit: construction, forward, compute-dtype rules
// (spec §6.1), async forward, weight bytes, lifecycle errors.
import { describe, expect, it } from 'vitest';
import { errorCode } from '../helpers/errors.js';
import { Linear4bit, LinearFP4, LinearNF4, LowbitError, Params4bit, Tensor, dequantize4bit, matmul4bit } from '../../lib/index.js';
import { createDynamicMap, randn, refDequantize4bit, refMatmulT, refQuantize4bit } from '../reference/quant-ref.js';
import { nestAbsmaxSpec } from '../reference/spec-ref.js';
import { hex } from './helpers.js';

const OUT = 48, IN = 128;
const W = randn(OUT * IN, 1).map((v) => v / Math.sqrt(IN));
const B = randn(OUT, 2);

describe('Linear4bit', () => {
  it('defaults mirror bitsandbytes: fp4, blocksize 64, compressStatistics true, uint8 storage', () => {
    const l = Linear4bit.fromFloat(Tensor.from(W, [OUT, IN]));
    expect(l.weight.quantType).toBe('fp4');
    expect(l.weight.blocksize).toBe(64);
    expect(l.weight.compressStatistics).toBe(true);
    expect(l.weight.quantState.nested).toBe(true);
    expect(l.weight.data.dtype).toBe('uint8');
    expect(l.bias).toBeNull();
    expect(l.inFeatures).toBe(IN);
    expect(l.outFeatures).toBe(OUT);
    expect(new LinearNF4(4, 4).weight.quantType).toBe('nf4');
    expect(new LinearFP4(4, 4).weight.quantType).toBe('fp4');
    expect(LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]))).toBeInstanceOf(LinearNF4);
  });

  it('forward = x · dequant(W)ᵀ + bias for any leading dims; equals matmul4bit bit for bit', async () => {
    const l = LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]), B);
    const x = Tensor.from(randn(2 * 5 * IN, 3), [2, 5, IN]);
    const y = l.forward(x);
    expect(y.shape).toEqual([2, 5, OUT]);
    expect(y.dtype).toBe('float32');
    const direct = matmul4bit(x, l.weight.data, l.weight.quantState, B);
    expect(hex(y.data)).toBe(hex(direct.data));
    const Wd = dequantize4bit(l.weight.data, l.weight.quantState).data as Float32Array;
    const ref = refMatmulT(x.data as Float32Array, Wd, 10, OUT, IN, B);
    (y.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 4));
    const ya = await l.forwardAsync(x);
    expect(hex(ya.data)).toBe(hex(y.data));
    expect(ya.shape).toEqual([2, 5, OUT]);
  });

  it('compute dtype: fp16 input computes in fp16; explicit computeDtype is used and the result is cast back', () => {
    const x32 = Tensor.from(randn(3 * IN, 4), [3, IN]);
    const l = LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]), B);
    const y16 = l.forward(x32.toDType('float16'));
    expect(y16.dtype).toBe('float16');
    expect(l.computeDtype).toBeNull(); // fp16 input leaves it unset (bitsandbytes)
    const lb = LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]), B, { computeDtype: 'bfloat16' });
    const y = lb.forward(x32);
    expect(y.dtype).toBe('float32');
    const viaBf16 = matmul4bit(x32.toDType('bfloat16'), lb.weight.data, lb.weight.quantState, Tensor.from(B).toDType('bfloat16')).toDType('float32');
    expect(hex(y.data)).toBe(hex(viaBf16.data));
    // the first float32 / bfloat16 input fixes the compute dtype (bitsandbytes' sticky rule)
    const ls = LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]));
    ls.forward(x32.toDType('bfloat16'));
    expect(ls.computeDtype).toBe('bfloat16');
  });

  it("activations: 'int16' is used for single-row forwards", () => {
    const l = LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]), B, { activations: 'int16' });
    const x = Tensor.from(randn(IN, 8), [1, IN]);
    const y = l.forward(x);
    expect(hex(y.data)).toBe(hex(matmul4bit(x, l.weight.data, l.weight.quantState, B, { activations: 'int16' }).data));
    expect(l.activations).toBe('int16');
  });

  it('blocksize, quantStorage and compressStatistics options; weightBytes counts packed + stats', () => {
    const plain = Linear4bit.fromFloat(Tensor.from(W, [OUT, IN]), null, { quantType: 'nf4', compressStatistics: false, blocksize: 32 });
    const nb = (OUT * IN) / 32;
    expect(plain.weightBytes()).toBe((OUT * IN) / 2 + nb * 4);
    const nested = Linear4bit.fromFloat(Tensor.from(W, [OUT, IN]), null, { quantType: 'nf4', blocksize: 32, quantStorage: 'bfloat16' });
    expect(nested.weight.data.dtype).toBe('bfloat16');
    expect(nested.weightBytes()).toBe((OUT * IN) / 2 + nb + Math.ceil(nb / 256) * 4 + 4);
    const x = Tensor.from(randn(IN, 5), [1, IN]);
    // Values, not only the shape: the spec reference's weight (codes of refQuantize4bit, scales
    // de-nested per spec §3.2), summed in float64; the layer's float32 fma order errs by at most
    // (IN/8 + 3) roundings of 2^-24 relative on sum |x w|.
    const y = nested.forward(x).toTypedArray() as Float32Array;
    expect(y.length).toBe(OUT);
    const ref = refQuantize4bit(W, 32, 'nf4');
    const Wd = refDequantize4bit(ref.packed, nestAbsmaxSpec(ref.absmax, 256, createDynamicMap()).reconstructed, OUT * IN, 32, 'nf4');
    const xs = x.toTypedArray() as Float32Array;
    const exact = refMatmulT(xs, Wd, 1, OUT, IN);
    for (let n = 0; n < OUT; n++) {
      let mag = 0;
      for (let k = 0; k < IN; k++) mag += Math.abs(xs[k]! * Wd[n * IN + k]!);
      expect(Math.abs(y[n]! - exact[n]!), `#${n}`).toBeLessThanOrEqual((IN / 8 + 3) * 2 ** -24 * mag * (1 + 1e-6));
    }
  });

  it('a constructor-only layer throws a clear error until a weight is loaded', () => {
    const l = new Linear4bit(IN, OUT, { quantType: 'nf4' });
    expect(l.bias?.shape).toEqual([OUT]);
    expect(() => l.forward(new Float32Array(IN))).toThrow(/no weight yet/);
    l.loadFloatWeight(Tensor.from(W, [OUT, IN]), B);
    // A zero input gives exactly the bias (every product is +-0; 0 + b = b).
    expect(Array.from(l.forward(new Float32Array(IN)).toTypedArray())).toEqual(Array.from(B));
    expect(() => l.loadFloatWeight(Tensor.from(W.subarray(0, IN * 4), [4, IN]))).toThrowError(LowbitError);
    l.dispose();
    try {
      l.forward(new Float32Array(IN));
      expect.unreachable();
    } catch (e) {
      expect((e as LowbitError).code).toBe('LOWBIT_E_DISPOSED');
    }
  });

  it('bad inputs get typed errors', () => {
    const l = LinearNF4.fromFloat(Tensor.from(W, [OUT, IN]));
    const code = errorCode;
    expect(code(() => l.forward(new Float32Array(IN + 1)))).toBe('LOWBIT_E_SHAPE');
    expect(code(() => l.forward(new Int8Array(IN)))).toBe('LOWBIT_E_DTYPE');
    expect(code(() => new Linear4bit(0, 4))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => new Linear4bit(4, 4, { blocksize: 48 }))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => new Linear4bit(4, 4, { quantType: 'int4' as never }))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => new Params4bit({ quantStorage: 'int32' }))).toBe('LOWBIT_E_ARGUMENT');
    expect(code(() => Linear4bit.fromFloat(Tensor.from(W, [OUT * IN])))).toBe('LOWBIT_E_SHAPE');
  });
});
