/**
 * State-dict round trip for Linear4bit with bitsandbytes' key names and formats
 * (spec bitsandbytes-numerics.md §7.1), so checkpoints saved by bitsandbytes / transformers
 * (safetensors tensors, read by any loader) load into lowbit and back:
 *
 *   <prefix>weight                                   packed codes, dtype = quant_storage
 *   <prefix>bias                                     optional
 *   <prefix>weight.absmax                            float32 [nb], or uint8 [nb] when nested
 *   <prefix>weight.quant_map                         float32 [16]
 *   <prefix>weight.nested_absmax                     float32 [ceil(nb/256)] (nested only)
 *   <prefix>weight.nested_quant_map                  float32 [256] (nested only)
 *   <prefix>weight.quant_state.bitsandbytes__nf4     uint8 UTF-8 JSON (or __fp4)
 *
 * The JSON blob is written exactly as Python's json.dumps would: keys quant_type, blocksize,
 * dtype, shape, then nested_blocksize, nested_dtype, nested_offset; ", " / ": " separators;
 * the offset as the shortest repr of the float32 value widened to double.
 */
import { FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import { QuantState, type QuantType4bit } from '../core/quant-state.js';
import { Tensor } from '../core/tensor.js';
import { assertDType, assertShape, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError } from '../errors.js';
import { Linear4bit, type Linear4bitOptions } from '../nn/linear-4bit.js';

/** Python `repr(float)` of a number (shortest round-trip digits, Python's exponent rules). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${mant}e${exp < 0 ? '-' : '+'}${e}`;
  }
  const digits = mant.replace('-', '').replace('.', '');
  const sign = x < 0 ? '-' : '';
  if (exp >= digits.length - 1) return `${sign}${digits}${'0'.repeat(exp - digits.length + 1)}.0`;
  if (exp >= 0) return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

function quantStateJson(state: QuantState): string {
  const parts = [
    `"quant_type": "${state.quantType}"`,
    `"blocksize": ${state.blocksize}`,
    `"dtype": "${state.dtype}"`,
    `"shape": [${state.shape.join(', ')}]`,
  ];
  if (state.state2) {
    parts.push(`"nested_blocksize": ${state.state2.blocksize}`, `"nested_dtype": "${state.state2.dtype}"`, `"nested_offset": ${pythonFloatRepr(state.offset!)}`);
  }
  return `{${parts.join(', ')}}`;
}

/**
 * The layer's tensors under bitsandbytes' keys. Tensors are shared with the layer (not copied).
 * @throws LowbitError LOWBIT_E_ARGUMENT when the layer holds no weight.
 */
export function linear4bitToStateDict(layer: Linear4bit, prefix = ''): Record<string, Tensor> {
  if (layer.disposed) throw new LowbitError('linear4bitToStateDict on a disposed layer', 'LOWBIT_E_DISPOSED');
  const w = layer.weight;
  const st = w.quantState;
  const out: Record<string, Tensor> = {};
  out[`${prefix}weight`] = w.data;
  if (layer.bias) out[`${prefix}bias`] = layer.bias;
  out[`${prefix}weight.absmax`] = st.absmax;
  out[`${prefix}weight.quant_map`] = st.code;
  if (st.state2) {
    out[`${prefix}weight.nested_absmax`] = st.state2.absmax;
    out[`${prefix}weight.nested_quant_map`] = st.state2.code;
  }
  const json = new TextEncoder().encode(quantStateJson(st));
  out[`${prefix}weight.quant_state.bitsandbytes__${st.quantType}`] = Tensor.from(json, [json.length], 'uint8');
  return out;
}

interface ParsedJson {
  quant_type: QuantType4bit;
  blocksize: number;
  dtype: FloatDType;
  shape: number[];
  nested_blocksize?: number;
  nested_dtype?: string;
  nested_offset?: number;
}

function parseJson(bytes: Tensor, op: string): ParsedJson {
  assertDType(bytes, ['uint8'], op, 'quant_state');
  let parsed: ParsedJson;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes.data as Uint8Array)) as ParsedJson;
  } catch (e) {
    throw new LowbitError(`Expected UTF-8 JSON in the quant_state tensor in ${op}: ${(e as Error).message}`, 'LOWBIT_E_ARGUMENT');
  }
  if (parsed.quant_type !== 'nf4' && parsed.quant_type !== 'fp4') {
    throw new LowbitError(`Expected quant_type "nf4" or "fp4" in the quant_state JSON in ${op} but received ${String(parsed.quant_type)}`, 'LOWBIT_E_ARGUMENT');
  }
  if (!FLOAT_DTYPES.includes(parsed.dtype)) {
    throw new LowbitError(`Expected dtype float32, float16 or bfloat16 in the quant_state JSON in ${op} but received ${String(parsed.dtype)}`, 'LOWBIT_E_DTYPE');
  }
  if (!Array.isArray(parsed.shape) || parsed.shape.length !== 2) {
    throw new LowbitError(`Expected a 2-D [out, in] shape in the quant_state JSON in ${op} but received ${JSON.stringify(parsed.shape)}`, 'LOWBIT_E_SHAPE');
  }
  return parsed;
}

