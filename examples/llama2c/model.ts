/**
 * The Llama-2 forward pass of llama2.c's run.c, for a batch of consecutive positions at once.
 *
 * Per layer: x += Wo·attn(RoPE(Wq·n), RoPE(Wk·n), Wv·n) with n = RMSNorm(x), then
 *            x += W2·(silu(W1·n') ⊙ W3·n') with n' = RMSNorm(x).
 * The seven matrices of each layer are `LinearLayer`s (float32 or lowbit-quantized); the token
 * embedding, the tied classifier and the RMSNorm weights stay float32, as bitsandbytes leaves
 * `lm_head`, embeddings and norms unquantized.
 *
 * Activations are row-major [T, features] for the T positions of one call, so each linear layer sees
 * T rows (LLM.int8()'s outlier columns are found over all rows of a call, as in bitsandbytes).
 * The KV cache is [layer][position][kvDim]; a call at startPos overwrites positions startPos..startPos+T-1.
 */
import type { Checkpoint, LayerWeights, ModelConfig } from './checkpoint.js';
import { ExampleError } from './errors.js';
import type { LinearFactory, LinearLayer } from './linear.js';

const RMS_EPS = 1e-5;
const ROPE_THETA = 10000;

interface Block {
  rmsAtt: Float32Array;
  rmsFfn: Float32Array;
  wq: LinearLayer;
  wk: LinearLayer;
  wv: LinearLayer;
  wo: LinearLayer;
  w1: LinearLayer;
  w2: LinearLayer;
  w3: LinearLayer;
}

type MatrixName = 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3';

/**
 * What the model is built from: a llama2.c checkpoint (float32 matrices, turned into layers by the
 * factory), or the same with some matrices already built as layers (a transformers checkpoint whose
 * linear layers were loaded quantized, see hf-checkpoint.ts).
 */
export type ModelWeights = Omit<Checkpoint, 'layers'> & {
  layers: Array<Omit<LayerWeights, MatrixName> & Record<MatrixName, Float32Array | LinearLayer>>;
};

export interface ForwardOptions {
  /** Return logits for every position (perplexity) instead of only the last one (generation). */
  allLogits?: boolean;
}

export class Transformer {
  readonly config: ModelConfig;
  private readonly blocks: Block[];
  private readonly tokenEmbedding: Float32Array;
  private readonly classifier: Float32Array;
  private readonly rmsFinal: Float32Array;
  private readonly keyCache: Float32Array;
  private readonly valueCache: Float32Array;
  /** cos/sin of RoPE angles, [seqLen, headSize/2]: they depend on position and pair index only. */
  private readonly ropeCos: Float32Array;
  private readonly ropeSin: Float32Array;
  private disposed = false;

