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
 *
 * A layer on CUDA gives its device tensors (the code tables stay host tensors); a dict whose
 * weight and statistics are device tensors loads into a layer on that device (bias moved to it
 * at the first forward). Weight and statistics on different devices: LOWBIT_E_DEVICE.
 */
import { FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import { QuantState, quantCodeTable, type QuantType4bit } from '../core/quant-state.js';
import { BLOCKSIZES_4BIT, NESTED_BLOCKSIZE_4BIT } from '../functional/quantize-4bit.js';
import { Tensor } from '../core/tensor.js';
import { assertDType, assertSameDevice, assertShape, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError, describeValue } from '../errors.js';
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
  out[`${prefix}weight.quant_map`] = storedQuantMap(st.quantType as QuantType4bit);
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
  shape: [number, number];
  nested_blocksize?: number;
  nested_dtype?: string;
  nested_offset?: number;
}

const JSON_KEYS = ['quant_type', 'blocksize', 'dtype', 'shape', 'nested_blocksize', 'nested_dtype', 'nested_offset'];

function formatError(op: string, what: string): LowbitError {
  return new LowbitError(`${op}: the state dict disagrees with itself: ${what}`, 'LOWBIT_E_FORMAT');
}

function parseJson(bytes: Tensor, op: string, key: string): ParsedJson {
  assertDType(bytes, ['uint8'], op, key);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.data as Uint8Array));
  } catch (e) {
    throw new LowbitError(`Expected UTF-8 JSON in \`${key}\` in ${op}: ${(e as Error).message}`, 'LOWBIT_E_FORMAT');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new LowbitError(`Expected a JSON object in \`${key}\` in ${op} but received ${describeValue(parsed)}`, 'LOWBIT_E_FORMAT');
  }
  const js = parsed as Record<string, unknown>;
  const unknown = Object.keys(js).filter((k) => !JSON_KEYS.includes(k));
  if (unknown.length > 0) throw new LowbitError(`Unexpected field(s) ${unknown.join(', ')} in \`${key}\` in ${op}; expected only ${JSON_KEYS.join(', ')}`, 'LOWBIT_E_FORMAT');
  if (js.quant_type !== 'nf4' && js.quant_type !== 'fp4') {
    throw new LowbitError(`Expected quant_type "nf4" or "fp4" in \`${key}\` in ${op} but received ${describeValue(js.quant_type)}`, 'LOWBIT_E_FORMAT');
  }
  if (!(BLOCKSIZES_4BIT as readonly unknown[]).includes(js.blocksize)) {
    throw new LowbitError(`Expected blocksize one of ${BLOCKSIZES_4BIT.join(', ')} in \`${key}\` in ${op} but received ${describeValue(js.blocksize)}`, 'LOWBIT_E_FORMAT');
  }
  if (!(FLOAT_DTYPES as readonly unknown[]).includes(js.dtype)) {
    throw new LowbitError(`Expected dtype float32, float16 or bfloat16 in \`${key}\` in ${op} but received ${describeValue(js.dtype)}`, 'LOWBIT_E_DTYPE');
  }
  const shape = js.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 1)) {
    throw new LowbitError(`Expected a 2-D [out, in] shape of positive integers in \`${key}\` in ${op} but received ${describeValue(shape)}`, 'LOWBIT_E_SHAPE');
  }
  const nestedFields = ['nested_blocksize', 'nested_dtype', 'nested_offset'].filter((k) => k in js);
  if (nestedFields.length !== 0 && nestedFields.length !== 3) {
    throw new LowbitError(`\`${key}\` has ${nestedFields.join(', ')} but not all of nested_blocksize, nested_dtype, nested_offset in ${op}`, 'LOWBIT_E_FORMAT');
  }
  if (nestedFields.length === 3) {
    if (js.nested_blocksize !== NESTED_BLOCKSIZE_4BIT) {
      throw new LowbitError(`Expected nested_blocksize ${NESTED_BLOCKSIZE_4BIT} (bitsandbytes' only 4-bit nesting) in \`${key}\` in ${op} but received ${describeValue(js.nested_blocksize)}`, 'LOWBIT_E_UNSUPPORTED');
    }
    if (js.nested_dtype !== 'float32') throw new LowbitError(`Expected nested_dtype "float32" in \`${key}\` in ${op} but received ${describeValue(js.nested_dtype)}`, 'LOWBIT_E_FORMAT');
    if (typeof js.nested_offset !== 'number' || !Number.isFinite(js.nested_offset)) {
      throw new LowbitError(`Expected a finite number for nested_offset in \`${key}\` in ${op} but received ${describeValue(js.nested_offset)}`, 'LOWBIT_E_FORMAT');
    }
  }
  return js as unknown as ParsedJson;
}

