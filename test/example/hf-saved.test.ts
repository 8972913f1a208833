/**
 * A transformers checkpoint written by lowbit (no ../shared needed): the embedded stories260K.bin
 * converted to transformers' layout (q/k rows permuted to rotate_half order), saved float and
 * 4-bit quantized with bitsandbytes' keys and `quantization_config`, then run through `--hf`.
 * Quantization works per row here (blocksize 64 = one q/k row), so quantizing the permuted rows and
 * permuting the outputs back must reproduce the llama2.c path's logits bit for bit.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import type { Checkpoint } from '../../examples/llama2c/checkpoint.js';
import { loadHfModel } from '../../examples/llama2c/hf-checkpoint.js';
import { Float32Linear, linearFactory, type QuantKind } from '../../examples/llama2c/linear.js';
import { Transformer } from '../../examples/llama2c/model.js';
import { Linear4bit, Tensor, linear4bitToStateDict, saveStateDict } from '../../lib/index.js';
import { loadStories260K } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-hf-saved-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** llama2.c adjacent-pair rows → transformers' rotate_half rows, per head. */
function toHfRows(w: Float32Array, rows: number, cols: number, headSize: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headSize / 2;
  for (let r = 0; r < rows; r++) {
    const head = Math.floor(r / headSize);
    const i = r % headSize;
    const target = head * headSize + (i % 2 === 0 ? i / 2 : half + (i - 1) / 2);
    out.set(w.subarray(r * cols, (r + 1) * cols), target * cols);
  }
  return out;
}

function writeHf(ck: Checkpoint, path: string, quant: { type: 'nf4' | 'fp4'; dq: boolean } | null): void {
  const c = ck.config;
  mkdirSync(path, { recursive: true });
  const sd: Record<string, Tensor> = {};
  const f32 = (a: Float32Array, shape: number[]) => Tensor.from(a, shape);
  sd['model.embed_tokens.weight'] = f32(ck.tokenEmbedding, [c.vocabSize, c.dim]);
  sd['model.norm.weight'] = f32(ck.rmsFinal, [c.dim]);
  ck.layers.forEach((w, l) => {
    const p = `model.layers.${l}`;
    sd[`${p}.input_layernorm.weight`] = f32(w.rmsAtt, [c.dim]);
    sd[`${p}.post_attention_layernorm.weight`] = f32(w.rmsFfn, [c.dim]);
    const mats: [string, Float32Array, number, number][] = [
      ['self_attn.q_proj', toHfRows(w.wq, c.dim, c.dim, c.headSize), c.dim, c.dim],
      ['self_attn.k_proj', toHfRows(w.wk, c.kvDim, c.dim, c.headSize), c.kvDim, c.dim],
      ['self_attn.v_proj', w.wv, c.kvDim, c.dim],
      ['self_attn.o_proj', w.wo, c.dim, c.dim],
      ['mlp.gate_proj', w.w1, c.hiddenDim, c.dim],
      ['mlp.down_proj', w.w2, c.dim, c.hiddenDim],
      ['mlp.up_proj', w.w3, c.hiddenDim, c.dim],
    ];
    for (const [name, m, out, inp] of mats) {
      const W = f32(m, [out, inp]);
      if (!quant) {
        sd[`${p}.${name}.weight`] = W;
        continue;
      }
      const layer = Linear4bit.fromFloat(W, null, { quantType: quant.type, blocksize: 64, compressStatistics: quant.dq, bias: false });
      Object.assign(sd, linear4bitToStateDict(layer, `${p}.${name}.`));
    }
  });
  saveStateDict(join(path, 'model.safetensors'), sd);
  const config: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: c.dim, intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads, head_dim: c.headSize,
    vocab_size: c.vocabSize, max_position_embeddings: c.seqLen, rms_norm_eps: 1e-5, rope_parameters: { rope_theta: 10000.0, rope_type: 'default' },
    hidden_act: 'silu', tie_word_embeddings: true, attention_bias: false, mlp_bias: false,
  };
  if (quant) {
    config.quantization_config = {
      quant_method: 'bitsandbytes', load_in_4bit: true, load_in_8bit: false, bnb_4bit_quant_type: quant.type,
      bnb_4bit_use_double_quant: quant.dq, bnb_4bit_compute_dtype: 'float32', bnb_4bit_quant_storage: 'uint8', llm_int8_skip_modules: null,
    };
  }
  writeFileSync(join(path, 'config.json'), JSON.stringify(config, null, 2));
}

describe('a transformers checkpoint saved by lowbit runs through --hf exactly like the llama2.c path', () => {
  const { checkpoint } = loadStories260K();
  const prompt = [1, 385, 328, 432, 261, 376, 298, 315, 421, 395, 317, 272];
  const cases: [string, QuantKind, { type: 'nf4' | 'fp4'; dq: boolean } | null][] = [
    ['float', 'fp32', null], ['fp4', 'fp4', { type: 'fp4', dq: false }], ['nf4-dq', 'nf4-dq', { type: 'nf4', dq: true }],
  ];
  for (const [name, kind, quant] of cases) {
    it(`${name}: logits identical`, async () => {
      const path = join(dir, name);
      writeHf(checkpoint, path, quant);
      const hf = loadHfModel(path);
      const a = new Transformer(hf.weights, (w, o, i) => new Float32Linear(w, o, i));
      const b = new Transformer(checkpoint, await linearFactory(kind));
      try {
        const ya = a.forward(prompt, 0, { allLogits: true });
        const yb = b.forward(prompt, 0, { allLogits: true });
        expect(Array.from(ya)).toEqual(Array.from(yb));
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }
});
