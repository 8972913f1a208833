/**
 * Layers from transformers + bitsandbytes checkpoints (and back).
 *
 * A checkpoint saved by `save_pretrained` of a model loaded with `BitsAndBytesConfig` is a
 * directory with `config.json` (its `quantization_config` says 4-bit or 8-bit) and
 * `model.safetensors` (or shards with `model.safetensors.index.json`). Each quantized linear
 * module `<prefix>` stores bitsandbytes' keys (spec bitsandbytes-numerics.md §7):
 *
 *   4-bit   <prefix>weight, weight.absmax, weight.quant_map, [weight.nested_absmax,
 *           weight.nested_quant_map], weight.quant_state.bitsandbytes__{nf4|fp4}, [bias]
 *   8-bit   <prefix>weight (int8), SCB, weight_format, [bias]
 *   float   <prefix>weight (F32/F16/BF16), [bias]  (modules left unquantized, e.g. lm_head)
 *
 * `linearFromStateDict` picks the layer from the keys it finds; `BnbCheckpoint` opens a
 * directory, reads tensors one at a time and checks every layer against `quantization_config`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import type { QuantType4bit } from '../core/quant-state.js';
import { Tensor } from '../core/tensor.js';
import { toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError, describeValue } from '../errors.js';
import { Linear4bit } from '../nn/linear-4bit.js';
import { Linear8bitLt } from '../nn/linear-8bit-lt.js';
import { SafetensorsCheckpoint, writeSafetensors } from './safetensors.js';
import { linear4bitFromStateDict, linear4bitToStateDict } from './state-dict-4bit.js';
import { linear8bitLtFromStateDict, linear8bitLtStateDict } from './state-dict-8bit.js';

/** A linear module read from a state dict: a lowbit layer, or the float weights of an unquantized one. */
export type LoadedLinear =
  | { kind: 'linear4bit'; layer: Linear4bit }
  | { kind: 'linear8bitlt'; layer: Linear8bitLt }
  | { kind: 'float'; weight: Tensor; bias: Tensor | null };

export interface LinearFromStateDictOptions {
  /** Compute dtype of a 4-bit layer (bitsandbytes' `bnb_4bit_compute_dtype`; default: see Linear4bit). */
  computeDtype?: FloatDType;
  /** Outlier threshold of an 8-bit layer (transformers' `llm_int8_threshold`, default 6.0). */
  threshold?: number;
  /** Reproduce bitsandbytes' float16 int8 path exactly (see Linear8bitLt). */
  bnbCompat?: boolean;
}

const KEYS_4BIT = ['weight.absmax', 'weight.quant_map', 'weight.nested_absmax', 'weight.nested_quant_map', 'weight.quant_state.bitsandbytes__nf4', 'weight.quant_state.bitsandbytes__fp4'];
const KEYS_8BIT = ['SCB', 'weight_format'];

/**
 * Builds the linear module stored under `prefix` (e.g. `model.layers.0.mlp.up_proj.`) from
 * bitsandbytes' keys: a Linear4bit when a `weight.quant_state.bitsandbytes__*` key is present, a
 * Linear8bitLt for an int8 `weight` with `SCB`, else the float `weight` (and `bias`).
 *
 * @throws LowbitError LOWBIT_E_ARGUMENT (no `weight`), LOWBIT_E_FORMAT (keys of two kinds mixed,
 *   statistics without their weight, or any disagreement found by the 4-bit / 8-bit loaders).
 */
