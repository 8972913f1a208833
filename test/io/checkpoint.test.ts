import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BnbCheckpoint, Linear4bit, Linear8bitLt, Tensor, linearToStateDict, parseBnbQuantization, saveStateDict } from '../../lib/index.js';
import { expectLowbitError } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-ck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const W = Tensor.from(Float32Array.from({ length: 16 * 64 }, (_, i) => Math.sin(i * 0.37)), [16, 64]);
const q4 = { quant_method: 'bitsandbytes', load_in_4bit: true, load_in_8bit: false, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: 'float32' };

describe('parseBnbQuantization', () => {
  it('reads 4-bit and 8-bit configs, null when unquantized', () => {
    expect(parseBnbQuantization({})).toBeNull();
    expect(parseBnbQuantization({ quantization_config: q4 })).toEqual({ bits: 4, quantType: 'nf4', doubleQuant: true, computeDtype: 'float32', skipModules: [] });
    expect(parseBnbQuantization({ quantization_config: { quant_method: 'bitsandbytes', load_in_8bit: true, llm_int8_threshold: 6.0, llm_int8_skip_modules: ['lm_head'] } }))
      .toEqual({ bits: 8, threshold: 6, skipModules: ['lm_head'] });
    expect(parseBnbQuantization({ quantization_config: { quant_method: 'bitsandbytes', _load_in_4bit: true, bnb_4bit_quant_type: 'fp4' } }))
      .toMatchObject({ bits: 4, quantType: 'fp4', doubleQuant: false });
  });
  it('rejects configs that are not bitsandbytes or say both / neither / unknown values', () => {
    expectLowbitError(() => parseBnbQuantization({ quantization_config: { ...q4, quant_method: 'gptq' } }), 'LOWBIT_E_FORMAT', /quant_method "gptq"/);
    expectLowbitError(() => parseBnbQuantization({ quantization_config: { ...q4, load_in_8bit: true } }), 'LOWBIT_E_FORMAT', /exactly one true/);
    expectLowbitError(() => parseBnbQuantization({ quantization_config: { ...q4, bnb_4bit_quant_type: 'int4' } }), 'LOWBIT_E_FORMAT', /bnb_4bit_quant_type "int4"/);
    expectLowbitError(() => parseBnbQuantization({ quantization_config: { ...q4, bnb_4bit_compute_dtype: 'float64' } }), 'LOWBIT_E_FORMAT', /compute_dtype/);
    expectLowbitError(() => parseBnbQuantization({ quantization_config: [] }), 'LOWBIT_E_FORMAT', /expected an object/);
  });
});

describe('BnbCheckpoint checks each layer against quantization_config', () => {
  function write(name: string, sd: Record<string, Tensor>, config: object): string {
    const d = join(dir, name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    saveStateDict(join(d, 'model.safetensors'), sd);
    writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    return d;
  }
  const nf4dq = linearToStateDict(Linear4bit.fromFloat(W, null, { quantType: 'nf4', compressStatistics: true, bias: false }), 'm.');
  const nf4 = linearToStateDict(Linear4bit.fromFloat(W, null, { quantType: 'nf4', compressStatistics: false, bias: false }), 'm.');
  const i8 = linearToStateDict(Linear8bitLt.fromFloat(W, null, { hasFp16Weights: false, threshold: 6 }), 'm.');

  it('loads a layer that agrees, and refuses each kind of disagreement', () => {
    const ok = BnbCheckpoint.open(write('ok', { ...nf4dq, 'head.weight': W }, { quantization_config: { ...q4, llm_int8_skip_modules: ['head'] } }));
    try {
      expect(ok.linear('m.').kind).toBe('linear4bit');
      expect(ok.linear('head.').kind).toBe('float');
    } finally {
      ok.close();
    }
    const cases: [string, Record<string, Tensor>, object, RegExp][] = [
      ['no-dq', nf4, { quantization_config: q4 }, /lacks double-quantized scales/],
      ['fp4-config', nf4dq, { quantization_config: { ...q4, bnb_4bit_quant_type: 'fp4' } }, /is nf4 but quantization_config says bnb_4bit_quant_type "fp4"/],
      ['int8-in-4bit', i8, { quantization_config: q4 }, /is linear8bitlt but quantization_config says load_in_4bit/],
      ['quantized-unconfigured', nf4dq, {}, /has no quantization_config/],
      ['float-in-8bit', { 'm.weight': W }, { quantization_config: { quant_method: 'bitsandbytes', load_in_8bit: true } }, /is float but quantization_config says load_in_8bit/],
    ];
    for (const [name, sd, cfg, msg] of cases) {
      const ck = BnbCheckpoint.open(write(name, sd, cfg));
      try {
        expectLowbitError(() => ck.linear('m.'), 'LOWBIT_E_FORMAT', msg);
      } finally {
        ck.close();
      }
    }
    expectLowbitError(() => BnbCheckpoint.open(join(dir, 'absent')), 'LOWBIT_E_ARGUMENT', /config\.json/);
  });
});
