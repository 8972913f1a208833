/**
 * A transformers Llama checkpoint directory (`config.json` + `model.safetensors` or shards), float or
 * saved by transformers with bitsandbytes 4-bit / 8-bit quantization, as the example's model.
 *
 * The linear layers are lowbit's, built from bitsandbytes' keys by lowbit's `BnbCheckpoint`
 * (Linear4bit for `load_in_4bit`, Linear8bitLt for `load_in_8bit`, checked against
 * `quantization_config`); float weights (an unquantized checkpoint, or modules bitsandbytes skips)
 * become the example's float32 layers. Embeddings and norms are read as float32.
 *
 * RoPE layout. llama2.c rotates adjacent pairs (2j, 2j+1) of each head; transformers rotates
 * (j, j + headSize/2) ("rotate_half"), and its converter permutes the rows of q_proj and k_proj so
 * that the two compute the same thing. Instead of un-permuting weight rows (impossible in place for
 * 4-bit blocks that span rows), q and k outputs are permuted back: llama2.c row 2j of a head is
 * transformers row j, row 2j+1 is row j + headSize/2. A permutation of outputs is exact for every
 * layer kind.
 *
 * LLM.int8() activations. bitsandbytes' Linear8bitLt casts its input to float16 before quantizing
 * it (`x.to(float16)`, on CPU and CUDA alike); lowbit's layer quantizes float32 input as it is. The
 * int8 layers here therefore get float16-rounded input, which makes the row scales and int8 codes
 * the ones bitsandbytes computes. (One remaining difference: bitsandbytes multiplies the outlier
 * columns with the original float32 values, these layers with the float16-rounded ones.)
 *
 * Names (transformers → llama2.c): embed_tokens → token embedding; input_layernorm → rms_att;
 * q/k/v/o_proj → wq/wk/wv/wo; post_attention_layernorm → rms_ffn; gate_proj → w1; down_proj → w2;
 * up_proj → w3; model.norm → rms_final; lm_head (absent when tied) → classifier.
 */
import { BnbCheckpoint, LowbitError, Tensor, type BnbQuantization } from '../../lib/index.js';

import type { ModelConfig } from './checkpoint.js';
import { ExampleError } from './errors.js';
import { Float32Linear, type LinearLayer } from './linear.js';
import { LowbitLinear } from './lowbit-layers.js';
import type { ModelWeights } from './model.js';

/** What the example's model computes; a config asking for anything else is refused, not approximated. */
const SUPPORTED = { rmsNormEps: 1e-5, ropeTheta: 10000, act: 'silu' } as const;

export interface HfModel {
  weights: ModelWeights;
  /** "float32", "bitsandbytes 4-bit nf4 (double quant)", "bitsandbytes 8-bit (threshold 6)". */
  description: string;
  quantization: BnbQuantization | null;
}

