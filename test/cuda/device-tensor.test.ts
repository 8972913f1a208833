// Device tensors on the cuda backend (real CUDA, or the SIMT emulation in CI): allocation,
// copies in every direction, dispose and use after dispose, and the native re-checks that
// keep host memory out of device operands. Skipped when no cuda backend is available.
import { describe, expect, it } from 'vitest';
import { expectLowbitError as expectCode } from '../helpers/errors.js';

import { LowbitError, Tensor, backendInfo } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';

const cudaAvailable = backendInfo().cuda.available;


describe.skipIf(!cudaAvailable)('cuda device tensors', () => {
  it('round-trips every dtype through device memory', () => {
    const cases: [Tensor, string][] = [
      [Tensor.from(Float32Array.from([1.5, -2, 3.25, Number.NaN, -0, 1e-40]), [2, 3], 'float32'), 'float32'],
      [Tensor.from(Uint16Array.from([0x3c00, 0x8000, 0x7e00, 0x0001]), [4], 'float16'), 'float16'],
      [Tensor.from(Uint16Array.from([0x3f80, 0xff80, 0x0001]), [3], 'bfloat16'), 'bfloat16'],
      [Tensor.from(Int8Array.from([-128, 0, 127]), [3], 'int8'), 'int8'],
      [Tensor.from(Uint8Array.from([0, 200, 255, 7, 9]), [5], 'uint8'), 'uint8'],
      [Tensor.from(Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 5]), [3], 'int32'), 'int32'],
    ];
    for (const [host, dtype] of cases) {
      const dev = host.to('cuda');
      expect(dev.device).toBe('cuda:0');
      expect(dev.dtype).toBe(dtype);
      expect(dev.shape).toEqual(host.shape);
      const back = dev.toTypedArray();
      expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(
        Buffer.from(host.data.buffer, host.data.byteOffset, host.data.byteLength))).toBe(true);
      // device -> device copy through the host path, and back to a cpu tensor
      const again = dev.to('cpu').to('cuda:0').to('cpu');
      expect(Array.from(again.data as Int32Array)).toEqual(Array.from(host.data as Int32Array));
      dev.dispose();
    }
  });

  it('returns the same tensor when already on the device, and copies otherwise', () => {
    const dev = Tensor.from(Float32Array.from([1, 2, 3])).to('cuda');
    expect(dev.to('cuda:0')).toBe(dev);
    const host = dev.to('cpu');
    host.data[0] = 42;
    expect(Array.from(dev.toTypedArray())).toEqual([1, 2, 3]);
    dev.dispose();
  });

  it('allocates empty and zero tensors on the device, including zero-sized ones', () => {
    const z = Tensor.zeros([3, 5], 'float32', 'cuda');
    expect(z.device).toBe('cuda:0');
    expect(Array.from(z.toTypedArray())).toEqual(new Array(15).fill(0));
    const e = Tensor.empty([0, 4], 'float16', 'cuda');
    expect(e.numel).toBe(0);
    expect(e.toTypedArray().length).toBe(0);
    z.dispose();
    e.dispose();
  });

  it('keeps device data off the host accessor and rejects use after dispose', () => {
    const dev = Tensor.from(Float32Array.from([1, 2])).to('cuda');
    expectCode(() => dev.data, 'LOWBIT_E_DEVICE');
    dev.dispose();
    expect(dev.disposed).toBe(true);
    dev.dispose();  // idempotent
    expectCode(() => dev.toTypedArray(), 'LOWBIT_E_DISPOSED');
    expectCode(() => dev.to('cpu'), 'LOWBIT_E_DISPOSED');
  });

  it('reports a device that does not exist as LOWBIT_E_DEVICE, without crashing', () => {
    const count = backendInfo().cuda.devices?.length ?? 1;
    expectCode(() => Tensor.empty([4], 'float32', `cuda:${count}`), 'LOWBIT_E_DEVICE');
  });

  it('native ops re-check operand placement (host memory where device memory is expected)', () => {
    const cuda = nativeAddon().cuda as Record<string, (o: Record<string, unknown>) => unknown>;
    const input = new Float32Array(64);
    expectCode(() => cuda.quantize4bit!({
      input, dtype: 0, n: 64, blocksize: 64, quantType: 1, packed: new Uint8Array(32), absmax: new Float32Array(1),
    }), 'LOWBIT_E_DEVICE');
    const small = Tensor.empty([8], 'float32', 'cuda');
    const packed = Tensor.empty([32], 'uint8', 'cuda');
    const absmax = Tensor.empty([1], 'float32', 'cuda');
    // 8 floats of input for n = 64: the byte-length re-check must refuse it (a shape error).
    expectCode(() => cuda.quantize4bit!({
      input: small.storage, dtype: 0, n: 64, blocksize: 64, quantType: 1, packed: packed.storage, absmax: absmax.storage,
    }), 'LOWBIT_E_SHAPE');
    small.dispose();
    packed.dispose();
    absmax.dispose();
  });
});