/** True when the float32 values of `a` equal those of `b`, where +0.0 and -0.0 count as equal. */
function sameTableUpToZeroSign(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** True when the float32 bit patterns are identical. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.every((v, i) => v === ub[i]);
}

/**
 * The 4-bit table as bitsandbytes stores it in `weight.quant_map`: identical to the table the
 * kernels use except FP4 code 8, which bitsandbytes' `get_4bit_type("fp4")` builds from the
 * Python integer `-0`, i.e. +0.0 (its CUDA kernel applies the sign bit and computes -0.0; spec §1.2).
 */
export function storedQuantMap(quantType: QuantType4bit): Tensor {
  const t = quantCodeTable(quantType).toFloat32Array().slice();
  if (quantType === 'fp4') t[8] = 0;
  return Tensor.from(t, [16], 'float32');
}

/**
 * Builds a Linear4bit from bitsandbytes-format tensors (`prefix` is stripped from the keys).
 * `opts.computeDtype` sets the layer's compute dtype (not stored in checkpoints).
 *
 * Everything the file says about the quantization is cross-checked, and a file that disagrees
 * with itself is rejected rather than guessed at: the JSON's quant_type against the key suffix,
 * `weight.quant_map` against the NF4/FP4 table (equal up to the sign of zero), the nested keys
 * against the JSON's nested fields, `weight.nested_quant_map` against the 8-bit dynamic map,
 * every tensor's dtype and element count against the JSON's shape and blocksize.
 * Accepted as bitsandbytes' CPU path writes them: 0x77 all-zero blocks, FP4 code 8 for tiny
 * positives, scale codes chosen by its 65,536-bin lookup table (any uint8 code is valid).
 *
 * @throws LowbitError LOWBIT_E_ARGUMENT (missing keys), LOWBIT_E_FORMAT (a file disagreeing with
 *   itself or malformed JSON), LOWBIT_E_SHAPE / LOWBIT_E_DTYPE (tensors that do not match the JSON),
 *   LOWBIT_E_UNSUPPORTED (a nested blocksize other than 256).
 */