function num(cfg: Record<string, unknown>, key: string, dir: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}/config.json: ${key} is ${JSON.stringify(v)}; expected a positive integer`);
  }
  return v;
}

function parseHfConfig(cfg: Record<string, unknown>, dir: string): ModelConfig {
  const bad = (what: string) => new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}/config.json: ${what}`);
  if (cfg.model_type !== 'llama') throw bad(`model_type is ${JSON.stringify(cfg.model_type)}; expected "llama"`);
  const dim = num(cfg, 'hidden_size', dir);
  const nHeads = num(cfg, 'num_attention_heads', dir);
  const nKvHeads = cfg.num_key_value_heads === undefined ? nHeads : num(cfg, 'num_key_value_heads', dir);
  const headSize = cfg.head_dim === undefined || cfg.head_dim === null ? dim / nHeads : num(cfg, 'head_dim', dir);
  if (headSize * nHeads !== dim || nHeads % nKvHeads !== 0 || headSize % 2 !== 0) {
    throw bad(`hidden_size ${dim}, ${nHeads} heads of ${headSize}, ${nKvHeads} kv heads; expected hidden_size = heads × an even head_dim and heads a multiple of kv heads`);
  }
  const eps = cfg.rms_norm_eps ?? 1e-6;
  const rope = (cfg.rope_parameters as Record<string, unknown> | undefined) ?? cfg;
  const theta = rope.rope_theta ?? 10000;
  const ropeType = (rope as Record<string, unknown>).rope_type ?? (cfg.rope_scaling as Record<string, unknown> | undefined)?.rope_type ?? 'default';
  if (eps !== SUPPORTED.rmsNormEps) throw bad(`rms_norm_eps is ${String(eps)}; this example computes RMSNorm with eps ${SUPPORTED.rmsNormEps}`);
  if (theta !== SUPPORTED.ropeTheta || ropeType !== 'default') throw bad(`RoPE is ${String(ropeType)} with theta ${String(theta)}; this example computes default RoPE with theta ${SUPPORTED.ropeTheta}`);
  if ((cfg.hidden_act ?? 'silu') !== SUPPORTED.act) throw bad(`hidden_act is ${JSON.stringify(cfg.hidden_act)}; expected "silu"`);
  if (cfg.attention_bias === true || cfg.mlp_bias === true) throw bad('attention_bias / mlp_bias is true; this example has no biases');
  const vocabSize = num(cfg, 'vocab_size', dir);
  return {
    dim, hiddenDim: num(cfg, 'intermediate_size', dir), nLayers: num(cfg, 'num_hidden_layers', dir), nHeads, nKvHeads,
    vocabSize, seqLen: num(cfg, 'max_position_embeddings', dir), sharedClassifier: cfg.tie_word_embeddings === true,
    headSize, kvDim: headSize * nKvHeads,
  };
}

/** Permutes the outputs of a q/k layer from transformers' rotate_half order to llama2.c's adjacent pairs. */
class RopeOrderLinear implements LinearLayer {
  readonly #source = new Int32Array(0);
  constructor(private readonly inner: LinearLayer, headSize: number) {
    const n = inner.outFeatures;
    const half = headSize / 2;
    this.#source = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const head = Math.floor(r / headSize);
      const i = r % headSize;
      this.#source[r] = head * headSize + (i % 2 === 0 ? i / 2 : half + (i - 1) / 2);
    }
  }

  get inFeatures(): number { return this.inner.inFeatures; }
  get outFeatures(): number { return this.inner.outFeatures; }

  forward(x: Float32Array, rows: number): Float32Array {
    const y = this.inner.forward(x, rows);
    const n = this.outFeatures;
    const out = new Float32Array(y.length);
    for (let t = 0; t < rows; t++) for (let r = 0; r < n; r++) out[t * n + r] = y[t * n + this.#source[r]!]!;
    return out;
  }

  weightBytes(): number { return this.inner.weightBytes(); }
  outlierStats() { return this.inner.outlierStats?.(); }
  dispose(): void { this.inner.dispose(); }
}

/** Rounds the input to float16 first, as bitsandbytes' Linear8bitLt does (`x.to(float16)`). */
class Float16InputLinear implements LinearLayer {
  constructor(private readonly inner: LinearLayer) {}

  get inFeatures(): number { return this.inner.inFeatures; }
  get outFeatures(): number { return this.inner.outFeatures; }

  forward(x: Float32Array, rows: number): Float32Array {
    const half = Tensor.from(x, [x.length]).toDType('float16');
    const rounded = half.toFloat32Array();
    half.dispose();
    return this.inner.forward(rounded, rows);
  }

  weightBytes(): number { return this.inner.weightBytes(); }
  outlierStats() { return this.inner.outlierStats?.(); }
  dispose(): void { this.inner.dispose(); }
}

function float32Of(t: Tensor, name: string): Float32Array {
  if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') {
    throw new ExampleError('E_CHECKPOINT_MALFORMED', `${name} is ${t.dtype}; expected a float tensor`);
  }
  return t.toFloat32Array();
}

/**
 * Loads `dir` into the example's model. Errors from lowbit (malformed safetensors, a layer that
 * disagrees with quantization_config, ...) are reported as E_CHECKPOINT_MALFORMED with lowbit's message.
 */
