// Linear4bit state dict with bitsandbytes keys (spec §7.1): key set, JSON blob format,
// round trip with bit-identical outputs, partial nested block (300 x 400), quant_storage.
import { describe, expect, it } from 'vitest';
import { Linear4bit, Tensor } from '../../lib/index.js';
import { linear4bitFromStateDict, linear4bitToStateDict, pythonFloatRepr } from '../../lib/io/state-dict-4bit.js';
import { randn } from '../reference/quant-ref.js';
import { hex } from './helpers.js';

describe('Linear4bit state dict (bitsandbytes format)', () => {
  const OUT = 400, IN = 300; // 120000 elements = 1875 blocks of 64: a partial nested 256-block
  const W = Tensor.from(randn(OUT * IN, 1).map((v) => v * 0.05), [OUT, IN]);
  const B = randn(OUT, 2);
  const x = Tensor.from(randn(42 * IN, 3), [42, IN]);

  for (const compress of [true, false]) {
    for (const qt of ['nf4', 'fp4'] as const) {
      for (const storage of ['uint8', 'bfloat16', 'float32'] as const) {
        it(`${qt} compress=${compress} storage=${storage}: keys, JSON, bit-identical reload`, () => {
          const layer = Linear4bit.fromFloat(W.toDType('bfloat16'), B, { quantType: qt, compressStatistics: compress, quantStorage: storage });
          const sd = linear4bitToStateDict(layer, 'model.q_proj.');
          const keys = Object.keys(sd).sort();
          const expected = ['bias', 'weight', 'weight.absmax', 'weight.quant_map', `weight.quant_state.bitsandbytes__${qt}`];
          if (compress) expected.push('weight.nested_absmax', 'weight.nested_quant_map');
          expect(keys).toEqual(expected.map((k) => `model.q_proj.${k}`).sort());
          expect(sd['model.q_proj.weight']!.dtype).toBe(storage);
          expect(sd['model.q_proj.weight.absmax']!.dtype).toBe(compress ? 'uint8' : 'float32');
          const json = new TextDecoder().decode(sd[`model.q_proj.weight.quant_state.bitsandbytes__${qt}`]!.data as Uint8Array);
          const st = layer.weight.quantState;
          const head = `{"quant_type": "${qt}", "blocksize": 64, "dtype": "bfloat16", "shape": [400, 300]`;
          expect(json).toBe(compress ? `${head}, "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": ${pythonFloatRepr(st.offset!)}}` : `${head}}`);
          if (compress) expect(sd['model.q_proj.weight.nested_absmax']!.numel).toBe(Math.ceil(1875 / 256));

          // reload from copies (as if read from a file)
          const copy: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(sd)) copy[k] = Tensor.from(v.toTypedArray(), v.shape, v.dtype);
          const back = linear4bitFromStateDict(copy, 'model.q_proj.');
          expect(back.weight.quantType).toBe(qt);
          expect(back.weight.compressStatistics).toBe(compress);
          expect(back.weight.quantStorage).toBe(storage);
          expect(back.inFeatures).toBe(IN);
          expect(back.outFeatures).toBe(OUT);
          expect(back.weight.quantState.offset).toBe(st.offset);
          expect(hex(back.forward(x).data)).toBe(hex(layer.forward(x).data));
        });
      }
    }
  }

  it('pythonFloatRepr follows Python repr', () => {
    expect(pythonFloatRepr(Math.fround(0.1))).toBe('0.10000000149011612');
    expect(pythonFloatRepr(1)).toBe('1.0');
    expect(pythonFloatRepr(1e-5)).toBe('1e-05');
    expect(pythonFloatRepr(Math.fround(0.0123))).toBe('0.012299999594688416');
    expect(pythonFloatRepr(0.0001)).toBe('0.0001');
    expect(pythonFloatRepr(1.5e16)).toBe('1.5e+16');
    expect(pythonFloatRepr(123456.5)).toBe('123456.5');
  });

  it('missing or duplicated quant_state keys are typed errors', () => {
    const layer = Linear4bit.fromFloat(W, null, { quantType: 'nf4' });
    const sd = linear4bitToStateDict(layer);
    const { ['weight.quant_state.bitsandbytes__nf4']: qs, ...rest } = sd;
    expect(() => linear4bitFromStateDict(rest)).toThrow(/Expected exactly one/);
    expect(() => linear4bitFromStateDict({ ...sd, 'weight.quant_state.bitsandbytes__fp4': qs! })).toThrow(/Expected exactly one/);
    const { ['weight.absmax']: _a, ...noAbsmax } = sd;
    void _a;
    expect(() => linear4bitFromStateDict(noAbsmax)).toThrow(/Missing key `weight.absmax`/);
  });
});
