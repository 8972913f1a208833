/**
 * The papers' comparison for one quantization: weight bytes, latency per generated token, tokens per
 * second, perplexity, and LLM.int8()'s outlier columns; and the table that lines the kinds up.
 */
import type { Checkpoint } from './checkpoint.js';
import { linearFactory, type QuantKind } from './linear.js';
import { Transformer } from './model.js';
import { perplexity, type PerplexityResult } from './perplexity.js';
import { argmax } from './sampler.js';
import { BOS_ID } from './tokenizer.js';

export interface MeasureOptions {
  /** Text tokens (no BOS) for perplexity. */
  textTokens: readonly number[];
  window: number;
  maxWindows?: number;
  /** Decoding steps timed for latency (greedy, from BOS; the median is reported). */
  latencyTokens: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Measurement {
  /** The quantization kind, or the label of a loaded checkpoint (`--hf`). */
  kind: QuantKind | string;
  linearWeightBytes: number;
  floatWeightBytes: number;
  /** Wall time to build the 35 layers from the float weights (quantization included). */
  buildMs: number;
  msPerToken: number;
  tokensPerSecond: number;
  perplexity: PerplexityResult;
  /** LLM.int8() kinds only: outlier columns seen during the perplexity run, and layer calls. */
  outliers?: { calls: number; totalOutlierColumns: number };
}

/** Build the model for `kind`, time decoding, score the text, dispose. */
export async function measure(checkpoint: Checkpoint, kind: QuantKind, options: MeasureOptions): Promise<Measurement> {
  const factory = await linearFactory(kind);
  return measureModel(kind, () => new Transformer(checkpoint, factory), options);
}

/** The same for a model built by `build` (e.g. loaded from a transformers checkpoint), labelled `kind`. */
export function measureModel(kind: string, build: () => Transformer, options: MeasureOptions): Measurement {
  const buildStart = performance.now();
  const model = build();
  const buildMs = performance.now() - buildStart;
  try {
    decodeLatency(model, 16); // warm-up (JIT, caches)
    const latency = decodeLatency(model, options.latencyTokens);
    const before = model.outlierStats();
    const ppl = perplexity(model, options.textTokens, {
      window: options.window, maxWindows: options.maxWindows, onProgress: options.onProgress,
    });
    const after = model.outlierStats();
    const outliers = after && before
      ? { calls: after.calls - before.calls, totalOutlierColumns: after.totalOutlierColumns - before.totalOutlierColumns }
      : undefined;
    return {
      kind,
      linearWeightBytes: model.linearWeightBytes(),
      floatWeightBytes: model.floatWeightBytes(),
      buildMs,
      msPerToken: latency,
      tokensPerSecond: latency > 0 ? 1000 / latency : 0,
      perplexity: ppl,
      outliers,
    };
  } finally {
    model.dispose();
  }
}

/**
 * Median wall time of one decoding step (a single-token forward pass and the greedy choice), over
 * `tokens` steps from BOS. The median, not the mean: on a shared machine a few steps get descheduled.
 */
function decodeLatency(model: Transformer, tokens: number): number {
  const steps = Math.min(tokens, model.config.seqLen);
  const times = new Float64Array(steps);
  let token = BOS_ID;
  for (let pos = 0; pos < steps; pos++) {
    const start = performance.now();
    token = argmax(model.forward([token], pos));
    times[pos] = performance.now() - start;
  }
  times.sort();
  return steps % 2 ? times[(steps - 1) / 2] : (times[steps / 2 - 1] + times[steps / 2]) / 2;
}

/** A fixed-width text table; the fp32 (or float --hf) row, when present, is the reference for ratios. */
export function formatTable(rows: readonly Measurement[]): string {
  const base = rows.find((r) => r.kind === 'fp32' || r.kind === 'hf-float'); // float weights: the reference
  const header = ['quant', 'linear weights', 'x fp32', 'model bytes', 'ms/token', 'tokens/s', 'perplexity', 'vs fp32', 'outlier cols (per call)'];
  const body = rows.map((r) => [
    r.kind,
    `${r.linearWeightBytes.toLocaleString('en-US')} B`,
    base ? (r.linearWeightBytes / base.linearWeightBytes).toFixed(3) : '-',
    `${(r.linearWeightBytes + r.floatWeightBytes).toLocaleString('en-US')} B`,
    r.msPerToken.toFixed(3),
    r.tokensPerSecond.toFixed(0),
    r.perplexity.perplexity.toFixed(4),
    base ? `${(100 * (r.perplexity.perplexity / base.perplexity.perplexity - 1)).toFixed(2).replace(/^(?!-)/, '+')}%` : '-',
    r.outliers
      ? `${r.outliers.totalOutlierColumns} (${(r.outliers.totalOutlierColumns / Math.max(1, r.outliers.calls)).toFixed(2)})`
      : '-',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
