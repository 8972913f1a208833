/**
 * Linear8bitLt state dicts with bitsandbytes' key names (spec bitsandbytes-numerics.md §7.2):
 *
 * | key             | dtype / shape         | content                                         |
 * |-----------------|-----------------------|-------------------------------------------------|
 * | `weight`        | int8 [out, in]        | CB (row-major codes)                            |
 * | `bias`          | model dtype [out]     | optional                                        |
 * | `SCB`           | float32 [out]         | per-row absmax of the weight                    |
 * | `weight_format` | uint8, 0-dim          | 0 = "row" (the only layout current bnb accepts) |
 *
 * A layer keeping a float weight (hasFp16Weights) saves `weight` as that float tensor without
 * `SCB`, as bitsandbytes does. Keys carry an optional prefix (e.g. `model.layers.0.mlp.up_proj.`).
 */
import { FLOAT_DTYPES } from '../core/dtype.js';
import { Tensor } from '../core/tensor.js';
import { assertDType, assertShape, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError } from '../errors.js';
import { Linear8bitLt, type Linear8bitLtOptions } from '../nn/linear-8bit-lt.js';

/** bitsandbytes' weight-format codes; only "row" can be used. */
export const WEIGHT_FORMATS = { row: 0, col32: 1, col_turing: 2, col_ampere: 3 } as const;

/** The layer's tensors under bitsandbytes' names (views, not copies). */
export function linear8bitLtStateDict(layer: Linear8bitLt, prefix = ''): Record<string, Tensor> {
  if (layer.disposed) throw new LowbitError('linear8bitLtStateDict on a disposed layer', 'LOWBIT_E_DISPOSED');
  const sd: Record<string, Tensor> = {};
  const float = layer.weight.hasFp16Weights ? layer.weight.data : null;
  if (float) {
    sd[`${prefix}weight`] = float;
  } else {
    sd[`${prefix}weight`] = layer.weight.CB;
    sd[`${prefix}SCB`] = layer.weight.SCB;
    sd[`${prefix}weight_format`] = Tensor.from(new Uint8Array([WEIGHT_FORMATS.row]), [], 'uint8');
  }
  if (layer.bias) sd[`${prefix}bias`] = layer.bias;
  return sd;
}

/**
 * Loads bitsandbytes-named tensors into `layer` (shapes must match). An int8 `weight` needs
 * `SCB`; a float `weight` is (re)quantized per the layer's settings.
 *
 * @throws LowbitError LOWBIT_E_ARGUMENT (missing keys), LOWBIT_E_SHAPE, LOWBIT_E_DTYPE,
 *   LOWBIT_E_UNSUPPORTED (a tiled col32/col_turing/col_ampere weight_format),
 *   LOWBIT_E_FORMAT (an `SCB` next to a float weight)
 */
export function loadLinear8bitLtStateDict(layer: Linear8bitLt, sd: Record<string, TensorInput>, prefix = ''): void {
  const op = 'loadLinear8bitLtStateDict';
  if (layer.disposed) throw new LowbitError(`${op} on a disposed layer`, 'LOWBIT_E_DISPOSED');
  const get = (k: string) => sd[`${prefix}${k}`];
  const w = get('weight');
  if (w === undefined) throw new LowbitError(`Expected key \`${prefix}weight\` in ${op}`, 'LOWBIT_E_ARGUMENT');
  const weight = toTensor(w, op, `${prefix}weight`);
  assertShape(weight.ndim === 2 && weight.shape[0] === layer.outFeatures && weight.shape[1] === layer.inFeatures, op,
    () => `Expected \`${prefix}weight\` of shape [${layer.outFeatures}, ${layer.inFeatures}] but received [${weight.shape.join(', ')}]`);
  const fmt = get('weight_format');
  if (fmt !== undefined) {
    const fmtTensor = toTensor(fmt, op, `${prefix}weight_format`);
    assertShape(fmtTensor.numel === 1, op, () => `Expected a single value in \`${prefix}weight_format\` but received shape [${fmtTensor.shape.join(', ')}]`);
    const code = fmtTensor.toTypedArray()[0];
    if (code !== WEIGHT_FORMATS.row) {
      throw new LowbitError(`\`${prefix}weight_format\` is ${String(code)} (a tiled cuBLASLt layout); expected 0 ("row"): re-save the checkpoint with bitsandbytes >= 0.45`, 'LOWBIT_E_UNSUPPORTED');
    }
  }
  if (weight.dtype === 'int8') {
    const scb = get('SCB');
    if (scb === undefined) throw new LowbitError(`Expected key \`${prefix}SCB\` next to an int8 \`${prefix}weight\` in ${op}`, 'LOWBIT_E_ARGUMENT');
    layer.weight.setQuantized(weight, toTensor(scb, op, `${prefix}SCB`));
  } else {
    assertDType(weight, FLOAT_DTYPES, op, `${prefix}weight`);
    if (get('SCB') !== undefined) {
      throw new LowbitError(`${op}: \`${prefix}weight\` is ${weight.dtype} but \`${prefix}SCB\` (row scales of an int8 weight) is present; the state dict disagrees with itself`, 'LOWBIT_E_FORMAT');
    }
    layer.weight.setFloat(weight);
  }
  const bias = get('bias');
  if (bias !== undefined) layer.bias = toTensor(bias, op, `${prefix}bias`);
}

/** A new Linear8bitLt from a bitsandbytes-named state dict (shape from `weight`). */
export function linear8bitLtFromStateDict(sd: Record<string, TensorInput>, opts: Omit<Linear8bitLtOptions, 'bias'> = {}, prefix = ''): Linear8bitLt {
  const op = 'linear8bitLtFromStateDict';
  const w = sd[`${prefix}weight`];
  if (w === undefined) throw new LowbitError(`Expected key \`${prefix}weight\` in ${op}`, 'LOWBIT_E_ARGUMENT');
  const weight = toTensor(w, op, `${prefix}weight`);
  assertShape(weight.ndim === 2, op, () => `Expected \`${prefix}weight\` of shape [out, in] but received [${weight.shape.join(', ')}]`);
  const hasFloat = weight.dtype !== 'int8';
  const layer = new Linear8bitLt(weight.shape[1]!, weight.shape[0]!, {
    ...opts, hasFp16Weights: opts.hasFp16Weights ?? hasFloat, bias: sd[`${prefix}bias`] !== undefined,
  });
  loadLinear8bitLtStateDict(layer, sd, prefix);
  return layer;
}