  constructor(checkpoint: ModelWeights, makeLinear: LinearFactory) {
    const c = checkpoint.config;
    this.config = c;
    this.tokenEmbedding = checkpoint.tokenEmbedding;
    this.classifier = checkpoint.classifier;
    this.rmsFinal = checkpoint.rmsFinal;
    this.blocks = [];
    try {
      for (const w of checkpoint.layers) {
        const block: Partial<Block> = { rmsAtt: w.rmsAtt, rmsFfn: w.rmsFfn };
        this.blocks.push(block as Block); // pushed first so that dispose() frees a partly built block
        const build = (m: Float32Array | LinearLayer, out: number, inp: number): LinearLayer => {
          if (m instanceof Float32Array) return makeLinear(m, out, inp);
          if (m.outFeatures !== out || m.inFeatures !== inp) {
            throw new ExampleError('E_CHECKPOINT_MALFORMED', `a linear layer is [${m.outFeatures}, ${m.inFeatures}]; expected [${out}, ${inp}]`);
          }
          return m;
        };
        block.wq = build(w.wq, c.dim, c.dim);
        block.wk = build(w.wk, c.kvDim, c.dim);
        block.wv = build(w.wv, c.kvDim, c.dim);
        block.wo = build(w.wo, c.dim, c.dim);
        block.w1 = build(w.w1, c.hiddenDim, c.dim);
        block.w2 = build(w.w2, c.dim, c.hiddenDim);
        block.w3 = build(w.w3, c.hiddenDim, c.dim);
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
    this.keyCache = new Float32Array(c.nLayers * c.seqLen * c.kvDim);
    this.valueCache = new Float32Array(c.nLayers * c.seqLen * c.kvDim);
    const half = c.headSize / 2;
    this.ropeCos = new Float32Array(c.seqLen * half);
    this.ropeSin = new Float32Array(c.seqLen * half);
    for (let pos = 0; pos < c.seqLen; pos++) {
      for (let j = 0; j < half; j++) {
        const angle = pos / Math.pow(ROPE_THETA, (2 * j) / c.headSize);
        this.ropeCos[pos * half + j] = Math.cos(angle);
        this.ropeSin[pos * half + j] = Math.sin(angle);
      }
    }
  }

  /** All quantizable linear layers, in file order per layer (wq wk wv wo w1 w2 w3). */
  linearLayers(): LinearLayer[] {
    return this.blocks.flatMap((b) => [b.wq, b.wk, b.wv, b.wo, b.w1, b.w2, b.w3].filter((l) => l !== undefined));
  }

  /** Bytes of the linear layers' weights as stored (quantized or float). */
  linearWeightBytes(): number {
    return this.linearLayers().reduce((sum, layer) => sum + layer.weightBytes(), 0);
  }

  /** Bytes of the parameters kept in float32: embedding (= classifier when tied), norms. */
  floatWeightBytes(): number {
    const c = this.config;
    const classifier = c.sharedClassifier ? 0 : c.vocabSize * c.dim;
    return 4 * (c.vocabSize * c.dim + classifier + 2 * c.nLayers * c.dim + c.dim);
  }

  /** Outlier columns seen by the LLM.int8() layers since construction; undefined when none has the path. */
  outlierStats(): { calls: number; totalOutlierColumns: number } | undefined {
    let found = false;
    let calls = 0;
    let totalOutlierColumns = 0;
    for (const layer of this.linearLayers()) {
      const stats = layer.outlierStats?.();
      if (!stats) continue;
      found = true;
      calls += stats.calls;
      totalOutlierColumns += stats.totalOutlierColumns;
    }
    return found ? { calls, totalOutlierColumns } : undefined;
  }

  /**
   * Run tokens at positions startPos.. and return logits: [vocab] for the last position, or
   * [tokens.length, vocab] with `allLogits`.
   */
  forward(tokens: readonly number[], startPos: number, options: ForwardOptions = {}): Float32Array {
    const c = this.config;
    const T = tokens.length;
    if (this.disposed) throw new ExampleError('E_BAD_ARGUMENT', 'the model was disposed; expected a live model');
    if (T === 0 || !Number.isInteger(startPos) || startPos < 0 || startPos + T > c.seqLen) {
      throw new ExampleError('E_BAD_ARGUMENT',
        `positions ${startPos}..${startPos + T - 1} for ${T} tokens; expected 1+ tokens within the context 0..${c.seqLen - 1}`);
    }
    const { dim, kvDim, hiddenDim } = c;
    const x = new Float32Array(T * dim);
    tokens.forEach((token, t) => {
      if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
        throw new ExampleError('E_BAD_ARGUMENT', `token id ${token} at index ${t}; expected an integer in 0..${c.vocabSize - 1}`);
      }
      x.set(this.tokenEmbedding.subarray(token * dim, (token + 1) * dim), t * dim);
    });
    const normed = new Float32Array(T * dim);
    const attnOut = new Float32Array(T * dim);
    const scores = new Float32Array(c.seqLen);

    this.blocks.forEach((block, layer) => {
      rmsNorm(normed, x, block.rmsAtt, T, dim);
      const q = block.wq.forward(normed, T);
      const k = block.wk.forward(normed, T);
      const v = block.wv.forward(normed, T);
      for (let t = 0; t < T; t++) {
        this.rotate(q, t * dim, dim, startPos + t);
        this.rotate(k, t * kvDim, kvDim, startPos + t);
      }
      const cacheBase = layer * c.seqLen * kvDim;
      this.keyCache.set(k, cacheBase + startPos * kvDim);
      this.valueCache.set(v, cacheBase + startPos * kvDim);
      this.attend(attnOut, q, cacheBase, startPos, T, scores);
      addInPlace(x, block.wo.forward(attnOut, T));

      rmsNorm(normed, x, block.rmsFfn, T, dim);
      const gate = block.w1.forward(normed, T);
      const up = block.w3.forward(normed, T);
      for (let i = 0; i < T * hiddenDim; i++) {
        const g = gate[i];
        gate[i] = (g / (1 + Math.exp(-g))) * up[i]; // SwiGLU: silu(w1·x) ⊙ (w3·x)
      }
      addInPlace(x, block.w2.forward(gate, T));
    });

    const firstRow = options.allLogits ? 0 : T - 1;
    const rows = T - firstRow;
    rmsNorm(normed, x, this.rmsFinal, T, dim);
    return classify(this.classifier, normed.subarray(firstRow * dim), rows, c.vocabSize, dim);
  }

  /** RoPE on adjacent pairs (2j, 2j+1) inside each head of a [features] row at `offset`. */
  private rotate(vec: Float32Array, offset: number, features: number, pos: number): void {
    const half = this.config.headSize / 2;
    const base = pos * half;
    for (let i = 0; i < features; i += 2) {
      const j = (i % this.config.headSize) / 2;
      const cos = this.ropeCos[base + j];
      const sin = this.ropeSin[base + j];
      const a = vec[offset + i];
      const b = vec[offset + i + 1];
      vec[offset + i] = a * cos - b * sin;
      vec[offset + i + 1] = a * sin + b * cos;
    }
  }

  /** Causal grouped-query attention of T query rows against the cache up to each row's position. */
  private attend(out: Float32Array, q: Float32Array, cacheBase: number, startPos: number, T: number, scores: Float32Array): void {
    const { dim, kvDim, headSize, nHeads, nKvHeads } = this.config;
    const { keyCache, valueCache } = this; // locals: this is the hottest loop of a long window
    const queriesPerKv = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headSize);
    out.fill(0);
    for (let t = 0; t < T; t++) {
      const last = startPos + t;
      for (let h = 0; h < nHeads; h++) {
        const qOff = t * dim + h * headSize;
        const kvOff = Math.floor(h / queriesPerKv) * headSize;
        let max = -Infinity;
        for (let p = 0; p <= last; p++) {
          const kOff = cacheBase + p * kvDim + kvOff;
          let dot = 0;
          for (let i = 0; i < headSize; i++) dot += q[qOff + i] * keyCache[kOff + i];
          scores[p] = dot * scale;
          if (scores[p] > max) max = scores[p];
        }
        let sum = 0;
        for (let p = 0; p <= last; p++) {
          scores[p] = Math.exp(scores[p] - max);
          sum += scores[p];
        }
        for (let p = 0; p <= last; p++) {
          const weight = scores[p] / sum;
          const vOff = cacheBase + p * kvDim + kvOff;
          for (let i = 0; i < headSize; i++) out[qOff + i] += weight * valueCache[vOff + i];
        }
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const layer of this.linearLayers()) layer.dispose();
  }
}

/** out[t] = w ⊙ x[t] / sqrt(mean(x[t]²) + eps), row by row. */
function rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[off + i] * x[off + i];
    const inv = 1 / Math.sqrt(ss / dim + RMS_EPS);
    for (let i = 0; i < dim; i++) out[off + i] = weight[i] * (inv * x[off + i]);
  }
}

function addInPlace(acc: Float32Array, delta: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += delta[i];
}

/** Logits [rows, vocab] = x [rows, dim] · Eᵀ with the float32 classifier E [vocab, dim]. */
function classify(classifier: Float32Array, x: Float32Array, rows: number, vocab: number, dim: number): Float32Array {
  const logits = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < vocab; v++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += classifier[v * dim + i] * x[r * dim + i];
      logits[r * vocab + v] = s;
    }
  }
  return logits;
}
