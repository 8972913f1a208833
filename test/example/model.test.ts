import { describe, expect, it } from 'vitest';

import { ExampleError } from '../../examples/llama2c/errors.js';
import { generate } from '../../examples/llama2c/generate.js';
import { Float32Linear } from '../../examples/llama2c/linear.js';
import { Transformer } from '../../examples/llama2c/model.js';
import { Sampler } from '../../examples/llama2c/sampler.js';
import { BOS_ID } from '../../examples/llama2c/tokenizer.js';
import { loadStories260K } from './helpers.js';

/** ../shared/data/README.md: what a correct implementation prints decoding greedily from BOS. */
const REFERENCE =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ' +
  'One day, she saw a big, red ball. She wanted to play with it, but it was too high';

const float32 = (w: Float32Array, out: number, inp: number) => new Float32Linear(w, out, inp);

describe('stories260K float32 forward pass', () => {
  const { checkpoint, tokenizer } = loadStories260K();

  it('greedy decoding from BOS reproduces the reference story', () => {
    const model = new Transformer(checkpoint, float32);
    const result = generate(model, tokenizer, '', { steps: 60, sampler: new Sampler({ temperature: 0, topP: 1, seed: 1 }) });
    expect(result.text.slice(0, REFERENCE.length)).toBe(REFERENCE);
    expect(result.tokens[0]).toBe(BOS_ID);
  });

  it('continues a prompt greedily along the reference story', () => {
    const model = new Transformer(checkpoint, float32);
    const prompt = 'Once upon a time, there was a little girl named Lily.';
    const result = generate(model, tokenizer, prompt, { steps: 30, sampler: new Sampler({ temperature: 0, topP: 1, seed: 1 }) });
    expect(result.text.startsWith(REFERENCE.slice(0, 80))).toBe(true);
  });

  it('gives the same logits for a whole sequence at once as one token at a time (KV cache)', () => {
    const tokens = tokenizer.encode('One day, Tom saw a cat in the garden.', { bos: true });
    const batched = new Transformer(checkpoint, float32).forward(tokens, 0, { allLogits: true });
    const stepwise = new Transformer(checkpoint, float32);
    const vocab = checkpoint.config.vocabSize;
    tokens.forEach((token, pos) => {
      const logits = stepwise.forward([token], pos);
      // Same operations on the same row in the same order: bit-identical.
      expect(Array.from(logits)).toEqual(Array.from(batched.subarray(pos * vocab, (pos + 1) * vocab)));
    });
    // Prefill of a prefix, then the rest as one call, also agrees.
    const split = new Transformer(checkpoint, float32);
    split.forward(tokens.slice(0, 5), 0);
    const rest = split.forward(tokens.slice(5), 5, { allLogits: true });
    expect(Array.from(rest)).toEqual(Array.from(batched.subarray(5 * vocab)));
  });

  it('samples reproducibly for a seed, and differently for another seed', () => {
    const model = new Transformer(checkpoint, float32);
    const run = (seed: number) =>
      generate(model, tokenizer, 'Once upon a time', { steps: 40, sampler: new Sampler({ temperature: 1, topP: 0.9, seed }) }).text;
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });

  it('rejects positions past the context and bad token ids with typed errors', () => {
    const model = new Transformer(checkpoint, float32);
    expect(() => model.forward([BOS_ID], 512)).toThrowError(expect.objectContaining({
      code: 'E_BAD_ARGUMENT', message: expect.stringMatching(/positions 512\.\.512 .* within the context 0\.\.511/),
    }));
    expect(() => model.forward([600], 0)).toThrowError(/token id 600 at index 0; expected an integer in 0\.\.511/);
    expect(() => model.forward([], 0)).toThrowError(ExampleError);
    model.dispose();
    expect(() => model.forward([BOS_ID], 0)).toThrowError(/disposed/);
  });

  it('counts the bytes of the 35 float32 linear layers and of the float parts', () => {
    const model = new Transformer(checkpoint, float32);
    expect(model.linearLayers()).toHaveLength(35);
    // Per layer: wq 64×64, wk and wv 32×64, wo 64×64, w1 and w3 172×64, w2 64×172; 4 bytes each.
    expect(model.linearWeightBytes()).toBe(5 * 4 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64));
    // Embedding 512×64 (tied classifier), 2 norms per layer and the final norm.
    expect(model.floatWeightBytes()).toBe(4 * (512 * 64 + 2 * 5 * 64 + 64));
    // Together with the unused RoPE tables (2 × 512 × 4) and the header, that is the file size.
    expect(model.linearWeightBytes() + model.floatWeightBytes() + 4 * 2 * 512 * 4 + 28).toBe(checkpoint.fileBytes);
  });
});

describe('Float32Linear', () => {
  it('matches a float64 dot-product reference on odd sizes', () => {
    const out = 5;
    const inp = 7; // not a multiple of the 4-way unroll
    const rows = 3;
    const w = Float32Array.from({ length: out * inp }, (_, i) => Math.sin(i * 1.7));
    const x = Float32Array.from({ length: rows * inp }, (_, i) => Math.cos(i * 0.3));
    const y = new Float32Linear(w, out, inp).forward(x, rows);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < out; o++) {
        let s = 0;
        for (let k = 0; k < inp; k++) s += w[o * inp + k] * x[r * inp + k];
        expect(y[r * out + o]).toBeCloseTo(s, 6);
      }
    }
  });

  it('rejects mismatched sizes', () => {
    expect(() => new Float32Linear(new Float32Array(10), 3, 4)).toThrowError(/weight has 10 values; expected outFeatures × inFeatures = 3 × 4/);
    expect(() => new Float32Linear(new Float32Array(12), 3, 4).forward(new Float32Array(5), 1)).toThrowError(/input has 5 values; expected rows × inFeatures = 1 × 4/);
  });
});
