import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { expectLowbitError } from '../helpers/errors.js';
import { LowbitError, Tensor, tensor } from '../../lib/index.js';

const require = createRequire(import.meta.url);


describe('Tensor construction', () => {
  it('wraps a TypedArray without copying', () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.from(a, [2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    expect(t.device).toBe('cpu');
    expect(t.numel).toBe(6);
    a[4] = 42;
    expect(t.data[4]).toBe(42);
    expect(t.data).toBe(a);
  });

  it('infers dtypes from array types and defaults Uint16Array to float16', () => {
    expect(Tensor.from(new Int8Array(3)).dtype).toBe('int8');
    expect(Tensor.from(new Uint8Array(3)).dtype).toBe('uint8');
    expect(Tensor.from(new Int32Array(3)).dtype).toBe('int32');
    expect(Tensor.from(new Uint16Array(3)).dtype).toBe('float16');
    expect(Tensor.from(new Uint16Array(3), [3], 'bfloat16').dtype).toBe('bfloat16');
  });

  it('copies plain number arrays, converting to half precision with round to nearest even', () => {
    const t = tensor([1, 1 + 2 ** -11, 65520], [3], 'float16');
    expect(Array.from(t.data)).toEqual([0x3c00, 0x3c00, 0x7c00]);
    const b = tensor([1, -2], [2], 'bfloat16');
    expect(Array.from(b.data)).toEqual([0x3f80, 0xc000]);
  });

  it('shares memory with an onnxruntime-node tensor (duck-typed { data, dims, type })', () => {
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const data = new Float32Array([1, 2, 3, 4]);
    const ortTensor = new ort.Tensor('float32', data, [2, 2]);
    const t = Tensor.from(ortTensor);
    expect(t.shape).toEqual([2, 2]);
    expect(t.data.buffer).toBe(data.buffer);
    const half = new ort.Tensor('float16', new Uint16Array([0x3c00, 0x4000]), [2]);
    const th = Tensor.from(half);
    expect(th.dtype).toBe('float16');
    expect(Array.from(th.toFloat32Array())).toEqual([1, 2]);
  });

  it('accepts transformers.js-style tensors and ndarray-style strided views (copied)', () => {
    const tjs = { data: new Int8Array([1, -2, 3, -4]), dims: [2, 2], type: 'int8' };
    const t = Tensor.from(tjs);
    expect(t.dtype).toBe('int8');
    expect(t.data.buffer).toBe(tjs.data.buffer);
    // ndarray transpose view of [[1,2,3],[4,5,6]] -> [[1,4],[2,5],[3,6]]
    const nd = { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [3, 2], stride: [1, 3], offset: 0, dtype: 'float32' };
    const tt = Tensor.from(nd);
    expect(Array.from(tt.data)).toEqual([1, 4, 2, 5, 3, 6]);
    const withOffset = { data: new Float32Array([9, 9, 1, 2, 3, 4]), shape: [2, 2], stride: [2, 1], offset: 2, dtype: 'float32' };
    expect(Array.from(Tensor.from(withOffset).data)).toEqual([1, 2, 3, 4]);
  });

  it.skipIf(typeof (globalThis as { Float16Array?: unknown }).Float16Array === 'undefined')('views a Float16Array as float16 bits', () => {
    const F16 = (globalThis as unknown as { Float16Array: new (v: number[]) => ArrayBufferView }).Float16Array;
    const t = Tensor.from(new F16([1, 2]) as never);
    expect(t.dtype).toBe('float16');
    expect(Array.from(t.data)).toEqual([0x3c00, 0x4000]);
  });

  it('rejects mismatched shapes, unsupported types and bad dtypes with typed errors', () => {
    expectLowbitError(() => Tensor.from(new Float32Array(6), [4, 2]), 'LOWBIT_E_SHAPE', /\[4, 2\] has 8 elements but the data has 6/);
    expectLowbitError(() => Tensor.from(new Float32Array(2), [2, -1]), 'LOWBIT_E_SHAPE', /non-negative integer/);
    expectLowbitError(() => Tensor.from(new Float64Array(2) as never), 'LOWBIT_E_DTYPE', /Float64Array/);
    expectLowbitError(() => Tensor.from(new Float32Array(2), [2], 'int8'), 'LOWBIT_E_DTYPE', /cannot hold int8/);
    expectLowbitError(() => Tensor.from({ data: new Float32Array(2), dims: [2], type: 'string' }), 'LOWBIT_E_DTYPE', /"string"/);
    expectLowbitError(() => Tensor.from(new Float32Array(2), [2], 'float64' as never), 'LOWBIT_E_DTYPE');
    expectLowbitError(() => Tensor.from(42 as never), 'LOWBIT_E_ARGUMENT', /received 42/);
    expectLowbitError(() => Tensor.empty([2], 'float32', 'gpu' as never), 'LOWBIT_E_DEVICE', /'cpu', 'cuda' or 'cuda:N'/);
  });
});

describe('Tensor views, copies and conversions', () => {
  it('reshape shares storage and supports one -1', () => {
    const t = Tensor.from(new Float32Array(12), [3, 4]);
    const r = t.reshape([2, -1]);
    expect(r.shape).toEqual([2, 6]);
    r.data[0] = 7;
    expect(t.data[0]).toBe(7);
    expectLowbitError(() => t.reshape([5, -1]), 'LOWBIT_E_SHAPE');
    expectLowbitError(() => t.reshape([-1, -1]), 'LOWBIT_E_SHAPE');
  });

  it('toTypedArray returns an independent copy; toDType rejects integer conversions', () => {
    const a = new Float32Array([1, 2]);
    const t = Tensor.from(a);
    const c = t.toTypedArray();
    c[0] = 99;
    expect(a[0]).toBe(1);
    expect(t.toDType('float32')).toBe(t);
    expectLowbitError(() => Tensor.from(new Int8Array(2)).toDType('float16'), 'LOWBIT_E_UNSUPPORTED', /quantization ops/);
    expect(Array.from(Tensor.from(new Int8Array([-3, 4])).toFloat32Array())).toEqual([-3, 4]);
  });

  it('exports an onnxruntime-style view', () => {
    const t = Tensor.from(new Int32Array([1, 2, 3, 4]), [2, 2]);
    expect(t.toTensorLike()).toEqual({ data: t.data, dims: [2, 2], type: 'int32' });
  });
});

describe('dispose', () => {
  it('releases storage at once and makes every later use an error (views included)', () => {
    const t = Tensor.from(new Float32Array(4), [2, 2]);
    const view = t.reshape([4]);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(view.disposed).toBe(true);
    expectLowbitError(() => t.data, 'LOWBIT_E_DISPOSED', /disposed tensor/);
    expectLowbitError(() => view.toTypedArray(), 'LOWBIT_E_DISPOSED');
    expectLowbitError(() => t.reshape([4]), 'LOWBIT_E_DISPOSED');
    expectLowbitError(() => t.toDType('float16'), 'LOWBIT_E_DISPOSED');
    expect(() => t.dispose()).not.toThrow(); // idempotent
  });
});
