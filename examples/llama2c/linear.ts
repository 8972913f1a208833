/**
 * The linear layers of the example model, behind one small interface so that the forward pass does not
 * care which kind it runs: plain float32 (written here, the baseline) or lowbit's quantized layers.
 *
 * Only `lowbit-layers.ts` imports lowbit; it is loaded on demand, so the float32 model, the tokenizer and
 * their tests work even where the native addon is not built.
 */
import { ExampleError } from './errors.js';

/** A linear map y = W·x with W row-major [outFeatures, inFeatures] and no bias (llama2.c has none). */
export interface LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x is [rows, inFeatures] row-major; returns [rows, outFeatures]. */
  forward(x: Float32Array, rows: number): Float32Array;
  /** Bytes of weight storage, with every quantization statistic the layer keeps. */
  weightBytes(): number;
  /** LLM.int8() outlier statistics; undefined for layers without an outlier path. */
  outlierStats?(): { calls: number; totalOutlierColumns: number } | undefined;
  dispose(): void;
}

export const QUANT_KINDS = ['fp32', 'int8', 'int8-t6', 'nf4', 'fp4', 'nf4-dq', 'fp4-dq'] as const;
export type QuantKind = (typeof QUANT_KINDS)[number];

/** What each kind means, in bitsandbytes' terms. */
export const QUANT_DESCRIPTIONS: Record<QuantKind, string> = {
  'fp32': 'float32 weights (baseline)',
  'int8': 'LLM.int8() Linear8bitLt, threshold 0 (no outlier path)',
  'int8-t6': 'LLM.int8() Linear8bitLt, threshold 6 (fp outlier columns), has_fp16_weights false',
  'nf4': 'Linear4bit NF4, blocksize 64',
  'fp4': 'Linear4bit FP4, blocksize 64',
  'nf4-dq': 'Linear4bit NF4, blocksize 64, double quantization',
  'fp4-dq': 'Linear4bit FP4, blocksize 64, double quantization',
};

/** Block size of the 4-bit kinds (bitsandbytes' default). */
export const BLOCKSIZE_4BIT = 64;

export function isQuantKind(value: string): value is QuantKind {
  return (QUANT_KINDS as readonly string[]).includes(value);
}

export type LinearFactory = (weight: Float32Array, outFeatures: number, inFeatures: number) => LinearLayer;

/**
 * Float32 linear layer in plain TypeScript. Each output is a dot product of a weight row with an input
 * row, accumulated in four independent float64 partial sums (breaks the add dependency chain).
 */
export class Float32Linear implements LinearLayer {
  constructor(
    private readonly weight: Float32Array,
    readonly outFeatures: number,
    readonly inFeatures: number,
  ) {
    if (weight.length !== outFeatures * inFeatures) {
      throw new ExampleError('E_BAD_ARGUMENT',
        `weight has ${weight.length} values; expected outFeatures × inFeatures = ${outFeatures} × ${inFeatures}`);
    }
  }

  forward(x: Float32Array, rows: number): Float32Array {
    const { weight, inFeatures: k, outFeatures: n } = this;
    if (x.length !== rows * k) {
      throw new ExampleError('E_BAD_ARGUMENT', `input has ${x.length} values; expected rows × inFeatures = ${rows} × ${k}`);
    }
    const y = new Float32Array(rows * n);
    const k4 = k - (k % 4);
    for (let r = 0; r < rows; r++) {
      const xOff = r * k;
      for (let o = 0; o < n; o++) {
        const wOff = o * k;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let i = 0;
        for (; i < k4; i += 4) {
          s0 += weight[wOff + i] * x[xOff + i];
          s1 += weight[wOff + i + 1] * x[xOff + i + 1];
          s2 += weight[wOff + i + 2] * x[xOff + i + 2];
          s3 += weight[wOff + i + 3] * x[xOff + i + 3];
        }
        for (; i < k; i++) s0 += weight[wOff + i] * x[xOff + i];
        y[r * n + o] = s0 + s1 + s2 + s3;
      }
    }
    return y;
  }

  weightBytes(): number {
    return this.weight.length * 4;
  }

  dispose(): void {}
}

/**
 * The factory for a kind. Quantized kinds load lowbit on first use and fail with E_LAYERS_UNAVAILABLE,
 * naming the cause, when it cannot be loaded (for example: the native addon is not built).
 */
export async function linearFactory(kind: QuantKind): Promise<LinearFactory> {
  if (!isQuantKind(kind)) {
    throw new ExampleError('E_BAD_ARGUMENT', `unknown quantization ${JSON.stringify(kind)}; expected one of ${QUANT_KINDS.join(', ')}`);
  }
  if (kind === 'fp32') return (w, out, inp) => new Float32Linear(w, out, inp);
  let adapter: typeof import('./lowbit-layers.js');
  try {
    adapter = await import('./lowbit-layers.js');
  } catch (cause) {
    throw new ExampleError('E_LAYERS_UNAVAILABLE',
      `quantization ${kind} needs lowbit's layers, which could not be loaded (${(cause as Error).message}); ` +
      'expected a built package (npm run build) — the float32 kind works without it');
  }
  const probe = adapter.probeLowbit();
  if (!probe.available) {
    throw new ExampleError('E_LAYERS_UNAVAILABLE',
      `quantization ${kind} needs lowbit's layers, which do not work here (${probe.reason}); ` +
      'expected a build of lowbit with its CPU or CUDA kernels — the float32 kind works without it');
  }
  return adapter.lowbitFactory(kind);
}

/** True when lowbit's quantized layers can be loaded here (used by the demo and by tests' skipIf). */
export async function lowbitLayersAvailable(): Promise<{ available: boolean; reason: string }> {
  try {
    const adapter = await import('./lowbit-layers.js');
    return adapter.probeLowbit();
  } catch (cause) {
    return { available: false, reason: (cause as Error).message };
  }
}