export function linear4bitFromStateDict(dict: Record<string, TensorInput>, prefix = '', opts: Pick<Linear4bitOptions, 'computeDtype'> = {}): Linear4bit {
  const op = 'linear4bitFromStateDict';
  const get = (k: string): Tensor | null => (dict[prefix + k] === undefined ? null : toTensor(dict[prefix + k]!, op, prefix + k));
  const need = (k: string): Tensor => {
    const t = get(k);
    if (!t) throw new LowbitError(`Missing key \`${prefix}${k}\` in the state dict given to ${op}`, 'LOWBIT_E_ARGUMENT');
    return t;
  };
  const suffixes = (['nf4', 'fp4'] as const).filter((q) => dict[`${prefix}weight.quant_state.bitsandbytes__${q}`] !== undefined);
  if (suffixes.length !== 1) {
    throw new LowbitError(`Expected exactly one \`${prefix}weight.quant_state.bitsandbytes__{nf4|fp4}\` key in ${op} but found ${suffixes.length}`, 'LOWBIT_E_ARGUMENT');
  }
  const suffix = suffixes[0]!;
  const jsKey = `weight.quant_state.bitsandbytes__${suffix}`;
  const js = parseJson(need(jsKey), op, prefix + jsKey);
  if (js.quant_type !== suffix) {
    throw formatError(op, `\`${prefix}${jsKey}\` says "quant_type": "${js.quant_type}" but its key says ${suffix}`);
  }
  const [out, inp] = js.shape;
  const n = out * inp;
  const packed = need('weight');
  const absmax = need('weight.absmax');
  const code = need('weight.quant_map');
  assertDType(code, ['float32'], op, `${prefix}weight.quant_map`);
  assertShape(code.numel === 16, op, () => `Expected 16 entries in \`${prefix}weight.quant_map\` but received ${code.numel}`);
  const table = quantCodeTable(js.quant_type);
  if (!sameTableUpToZeroSign(code.toFloat32Array(), table.toFloat32Array())) {
    throw formatError(op, `\`${prefix}weight.quant_map\` [${Array.from(code.toFloat32Array()).join(', ')}] is not the ${js.quant_type.toUpperCase()} table (equal up to the sign of zero expected); lowbit computes only with bitsandbytes' tables`);
  }
  const nb = Math.ceil(n / js.blocksize);
  assertShape(absmax.numel === nb, op, () => `Expected ${nb} entries in \`${prefix}weight.absmax\` for shape [${out}, ${inp}] and blocksize ${js.blocksize} but received ${absmax.numel}`);
  const nestedAbsmax = get('weight.nested_absmax');
  const nestedMap = get('weight.nested_quant_map');
  const jsonNested = js.nested_offset !== undefined;
  if ((nestedAbsmax !== null) !== jsonNested || (nestedMap !== null) !== jsonNested) {
    throw formatError(op, jsonNested
      ? `\`${prefix}${jsKey}\` has nested fields but weight.nested_absmax or weight.nested_quant_map is missing`
      : `weight.nested_absmax or weight.nested_quant_map is present but \`${prefix}${jsKey}\` has no nested fields`);
  }
  let state: QuantState;
  if (nestedAbsmax && nestedMap) {
    if (absmax.dtype !== 'uint8') throw formatError(op, `\`${prefix}weight.absmax\` is ${absmax.dtype} but the scales are double-quantized (uint8 codes expected)`);
    const nbs = js.nested_blocksize!;
    assertDType(nestedAbsmax, ['float32'], op, `${prefix}weight.nested_absmax`);
    assertShape(nestedAbsmax.numel === Math.ceil(nb / nbs), op, () => `Expected ${Math.ceil(nb / nbs)} entries in \`${prefix}weight.nested_absmax\` but received ${nestedAbsmax.numel}`);
    assertDType(nestedMap, ['float32'], op, `${prefix}weight.nested_quant_map`);
    const dynamic = quantCodeTable('dynamic');
    if (!sameBits(nestedMap.toFloat32Array(), dynamic.toFloat32Array())) {
      throw formatError(op, `\`${prefix}weight.nested_quant_map\` is not bitsandbytes' 8-bit dynamic map (${nestedMap.numel} entries)`);
    }
    const state2 = new QuantState({ absmax: nestedAbsmax, shape: [nb], dtype: 'float32', blocksize: nbs, code: dynamic, quantType: null });
    state = new QuantState({ absmax, shape: js.shape, dtype: js.dtype, blocksize: js.blocksize, code: table, quantType: js.quant_type, offset: Math.fround(js.nested_offset!), state2 });
  } else {
    if (absmax.dtype !== 'float32') throw formatError(op, `\`${prefix}weight.absmax\` is ${absmax.dtype} but the scales are not double-quantized (float32 expected)`);
    state = new QuantState({ absmax, shape: js.shape, dtype: js.dtype, blocksize: js.blocksize, code: table, quantType: js.quant_type });
  }
  const need8 = Math.ceil(n / 2);
  if (packed.dtype === 'uint8') {
    assertShape(packed.byteLength === need8, op, () => `Expected ${need8} bytes in \`${prefix}weight\` for shape [${out}, ${inp}] but received ${packed.byteLength}`);
  } else {
    assertShape(packed.byteLength >= need8, op, () => `Expected at least ${need8} bytes in \`${prefix}weight\` for shape [${out}, ${inp}] but received ${packed.byteLength}`);
  }
  // One device for the weight and its statistics (a CUDA packed weight with a CPU state cannot
  // run; nothing is copied silently). Move the loaded layer with layer.to(device).
  assertSameDevice(op, ...[packed, absmax, nestedAbsmax].filter((t): t is Tensor => t !== null));
  const bias = get('bias');
  if (bias) assertShape(bias.numel === out, op, () => `Expected ${out} entries in \`${prefix}bias\` but received ${bias.numel}`);
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