export function linearFromStateDict(sd: Record<string, TensorInput>, prefix = '', opts: LinearFromStateDictOptions = {}): LoadedLinear {
  const op = 'linearFromStateDict';
  const has = (k: string) => sd[prefix + k] !== undefined;
  if (!has('weight')) throw new LowbitError(`Missing key \`${prefix}weight\` in the state dict given to ${op}`, 'LOWBIT_E_ARGUMENT');
  const four = KEYS_4BIT.filter(has);
  const eight = KEYS_8BIT.filter(has);
  if (four.length > 0 && eight.length > 0) {
    throw new LowbitError(`${op}: \`${prefix}\` has both 4-bit keys (${four.join(', ')}) and 8-bit keys (${eight.join(', ')})`, 'LOWBIT_E_FORMAT');
  }
  if (four.length > 0) {
    if (!has('weight.quant_state.bitsandbytes__nf4') && !has('weight.quant_state.bitsandbytes__fp4')) {
      throw new LowbitError(`${op}: \`${prefix}\` has 4-bit statistics (${four.join(', ')}) but no weight.quant_state.bitsandbytes__{nf4|fp4}`, 'LOWBIT_E_FORMAT');
    }
    return { kind: 'linear4bit', layer: linear4bitFromStateDict(sd, prefix, { computeDtype: opts.computeDtype }) };
  }
  const weight = toTensor(sd[`${prefix}weight`]!, op, `${prefix}weight`);
  if (weight.dtype === 'int8' || eight.length > 0) {
    if (weight.dtype !== 'int8') throw new LowbitError(`${op}: \`${prefix}weight\` is ${weight.dtype} but ${eight.join(', ')} belong to an int8 (LLM.int8()) weight`, 'LOWBIT_E_FORMAT');
    if (!has('SCB')) throw new LowbitError(`${op}: \`${prefix}weight\` is int8 but \`${prefix}SCB\` (its row scales) is missing`, 'LOWBIT_E_FORMAT');
    const layer = linear8bitLtFromStateDict(sd, { threshold: opts.threshold ?? 6, hasFp16Weights: false, bnbCompat: opts.bnbCompat }, prefix);
    return { kind: 'linear8bitlt', layer };
  }
  if (!(FLOAT_DTYPES as readonly string[]).includes(weight.dtype)) {
    throw new LowbitError(`${op}: \`${prefix}weight\` is ${weight.dtype}, which is neither a float weight nor a bitsandbytes-quantized one (no quant_state, no SCB)`, 'LOWBIT_E_FORMAT');
  }
  const bias = has('bias') ? toTensor(sd[`${prefix}bias`]!, op, `${prefix}bias`) : null;
  if (weight.ndim !== 2 || (bias && bias.numel !== weight.shape[0])) {
    throw new LowbitError(`${op}: expected \`${prefix}weight\` [out, in] and a bias of out entries but received [${weight.shape.join(', ')}]${bias ? ` and ${bias.numel}` : ''}`, 'LOWBIT_E_SHAPE');
  }
  return { kind: 'float', weight, bias };
}

/** bitsandbytes' keys for a layer (4-bit: FP4 `quant_map` written with +0.0 at code 8, as bitsandbytes). */
export function linearToStateDict(layer: Linear4bit | Linear8bitLt, prefix = ''): Record<string, Tensor> {
  if (layer instanceof Linear4bit) return linear4bitToStateDict(layer, prefix);
  if (layer instanceof Linear8bitLt) return linear8bitLtStateDict(layer, prefix);
  throw new LowbitError(`Expected a Linear4bit or Linear8bitLt in linearToStateDict but received ${describeValue(layer)}`, 'LOWBIT_E_ARGUMENT');
}

/** Writes a state dict as safetensors with transformers' metadata ({"format": "pt"}). */
export function saveStateDict(path: string, sd: Record<string, Tensor>, metadata: Record<string, string> = { format: 'pt' }): void {
  writeSafetensors(path, sd, metadata);
}

/** What `quantization_config` in config.json says (transformers' BitsAndBytesConfig). */
export type BnbQuantization =
  | { bits: 4; quantType: QuantType4bit; doubleQuant: boolean; computeDtype: FloatDType; skipModules: string[] }
  | { bits: 8; threshold: number; skipModules: string[] };

/**
 * Parses `config.json["quantization_config"]`; null when the model is not quantized.
 * @throws LowbitError LOWBIT_E_FORMAT (not bitsandbytes, both or neither of 4-bit / 8-bit, bad values).
 */
export function parseBnbQuantization(config: Record<string, unknown>, where = 'config.json'): BnbQuantization | null {
  const q = config.quantization_config as Record<string, unknown> | undefined | null;
  if (q === undefined || q === null) return null;
  const bad = (what: string) => new LowbitError(`${where}: quantization_config ${what}`, 'LOWBIT_E_FORMAT');
  if (typeof q !== 'object' || Array.isArray(q)) throw bad(`is ${describeValue(q)}; expected an object`);
  if (q.quant_method !== 'bitsandbytes') throw bad(`has quant_method ${describeValue(q.quant_method)}; lowbit reads "bitsandbytes"`);
  // transformers writes both the public flags and their private twins (_load_in_4bit); older versions only one.
  const four = q.load_in_4bit === true || (q.load_in_4bit === undefined && q._load_in_4bit === true);
  const eight = q.load_in_8bit === true || (q.load_in_8bit === undefined && q._load_in_8bit === true);
  if (four === eight) throw bad(`has load_in_4bit ${describeValue(q.load_in_4bit)} and load_in_8bit ${describeValue(q.load_in_8bit)}; expected exactly one true`);
  const skip = q.llm_int8_skip_modules ?? [];
  if (!Array.isArray(skip) || !skip.every((s) => typeof s === 'string')) throw bad(`has llm_int8_skip_modules ${describeValue(skip)}; expected null or a list of names`);
  if (four) {
    const qt = q.bnb_4bit_quant_type;
    if (qt !== 'nf4' && qt !== 'fp4') throw bad(`has bnb_4bit_quant_type ${describeValue(qt)}; expected "nf4" or "fp4"`);
    const cd = q.bnb_4bit_compute_dtype ?? 'float32';
    if (!(FLOAT_DTYPES as readonly unknown[]).includes(cd)) throw bad(`has bnb_4bit_compute_dtype ${describeValue(cd)}; expected float32, float16 or bfloat16`);
    return { bits: 4, quantType: qt, doubleQuant: q.bnb_4bit_use_double_quant === true, computeDtype: cd as FloatDType, skipModules: skip as string[] };
  }
  const t = q.llm_int8_threshold ?? 6;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw bad(`has llm_int8_threshold ${describeValue(t)}; expected a number >= 0`);
  return { bits: 8, threshold: t, skipModules: skip as string[] };
}

