import { describe, expect, it } from 'vitest';
import { Linear8bitLt, LinearNF4, Tensor } from '../../lib/index.js';

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

  it('layer forwards (4-bit and int8, sync and async) with disposed outputs do not grow the process', async () => {
    const K = 1024;
    const w = Tensor.from(new Float32Array(K * K).map((_, i) => Math.cos(i)), [K, K]);
    const nf4 = LinearNF4.fromFloat(w, null, { computeDtype: 'float32' });
    const int8 = Linear8bitLt.fromFloat(w, null, { threshold: 6, hasFp16Weights: false });
    const x = Tensor.from(new Float32Array(64 * K).map((_, i) => (i % 97) / 10), [64, K]); // some values >= 6: outliers
    const round = async () => {
      for (let i = 0; i < 20; i++) {
        nf4.forward(x).dispose();
        int8.forward(x).dispose();
        (await nf4.forwardAsync(x)).dispose();
        (await int8.forwardAsync(x)).dispose();
      }
    };
    await round();
    const before = settledRssMiB();
    for (let r = 0; r < 10; r++) await round(); // 800 forwards, 256 KiB of output each
    const growth = settledRssMiB() - before;
    // Native scratch leaked per call (the packed activations alone are 64 KiB, outputs 256 KiB)
    // would retain 50 to 200 MiB over 800 calls.
    expect(growth).toBeLessThan(48);
    nf4.dispose();
    int8.dispose();
  });
});
