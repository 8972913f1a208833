import { describe, expect, it } from 'vitest';
import { LinearNF4, Linear8bitLt, Tensor, backendInfo } from '../../lib/index.js';

// The usage example of README.md, at a smaller size; if this breaks, fix the README too.
describe('README usage example', () => {
  it('runs as written', async () => {
    const K = 256;
    const weight = Tensor.from(new Float32Array(K * K).map((_, i) => Math.sin(i)), [K, K]);
    const fc = LinearNF4.fromFloat(weight, null, { computeDtype: 'float32' });
    const x = Tensor.from(new Float32Array(2 * K).fill(0.5), [2, K]);
    const y = fc.forward(x);
    const yAsync = await fc.forwardAsync(x);
    const int8 = Linear8bitLt.fromFloat(weight, null, { threshold: 6.0, hasFp16Weights: false });
    expect(y.shape).toEqual([2, K]);
    expect(yAsync.toTypedArray()).toEqual(y.toTypedArray());
    expect(int8.forward(x).shape).toEqual([2, K]);
    expect(['cpu', 'cuda:0']).toContain(backendInfo().defaultDevice);
    y.dispose();
    fc.dispose();
    int8.dispose();
    expect(() => fc.forward(x)).toThrow(/dispos/);
  });
});
