/**
 * Perplexity over non-overlapping windows, the measure of the bitsandbytes papers' tables.
 *
 * The text is tokenized once (llama2.c encoding, no BOS). Window w holds BOS followed by the next
 * `window - 1` text tokens; the model predicts each text token of the window from BOS and the text
 * tokens before it in that window. Every text token is predicted exactly once, with at most
 * `window - 1` tokens of context. Perplexity = exp(mean negative log-likelihood), the NLL summed in
 * float64 from a max-shifted log-sum-exp of the float32 logits.
 */
import { ExampleError } from './errors.js';
import type { Transformer } from './model.js';
import { BOS_ID } from './tokenizer.js';

export interface PerplexityOptions {
  /** Tokens per window including the leading BOS; at most the model's context. */
  window: number;
  /** Stop after this many windows (for quick runs); default: the whole text. */
  maxWindows?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  perplexity: number;
  meanNll: number;
  tokensScored: number;
  windows: number;
}

/** How many windows `textTokens` tokens make, capped by maxWindows. */
export function windowCount(textTokens: number, window: number, maxWindows = Infinity): number {
  return Math.min(Math.ceil(textTokens / (window - 1)), maxWindows);
}

/** What scoring needs of a model (the Transformer, or a stand-in with known logits in tests). */
export type ScoredModel = Pick<Transformer, 'config' | 'forward'>;

export function perplexity(model: ScoredModel, textTokens: readonly number[], options: PerplexityOptions): PerplexityResult {
  const { window } = options;
  const vocab = model.config.vocabSize;
  if (!Number.isInteger(window) || window < 2 || window > model.config.seqLen) {
    throw new ExampleError('E_BAD_ARGUMENT', `window ${window}; expected an integer in 2..${model.config.seqLen} (the model's context)`);
  }
  if (textTokens.length === 0) {
    throw new ExampleError('E_BAD_ARGUMENT', 'the text has no tokens; expected a non-empty text to score');
  }
  const total = windowCount(textTokens.length, window, options.maxWindows);
  let nll = 0;
  let scored = 0;
  for (let w = 0; w < total; w++) {
    const text = textTokens.slice(w * (window - 1), (w + 1) * (window - 1));
    const input = [BOS_ID, ...text.slice(0, -1)];
    const logits = model.forward(input, 0, { allLogits: true });
    for (let t = 0; t < text.length; t++) {
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      let max = -Infinity;
      for (const l of row) if (l > max) max = l;
      let sum = 0;
      for (const l of row) sum += Math.exp(l - max);
      nll += max + Math.log(sum) - row[text[t]];
    }
    scored += text.length;
    options.onProgress?.(w + 1, total);
  }
  const meanNll = nll / scored;
  return { perplexity: Math.exp(meanNll), meanNll, tokensScored: scored, windows: total };
}
