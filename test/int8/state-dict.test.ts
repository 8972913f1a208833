/** Linear8bitLt state-dict round trip with bitsandbytes key names (spec §7.2, tests §3 serialization). */
import { describe, expect, it } from 'vitest';
import { Linear8bitLt, LowbitError, Tensor } from '../../lib/index.js';
import { linear8bitLtFromStateDict, linear8bitLtStateDict, loadLinear8bitLtStateDict } from '../../lib/io/state-dict-8bit.js';
import { randn } from '../reference/int8-ref.js';
import { errorCode } from '../helpers/errors.js';

describe('Linear8bitLt state dict', () => {
  for (const threshold of [0, 6]) {
    it(`round trip (threshold ${threshold}) keeps codes and gives bit-identical outputs`, () => {
      const [N, K] = [40, 30];
      const a = Linear8bitLt.fromFloat(Tensor.from(randn(N * K, 1, 0.2), [N, K]), Tensor.from(randn(N, 2), [N]), { hasFp16Weights: false, threshold });
      const sd = linear8bitLtStateDict(a, 'mlp.up_proj.');
      expect(Object.keys(sd).sort()).toEqual(['mlp.up_proj.SCB', 'mlp.up_proj.bias', 'mlp.up_proj.weight', 'mlp.up_proj.weight_format']);
      expect(sd['mlp.up_proj.weight']!.dtype).toBe('int8');
      expect(sd['mlp.up_proj.SCB']!.dtype).toBe('float32');
      expect(sd['mlp.up_proj.weight_format']!.shape).toEqual([]);
      expect(Array.from(sd['mlp.up_proj.weight_format']!.data)).toEqual([0]);
      // Copies, as a file round trip would produce.
      const copy = Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, Tensor.from(t.toTypedArray(), t.shape, t.dtype)]));
      const b = linear8bitLtFromStateDict(copy, { threshold }, 'mlp.up_proj.');
      expect(Array.from(b.weight.CB.data)).toEqual(Array.from(a.weight.CB.data));
      expect(Array.from(b.weight.SCB.data)).toEqual(Array.from(a.weight.SCB.data));
      const x = Tensor.from(randn(5 * K, 3, 3), [5, K]);
      expect(Array.from(b.forward(x).data)).toEqual(Array.from(a.forward(x).data));
      // One byte per weight plus a float32 per row (vs two bytes per weight in float16).
      expect(a.weightBytes()).toBe(N * K + 4 * N);
    });
  }

  it('hasFp16Weights saves the float weight without SCB; tiled formats are refused', () => {
    const [N, K] = [4, 8];
    const w = Tensor.from(randn(N * K, 1), [N, K]);
    const a = Linear8bitLt.fromFloat(w, null);
    const sd = linear8bitLtStateDict(a);
    expect(Object.keys(sd)).toEqual(['weight']);
    expect(sd.weight!.dtype).toBe('float32');
    const b = new Linear8bitLt(K, N, { hasFp16Weights: false, bias: false });
    const q = linear8bitLtStateDict(Linear8bitLt.fromFloat(w, null, { hasFp16Weights: false }));
    expect(() => loadLinear8bitLtStateDict(b, { ...q, weight_format: Tensor.from(new Uint8Array([2]), [], 'uint8') })).toThrow(LowbitError);
    // An int8 weight without its SCB.
    expect(errorCode(() => loadLinear8bitLtStateDict(b, { weight: q.weight! }))).toBe('LOWBIT_E_ARGUMENT');
    expect(() => loadLinear8bitLtStateDict(new Linear8bitLt(K + 1, N), q)).toThrow(LowbitError);
  });
});
