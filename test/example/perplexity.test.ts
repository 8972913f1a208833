import { describe, expect, it } from 'vitest';

import type { ModelConfig } from '../../examples/llama2c/checkpoint.js';
import { Float32Linear } from '../../examples/llama2c/linear.js';
import { Transformer } from '../../examples/llama2c/model.js';
import { perplexity, type ScoredModel } from '../../examples/llama2c/perplexity.js';
import { BOS_ID } from '../../examples/llama2c/tokenizer.js';
import { loadStories260K, sharedText, tinyStoriesText } from './helpers.js';

const VOCAB = 16;
const config = { vocabSize: VOCAB, seqLen: 64 } as ModelConfig;

/** A stand-in model: at every position, logit `boost` on `predict(input token)` and 0 elsewhere. */
function standIn(predict: (token: number) => number | undefined, boost: number): ScoredModel & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    config,
    calls,
    forward(tokens: readonly number[], startPos: number) {
      expect(startPos).toBe(0);
      calls.push([...tokens]);
      const logits = new Float32Array(tokens.length * VOCAB);
      tokens.forEach((token, t) => {
        const guess = predict(token);
        if (guess !== undefined) logits[t * VOCAB + guess] = boost;
      });
      return logits;
    },
  };
}

describe('perplexity over non-overlapping windows', () => {
  it('is exactly the vocabulary size for uniform logits, with every token scored once', () => {
    const text = Array.from({ length: 50 }, (_, i) => 3 + (i % 13));
    const model = standIn(() => undefined, 0);
    const result = perplexity(model, text, { window: 8 });
    expect(result.tokensScored).toBe(50);
    expect(result.windows).toBe(Math.ceil(50 / 7)); // 7 text tokens per window after BOS
    expect(result.perplexity).toBeCloseTo(VOCAB, 10);
    // Each window is BOS followed by the text tokens it predicts, except the last of them.
    expect(model.calls[0]).toEqual([BOS_ID, ...text.slice(0, 6)]);
    expect(model.calls[7]).toEqual([BOS_ID]); // 50 = 7·7 + 1: the last window predicts one token
  });

  it('matches the closed form when a model predicts all but the first token of each window', () => {
    // Text follows next = (prev + 1) mod 13 + 3; the stand-in knows the rule but not what follows BOS.
    const text = Array.from({ length: 40 }, (_, i) => 3 + (i % 13));
    const next = (token: number) => (token === BOS_ID ? undefined : 3 + ((token - 3 + 1) % 13));
    const boost = 5;
    const result = perplexity(standIn(next, boost), text, { window: 11 });
    const windows = Math.ceil(40 / 10);
    const nllFirst = Math.log(VOCAB); // after BOS: uniform
    const nllRest = -Math.log(Math.exp(boost) / (Math.exp(boost) + VOCAB - 1));
    const expected = Math.exp((windows * nllFirst + (40 - windows) * nllRest) / 40);
    expect(result.perplexity).toBeCloseTo(expected, 10);
  });

  it('honours maxWindows and rejects bad windows', () => {
    const text = Array.from({ length: 100 }, () => 5);
    expect(perplexity(standIn(() => undefined, 0), text, { window: 10, maxWindows: 3 }).tokensScored).toBe(27);
    expect(() => perplexity(standIn(() => undefined, 0), text, { window: 65 })).toThrowError(/window 65; expected an integer in 2\.\.64/);
    expect(() => perplexity(standIn(() => undefined, 0), [], { window: 8 })).toThrowError(/no tokens/);
  });
});

describe('stories260K float32 perplexity', () => {
  const { checkpoint, tokenizer } = loadStories260K();
  const model = new Transformer(checkpoint, (w, out, inp) => new Float32Linear(w, out, inp));
  const WINDOWS = 12;

  it('beats the unigram model of the very text it scores, by a wide margin, on TinyStories', () => {
    const tokens = tokenizer.encode(tinyStoriesText(), { bos: false }).slice(0, WINDOWS * 255);
    const result = perplexity(model, tokens, { window: 256 });
    // The unigram distribution fitted on the scored tokens themselves is the best context-free predictor
    // of them; a language model trained on TinyStories must do much better. (Measured: about 4.9 vs 120.)
    const counts = new Map<number, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    let entropy = 0;
    for (const c of counts.values()) entropy -= (c / tokens.length) * Math.log(c / tokens.length);
    const unigram = Math.exp(entropy);
    expect(result.tokensScored).toBe(tokens.length);
    expect(result.perplexity).toBeGreaterThan(1);
    expect(result.perplexity).toBeLessThan(unigram / 10);
  });

  it.skipIf(sharedText('wikitext2-test.txt') === undefined)('is far higher on WikiText-2, outside its training domain', () => {
    const stories = perplexity(model, tokenizer.encode(tinyStoriesText(), { bos: false }), { window: 256, maxWindows: 4 });
    const wiki = perplexity(model, tokenizer.encode(sharedText('wikitext2-test.txt')!.slice(0, 20_000), { bos: false }),
      { window: 256, maxWindows: 4 });
    expect(wiki.perplexity).toBeGreaterThan(5 * stories.perplexity);
  });
});
