// Disposing device tensors while an async op still uses them must not free the memory under
// the kernel: the op pins its buffers and the free is deferred until it settles.
import { describe, expect, it } from 'vitest';

import { Tensor, backendInfo, dequantize4bit, dequantize4bitAsync, quantize4bit } from '../../lib/index.js';

const cudaAvailable = backendInfo().cuda.available;

describe.skipIf(!cudaAvailable)('async ops and dispose on cuda', () => {
  it('an input disposed while dequantize4bitAsync runs is freed only after the op, with correct output', async () => {
    const n = 4096;
    const host = Tensor.from(new Float32Array(n).map((_, i) => Math.sin(i * 0.37)), [64, 64]);
    const [packedCpu, stateCpu] = quantize4bit(host, { quantType: 'nf4', blocksize: 64, compressStatistics: false });
    const expected = dequantize4bit(packedCpu, stateCpu).toTypedArray();

    const [packed, state] = quantize4bit(host.to('cuda'), { quantType: 'nf4', blocksize: 64, compressStatistics: false });
    const pending = dequantize4bitAsync(packed, state);
    packed.dispose(); // the op above still reads it
    expect(packed.disposed).toBe(true);
    const out = await pending;
    expect(out.device).toBe('cuda:0');
    expect(out.toTypedArray()).toEqual(expected);
    expect(() => packed.toTypedArray()).toThrow(/disposed/);
    out.dispose();
  });
});
