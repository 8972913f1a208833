import { describe, expect, it } from 'vitest';
import { Tensor } from '../../lib/index.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** Resident memory after a full collection, in MiB. */
function settledRssMiB(): number {
  gc!();
  gc!();
  return process.memoryUsage().rss / 2 ** 20;
}

describe.runIf(gc !== undefined)('memory stays flat over long loops', () => {
  it('creating, converting and disposing tensors does not grow the process', async () => {
    const round = () => {
      for (let i = 0; i < 50; i++) {
        const t = Tensor.from(new Float32Array(1 << 20)); // 4 MiB
        const h = t.toDType('float16');
        const b = h.toDType('bfloat16').toFloat32();
        t.dispose();
        h.dispose();
        b.dispose();
      }
    };
    round(); // warm up allocator pools and JIT before the baseline
    const before = settledRssMiB();
    for (let r = 0; r < 10; r++) round(); // 500 iterations, about 7 GiB allocated in total
    await new Promise((res) => setImmediate(res));
    const growth = settledRssMiB() - before;
    // A leak of even one 4 MiB buffer per iteration would show as about 2 GiB here;
    // 64 MiB leaves room for allocator and heap noise.
    expect(growth).toBeLessThan(64);
  });
});
