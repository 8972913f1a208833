import { describe, expect, it } from 'vitest';
import { LinearNF4, Linear8bitLt, Tensor, backendInfo } from '../../lib/index.js';
import { linear8bitRef, quantizeWeightRef } from '../reference/int8-ref.js';

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
    const y8 = int8.forward(x);
    expect(y8.shape).toEqual([2, K]);
    // Values: exactly the spec §11 forward of the independent reference (no outliers at 6.0 here).
    const { CB, SCB } = quantizeWeightRef(weight.toTypedArray() as Float32Array, K, K);
    const ref = linear8bitRef(x.toTypedArray() as Float32Array, 2, K, CB, SCB, K, { threshold: 6.0, dtype: 'float32' });
    expect(Array.from(y8.toTypedArray())).toEqual(ref.out);
    expect(['cpu', 'cuda:0']).toContain(backendInfo().defaultDevice);
    y.dispose();
    fc.dispose();
    int8.dispose();
    expect(() => fc.forward(x)).toThrow(/dispos/);
  });
});
