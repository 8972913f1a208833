/**
 * Text generation as llama2.c's `generate`: the prompt (with BOS) is run through the model, then one
 * token at a time is chosen and fed back, streaming its text, until the step budget, the end of the
 * context, or a BOS/EOS token (TinyStories marks the end of a story with the next story's BOS).
 */
import type { Transformer } from './model.js';
import type { Sampler } from './sampler.js';
import { BOS_ID, EOS_ID, TokenTextStream, type Tokenizer } from './tokenizer.js';

export interface GenerateOptions {
  /** New tokens to produce at most. */
  steps: number;
  sampler: Sampler;
  /** Called with each piece of text as soon as it is complete UTF-8. */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  /** The prompt tokens (with BOS) followed by the generated ones. */
  tokens: number[];
  /** The generated text only. */
  text: string;
  generatedTokens: number;
  prefillMs: number;
  /** Mean wall time of one generation step: sampling plus a single-token forward pass. */
  msPerToken: number;
}

export function generate(model: Transformer, tokenizer: Tokenizer, prompt: string, options: GenerateOptions): GenerateResult {
  const tokens = tokenizer.encode(prompt, { bos: true });
  const stream = new TokenTextStream(tokenizer);
  let text = '';
  const emit = (piece: string) => {
    if (piece.length === 0) return;
    text += piece;
    options.onText?.(piece);
  };
  // The prompt's own text is echoed, as llama2.c does, so the output reads as one story.
  for (let i = 1; i < tokens.length; i++) emit(stream.push(tokens[i - 1], tokens[i]));

  const seqLen = model.config.seqLen;
  const prefillStart = performance.now();
  let logits = model.forward(tokens, 0);
  const prefillMs = performance.now() - prefillStart;
  let generated = 0;
  const decodeStart = performance.now();
  while (generated < options.steps && tokens.length < seqLen) {
    const next = options.sampler.sample(logits);
    if (next === BOS_ID || next === EOS_ID) break;
    emit(stream.push(tokens[tokens.length - 1], next));
    tokens.push(next);
    generated++;
    // Every generated token gets its forward pass (even the last), so the mean below is a full step.
    if (tokens.length < seqLen) logits = model.forward([next], tokens.length - 1);
  }
  const decodeMs = performance.now() - decodeStart;
  emit(stream.flush());
  return {
    tokens,
    text,
    generatedTokens: generated,
    prefillMs,
    msPerToken: generated > 0 ? decodeMs / generated : 0,
  };
}