/**
 * Builds a Linear4bit from bitsandbytes-format tensors (`prefix` is stripped from the keys).
 * `opts.computeDtype` sets the layer's compute dtype (not stored in checkpoints).
 * @throws LowbitError LOWBIT_E_ARGUMENT (missing keys, bad JSON), LOWBIT_E_SHAPE / LOWBIT_E_DTYPE
 *   (tensors that do not match the JSON).
 */
export function linear4bitFromStateDict(dict: Record<string, TensorInput>, prefix = '', opts: Pick<Linear4bitOptions, 'computeDtype'> = {}): Linear4bit {
  const op = 'linear4bitFromStateDict';
  const get = (k: string): Tensor | null => (dict[prefix + k] === undefined ? null : toTensor(dict[prefix + k]!, op, prefix + k));
  const need = (k: string): Tensor => {
    const t = get(k);
    if (!t) throw new LowbitError(`Missing key \`${prefix}${k}\` in the state dict given to ${op}`, 'LOWBIT_E_ARGUMENT');
    return t;
  };
  const qsKeys = ['nf4', 'fp4'].map((q) => `weight.quant_state.bitsandbytes__${q}`).filter((k) => dict[prefix + k] !== undefined);
  if (qsKeys.length !== 1) {
    throw new LowbitError(`Expected exactly one \`${prefix}weight.quant_state.bitsandbytes__{nf4|fp4}\` key in ${op} but found ${qsKeys.length}`, 'LOWBIT_E_ARGUMENT');
  }
  const js = parseJson(need(qsKeys[0]!), op);
  const [out, inp] = js.shape as [number, number];
  const packed = need('weight');
  const absmax = need('weight.absmax');
  const code = need('weight.quant_map');
  assertDType(code, ['float32'], op, 'weight.quant_map');
  assertShape(code.numel === 16, op, () => `Expected 16 entries in weight.quant_map but received ${code.numel}`);
  const nb = Math.ceil((out * inp) / js.blocksize);
  assertShape(absmax.numel === nb, op, () => `Expected ${nb} entries in weight.absmax for shape [${out}, ${inp}] and blocksize ${js.blocksize} but received ${absmax.numel}`);
  const nestedAbsmax = get('weight.nested_absmax');
  let state: QuantState;
  if (nestedAbsmax) {
    assertDType(absmax, ['uint8'], op, 'weight.absmax');
    const nbs = js.nested_blocksize ?? 256;
    assertShape(nestedAbsmax.numel === Math.ceil(nb / nbs), op, () => `Expected ${Math.ceil(nb / nbs)} entries in weight.nested_absmax but received ${nestedAbsmax.numel}`);
    const code2 = need('weight.nested_quant_map');
    assertShape(code2.numel === 256, op, () => `Expected 256 entries in weight.nested_quant_map but received ${code2.numel}`);
    if (typeof js.nested_offset !== 'number') throw new LowbitError(`Expected nested_offset in the quant_state JSON in ${op}`, 'LOWBIT_E_ARGUMENT');
    const state2 = new QuantState({ absmax: nestedAbsmax, shape: [nb], dtype: 'float32', blocksize: nbs, code: code2, quantType: null });
    state = new QuantState({ absmax, shape: js.shape, dtype: js.dtype, blocksize: js.blocksize, code, quantType: js.quant_type, offset: Math.fround(js.nested_offset), state2 });
  } else {
    assertDType(absmax, ['float32'], op, 'weight.absmax');
    state = new QuantState({ absmax, shape: js.shape, dtype: js.dtype, blocksize: js.blocksize, code, quantType: js.quant_type });
  }
  assertShape(packed.byteLength >= Math.ceil((out * inp) / 2), op, () => `Expected at least ${Math.ceil((out * inp) / 2)} bytes in weight but received ${packed.byteLength}`);
  const bias = get('bias');
  const layer = new Linear4bit(inp, out, {
    bias: bias !== null,
    quantType: js.quant_type,
    blocksize: js.blocksize,
    compressStatistics: nestedAbsmax !== null,
    quantStorage: packed.dtype,
    computeDtype: opts.computeDtype,
  });
  layer.weight.setQuantized(packed, state);
  if (bias) layer.setBias(bias);
  return layer;
}