export function loadHfModel(dir: string): HfModel {
  let ck: BnbCheckpoint;
  try {
    ck = BnbCheckpoint.open(dir);
  } catch (e) {
    if (e instanceof LowbitError) throw new ExampleError(e.code === 'LOWBIT_E_ARGUMENT' ? 'E_BAD_ARGUMENT' : 'E_CHECKPOINT_MALFORMED', `--hf ${dir}: ${e.message}`);
    throw e;
  }
  const built: LinearLayer[] = [];
  try {
    const config = parseHfConfig(ck.config, dir);
    const vec = (name: string, n: number) => {
      if (!ck.has(name)) throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}: tensor ${name} is missing`);
      const a = float32Of(ck.tensor(name), name);
      if (a.length !== n) throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}: ${name} has ${a.length} values; expected ${n}`);
      return a;
    };
    const linear = (prefix: string, out: number, inp: number, ropeRows: boolean): LinearLayer => {
      const loaded = ck.linear(`${prefix}.`);
      let layer: LinearLayer;
      if (loaded.kind === 'float') {
        if (loaded.bias) throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}: ${prefix} has a bias; this example has none`);
        layer = new Float32Linear(float32Of(loaded.weight, `${prefix}.weight`), loaded.weight.shape[0]!, loaded.weight.shape[1]!);
      } else {
        if (loaded.layer.bias) throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}: ${prefix} has a bias; this example has none`);
        layer = new LowbitLinear(loaded.layer, loaded.layer.outFeatures, loaded.layer.inFeatures);
        if (loaded.kind === 'linear8bitlt') layer = new Float16InputLinear(layer);
      }
      built.push(layer);
      if (layer.outFeatures !== out || layer.inFeatures !== inp) {
        throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}: ${prefix} is [${layer.outFeatures}, ${layer.inFeatures}]; expected [${out}, ${inp}]`);
      }
      return ropeRows ? new RopeOrderLinear(layer, config.headSize) : layer;
    };
    const { dim, kvDim, hiddenDim, vocabSize } = config;
    const tokenEmbedding = vec('model.embed_tokens.weight', vocabSize * dim);
    const layers: ModelWeights['layers'] = [];
    for (let l = 0; l < config.nLayers; l++) {
      const p = `model.layers.${l}`;
      layers.push({
        rmsAtt: vec(`${p}.input_layernorm.weight`, dim),
        wq: linear(`${p}.self_attn.q_proj`, dim, dim, true),
        wk: linear(`${p}.self_attn.k_proj`, kvDim, dim, true),
        wv: linear(`${p}.self_attn.v_proj`, kvDim, dim, false),
        wo: linear(`${p}.self_attn.o_proj`, dim, dim, false),
        rmsFfn: vec(`${p}.post_attention_layernorm.weight`, dim),
        w1: linear(`${p}.mlp.gate_proj`, hiddenDim, dim, false),
        w2: linear(`${p}.mlp.down_proj`, dim, hiddenDim, false),
        w3: linear(`${p}.mlp.up_proj`, hiddenDim, dim, false),
      });
    }
    const rmsFinal = vec('model.norm.weight', dim);
    let classifier = tokenEmbedding;
    if (!config.sharedClassifier || ck.has('lm_head.weight')) {
      if (!ck.has('lm_head.weight')) throw new ExampleError('E_CHECKPOINT_MALFORMED', `${dir}: lm_head.weight is missing and tie_word_embeddings is not true`);
      classifier = vec('lm_head.weight', vocabSize * dim);
    }
    const q = ck.quantization;
    const description = q === null ? 'float weights'
      : q.bits === 4 ? `bitsandbytes 4-bit ${q.quantType}${q.doubleQuant ? ' + double quant' : ''}, compute ${q.computeDtype}`
        : `bitsandbytes LLM.int8(), threshold ${q.threshold}`;
    return { weights: { config, tokenEmbedding, layers, rmsFinal, classifier, fileBytes: 0 }, description, quantization: q };
  } catch (e) {
    for (const layer of built) layer.dispose();
    if (e instanceof LowbitError) throw new ExampleError('E_CHECKPOINT_MALFORMED', `--hf ${dir}: ${e.message}`);
    throw e;
  } finally {
    ck.close();
  }
}
