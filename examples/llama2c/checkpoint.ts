/**
 * Loader for llama2.c "legacy v0" checkpoints (the format of stories260K.bin).
 *
 * Layout (little-endian): a 7 × int32 header
 *   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 * then float32 arrays, row-major [out, in] so that y = W·x:
 *   token_embedding [vocab, dim]; rms_att [L, dim]; wq [L, dim, dim]; wk [L, kvDim, dim];
 *   wv [L, kvDim, dim]; wo [L, dim, dim]; rms_ffn [L, dim]; w1 [L, hidden, dim]; w2 [L, dim, hidden];
 *   w3 [L, hidden, dim]; rms_final [dim]; freq_cis_real, freq_cis_imag [seq_len, headSize/2] each;
 *   and, only when vocab_size is negative, a separate classifier [|vocab|, dim].
 * A positive vocab_size means the classifier shares the token embedding.
 *
 * The loader checks the header for sense and the file length against the exact size the header
 * implies, so a truncated or foreign file fails here with a typed error rather than as garbage text.
 */
import { readFileSync } from 'node:fs';

import { ExampleError } from './errors.js';

export const HEADER_INT32_COUNT = 7;
export const HEADER_BYTES = HEADER_INT32_COUNT * 4;

/** Largest value accepted for any header field: far above any llama2.c model, far below overflow. */
const MAX_HEADER_VALUE = 1 << 20;

export interface ModelConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** True when the classifier is the token embedding (positive vocab_size in the file). */
  sharedClassifier: boolean;
  headSize: number;
  kvDim: number;
}

/** Per-layer float32 weights, each a row-major [out, in] matrix or a [dim] norm vector. */
export interface LayerWeights {
  rmsAtt: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  rmsFfn: Float32Array;
  w1: Float32Array;
  w2: Float32Array;
  w3: Float32Array;
}

export interface Checkpoint {
  config: ModelConfig;
  tokenEmbedding: Float32Array;
  layers: LayerWeights[];
  rmsFinal: Float32Array;
  /** The classifier [vocab, dim]; the same array as tokenEmbedding when shared. */
  classifier: Float32Array;
  /** Total file size in bytes, for reporting. */
  fileBytes: number;
}

function parseConfig(header: Int32Array, source: string): ModelConfig {
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = Array.from(header);
  const fields: Array<[string, number]> = [
    ['dim', dim], ['hidden_dim', hiddenDim], ['n_layers', nLayers], ['n_heads', nHeads],
    ['n_kv_heads', nKvHeads], ['|vocab_size|', Math.abs(rawVocab)], ['seq_len', seqLen],
  ];
  for (const [name, value] of fields) {
    if (!(value > 0 && value <= MAX_HEADER_VALUE)) {
      throw new ExampleError('E_CHECKPOINT_MALFORMED',
        `${source}: header field ${name} is ${value}; expected an integer in 1..${MAX_HEADER_VALUE} ` +
        '(is this a llama2.c legacy-v0 checkpoint?)');
    }
  }
  if (dim % nHeads !== 0) {
    throw new ExampleError('E_CHECKPOINT_MALFORMED',
      `${source}: dim ${dim} is not a multiple of n_heads ${nHeads}; expected dim = n_heads × head_size`);
  }
  const headSize = dim / nHeads;
  if (headSize % 2 !== 0) {
    throw new ExampleError('E_CHECKPOINT_MALFORMED',
      `${source}: head size ${headSize} is odd; expected an even head size (RoPE rotates pairs)`);
  }
  if (nKvHeads > nHeads || nHeads % nKvHeads !== 0) {
    throw new ExampleError('E_CHECKPOINT_MALFORMED',
      `${source}: n_kv_heads ${nKvHeads} does not divide n_heads ${nHeads}; expected a divisor for grouped-query attention`);
  }
  return {
    dim, hiddenDim, nLayers, nHeads, nKvHeads,
    vocabSize: Math.abs(rawVocab),
    seqLen,
    sharedClassifier: rawVocab > 0,
    headSize,
    kvDim: headSize * nKvHeads,
  };
}