/**
 * A transformers checkpoint directory: `config.json` plus safetensors (one file or shards).
 * Tensors are read one at a time; `linear(prefix)` builds a layer and checks it against
 * `quantization_config`. Call `close()` when done.
 */
export class BnbCheckpoint {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly quantization: BnbQuantization | null;
  readonly #st: SafetensorsCheckpoint;

  private constructor(dir: string, config: Record<string, unknown>, st: SafetensorsCheckpoint) {
    this.dir = dir;
    this.config = config;
    this.quantization = parseBnbQuantization(config, join(dir, 'config.json'));
    this.#st = st;
  }

  /** @throws LowbitError LOWBIT_E_ARGUMENT (no config.json / safetensors), LOWBIT_E_FORMAT (malformed). */
  static open(dir: string): BnbCheckpoint {
    const cfgPath = join(dir, 'config.json');
    let config: unknown;
    try {
      config = JSON.parse(readFileSync(cfgPath, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'LOWBIT_E_ARGUMENT' : 'LOWBIT_E_FORMAT';
      throw new LowbitError(`Cannot read ${cfgPath}: ${(e as Error).message}`, code);
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new LowbitError(`${cfgPath} is ${describeValue(config)}; expected a JSON object`, 'LOWBIT_E_FORMAT');
    }
    const st = SafetensorsCheckpoint.open(dir);
    try {
      return new BnbCheckpoint(dir, config as Record<string, unknown>, st);
    } catch (e) {
      st.close();
      throw e;
    }
  }

  keys(): string[] {
    return this.#st.keys();
  }

  has(name: string): boolean {
    return this.#st.has(name);
  }

  /** One tensor (F32, F16, BF16, I8, U8, I32). */
  tensor(name: string): Tensor {
    return this.#st.tensor(name);
  }

  /** The tensors under `prefix` whose next name component is a parameter of the module (not a submodule). */
  #moduleDict(prefix: string): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const k of this.#st.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      if (rest === 'weight' || rest === 'bias' || rest === 'SCB' || rest === 'weight_format' || rest.startsWith('weight.')) out[k] = this.#st.tensor(k);
    }
    return out;
  }

  /**
   * The linear module at `prefix` (e.g. `model.layers.0.self_attn.q_proj.`), checked against
   * quantization_config: a quantized config needs a quantized layer of that kind (unless the module
   * is in llm_int8_skip_modules), and a 4-bit layer must have the configured quant type and nesting.
   * @throws LowbitError LOWBIT_E_FORMAT on any disagreement, and as linearFromStateDict.
   */
  linear(prefix: string, opts: LinearFromStateDictOptions = {}): LoadedLinear {
    const q = this.quantization;
    const loaded = linearFromStateDict(this.#moduleDict(prefix), prefix, {
      computeDtype: opts.computeDtype ?? (q?.bits === 4 ? q.computeDtype : undefined),
      threshold: opts.threshold ?? (q?.bits === 8 ? q.threshold : undefined),
      bnbCompat: opts.bnbCompat,
    });
    const name = prefix.replace(/\.$/, '');
    const skipped = q !== null && q.skipModules.some((s) => name === s || name.endsWith(`.${s}`) || name.split('.').includes(s));
    const bad = (what: string) => new LowbitError(`${this.dir}: \`${name}\` ${what}`, 'LOWBIT_E_FORMAT');
    if (q === null || skipped) {
      if (loaded.kind !== 'float') throw bad(`is ${loaded.kind} but config.json ${q === null ? 'has no quantization_config' : 'lists it in llm_int8_skip_modules'}`);
    } else if (q.bits === 4) {
      if (loaded.kind !== 'linear4bit') throw bad(`is ${loaded.kind} but quantization_config says load_in_4bit`);
      const st = loaded.layer.weight.quantState;
      if (st.quantType !== q.quantType) throw bad(`is ${st.quantType} but quantization_config says bnb_4bit_quant_type "${q.quantType}"`);
      if (st.nested !== q.doubleQuant) throw bad(`${st.nested ? 'has' : 'lacks'} double-quantized scales but quantization_config says bnb_4bit_use_double_quant ${q.doubleQuant}`);
    } else if (loaded.kind !== 'linear8bitlt') {
      throw bad(`is ${loaded.kind} but quantization_config says load_in_8bit`);
    }
    return loaded;
  }

  close(): void {
    this.#st.close();
  }
}
