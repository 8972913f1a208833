/**
 * Choosing the next token from logits: greedy (temperature 0) or sampled from softmax(logits / T),
 * optionally restricted to the smallest set of tokens whose probability reaches top-p (nucleus).
 * Sampling uses a seeded xorshift32 generator so that a seed reproduces a story.
 */
import { ExampleError } from './errors.js';

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Marsaglia's xorshift32: tiny, fast, plenty for picking tokens. Yields floats in [0, 1). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new ExampleError('E_BAD_ARGUMENT', `seed ${seed}; expected an integer`);
    // Spread the seed over the bits (a multiplicative hash); xorshift needs a non-zero state.
    this.state = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) >>> 0) || 1;
  }

  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x100000000;
  }
}

export interface SamplerOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus threshold in (0, 1]; 1 disables it. */
  topP: number;
  seed: number;
}

export class Sampler {
  private readonly rng: Rng;

  constructor(private readonly options: SamplerOptions) {
    if (!(options.temperature >= 0 && Number.isFinite(options.temperature))) {
      throw new ExampleError('E_BAD_ARGUMENT', `temperature ${options.temperature}; expected a finite number ≥ 0 (0 = greedy)`);
    }
    if (!(options.topP > 0 && options.topP <= 1)) {
      throw new ExampleError('E_BAD_ARGUMENT', `top-p ${options.topP}; expected a number in (0, 1]`);
    }
    this.rng = new Rng(options.seed);
  }

  sample(logits: Float32Array): number {
    const { temperature, topP } = this.options;
    if (temperature === 0) return argmax(logits);
    const probs = new Float64Array(logits.length);
    let max = -Infinity;
    for (const l of logits) if (l > max) max = l;
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      probs[i] = Math.exp((logits[i] - max) / temperature);
      sum += probs[i];
    }
    for (let i = 0; i < probs.length; i++) probs[i] /= sum;
    let order = Array.from(probs.keys());
    if (topP < 1) {
      order.sort((a, b) => probs[b] - probs[a]);
      let mass = 0;
      let keep = 0;
      while (keep < order.length && mass < topP) mass += probs[order[keep++]];
      order = order.slice(0, keep);
    }
    const total = order.reduce((s, i) => s + probs[i], 0);
    let u = this.rng.next() * total;
    for (const i of order) {
      u -= probs[i];
      if (u < 0) return i;
    }
    return order[order.length - 1]; // rounding left u ≥ 0: the last candidate
  }
}