/** Number of float32 values the payload must hold for this config (in file order). */
export function expectedFloatCount(c: ModelConfig): number {
  const perLayer = c.dim /* rms_att */ + c.dim * c.dim /* wq */ + 2 * c.kvDim * c.dim /* wk, wv */ +
    c.dim * c.dim /* wo */ + c.dim /* rms_ffn */ + 3 * c.hiddenDim * c.dim /* w1, w2, w3 */;
  const freqCis = c.seqLen * c.headSize; // real and imaginary parts, [seq_len, headSize/2] each
  return c.vocabSize * c.dim + c.nLayers * perLayer + c.dim + freqCis +
    (c.sharedClassifier ? 0 : c.vocabSize * c.dim);
}

/** Parse a checkpoint held in memory. `source` names it in error messages. */
export function parseCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new ExampleError('E_CHECKPOINT_TRUNCATED',
      `${source}: file is ${bytes.byteLength} bytes; expected at least the ${HEADER_BYTES}-byte header (7 int32)`);
  }
  // Copies, not views (a Node Buffer's slice() is a view into a larger, maybe unaligned, ArrayBuffer).
  const copy = (begin: number, end: number) => Uint8Array.prototype.slice.call(bytes, begin, end).buffer;
  const header = new Int32Array(copy(0, HEADER_BYTES));
  const config = parseConfig(header, source);
  const floatCount = expectedFloatCount(config);
  const expectedBytes = HEADER_BYTES + 4 * floatCount;
  if (bytes.byteLength < expectedBytes) {
    throw new ExampleError('E_CHECKPOINT_TRUNCATED',
      `${source}: file is ${bytes.byteLength} bytes; expected ${expectedBytes} bytes for dim ${config.dim}, ` +
      `hidden_dim ${config.hiddenDim}, ${config.nLayers} layers, vocab ${config.vocabSize}, seq_len ${config.seqLen} ` +
      `(missing ${expectedBytes - bytes.byteLength} bytes)`);
  }
  if (bytes.byteLength > expectedBytes) {
    throw new ExampleError('E_CHECKPOINT_MALFORMED',
      `${source}: file is ${bytes.byteLength} bytes; expected exactly ${expectedBytes} bytes for the header's shape ` +
      `(${bytes.byteLength - expectedBytes} extra bytes: a different llama2.c format version?)`);
  }
  const payload = new Float32Array(copy(HEADER_BYTES, expectedBytes));
  for (let i = 0; i < payload.length; i++) {
    if (!Number.isFinite(payload[i])) {
      throw new ExampleError('E_CHECKPOINT_MALFORMED',
        `${source}: weight value #${i} (byte offset ${HEADER_BYTES + 4 * i}) is ${payload[i]}; expected finite float32 weights`);
    }
  }

  let cursor = 0;
  const take = (count: number): Float32Array => {
    const view = payload.subarray(cursor, cursor + count);
    cursor += count;
    return view;
  };
  const { dim, hiddenDim, nLayers, kvDim, vocabSize, seqLen, headSize } = config;
  const tokenEmbedding = take(vocabSize * dim);
  // The file stores each kind of tensor for all layers together; regroup them per layer.
  const rmsAtt = take(nLayers * dim);
  const wq = take(nLayers * dim * dim);
  const wk = take(nLayers * kvDim * dim);
  const wv = take(nLayers * kvDim * dim);
  const wo = take(nLayers * dim * dim);
  const rmsFfn = take(nLayers * dim);
  const w1 = take(nLayers * hiddenDim * dim);
  const w2 = take(nLayers * dim * hiddenDim);
  const w3 = take(nLayers * hiddenDim * dim);
  const rmsFinal = take(dim);
  take(seqLen * headSize); // freq_cis_real and freq_cis_imag: RoPE is computed instead
  const classifier = config.sharedClassifier ? tokenEmbedding : take(vocabSize * dim);

  const slice = (all: Float32Array, layer: number, size: number) => all.subarray(layer * size, (layer + 1) * size);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    layers.push({
      rmsAtt: slice(rmsAtt, l, dim),
      wq: slice(wq, l, dim * dim),
      wk: slice(wk, l, kvDim * dim),
      wv: slice(wv, l, kvDim * dim),
      wo: slice(wo, l, dim * dim),
      rmsFfn: slice(rmsFfn, l, dim),
      w1: slice(w1, l, hiddenDim * dim),
      w2: slice(w2, l, dim * hiddenDim),
      w3: slice(w3, l, hiddenDim * dim),
    });
  }
  return { config, tokenEmbedding, layers, rmsFinal, classifier, fileBytes: bytes.byteLength };
}

/** Read and parse a checkpoint file. */
export function loadCheckpoint(path: string): Checkpoint {
  return parseCheckpoint(readFileSync(path), path);
}
