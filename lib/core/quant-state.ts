/**
 * QuantState: everything needed to dequantize a blockwise-quantized tensor, mirroring
 * bitsandbytes' `functional.QuantState` (spec bitsandbytes-numerics.md §3.3).
 *
 * - 4-bit (NF4/FP4): `absmax` float32 `[nb]`, or uint8 `[nb]` when `nested` (double
 *   quantization: `offset` + `state2` hold the 8-bit quantization of the centred absmax);
 *   `code` is the 16-entry table; `quantType` is 'nf4' | 'fp4'.
 * - 8-bit blockwise: `absmax` float32 `[nb]` (or nested as above), `code` the 256-entry map,
 *   `quantType` null.
 *
 * The float32 block scales of a nested state are reconstructed natively once, on first use,
 * and cached (`absmaxFloat32()`), so repeated matmuls do not pay for it.
 */
import { LowbitError } from '../errors.js';
import { nativeAddon } from '../backend/native.js';
import { backendFor } from '../backend/backend.js';
import { parseDevice, type Device, type DeviceLike } from './device.js';
import type { FloatDType } from './dtype.js';
import { Tensor } from './tensor.js';

export type QuantType4bit = 'nf4' | 'fp4';

/** The 4-bit code tables and the 8-bit dynamic map, as float32 tensors (shared, do not mutate). */
export function quantCodeTable(kind: QuantType4bit | 'dynamic'): Tensor {
  const c = nativeAddon().constants();
  const data = kind === 'nf4' ? c.nf4 : kind === 'fp4' ? c.fp4 : c.dynamicMap;
  return Tensor.from(data, [data.length], 'float32');
}

/** Numbering shared with the native ops and onnxruntime's MatMulBnb4 `quant_type` attribute. */
export const QUANT_TYPE_CODE: Readonly<Record<QuantType4bit, number>> = { fp4: 0, nf4: 1 };

export interface QuantStateInit {
  absmax: Tensor;
  shape: readonly number[];
  dtype: FloatDType;
  blocksize: number;
  code: Tensor;
  quantType: QuantType4bit | null;
  offset?: number | null;
  state2?: QuantState | null;
}

export class QuantState {
  /** float32 `[nb]` block scales, or uint8 `[nb]` indices into `state2.code` when nested. */
  absmax: Tensor;
  /** Shape of the original (unquantized) tensor. */
  readonly shape: readonly number[];
  /** dtype of the original tensor, and of dequantized outputs. */
  readonly dtype: FloatDType;
  readonly blocksize: number;
  /** The value table: 16 entries (4-bit) or 256 (8-bit). */
  readonly code: Tensor;
  readonly quantType: QuantType4bit | null;
  /** Mean of the float32 absmax subtracted before nesting (float32 value), or null. */
  readonly offset: number | null;
  /** The 8-bit quantization state of the centred absmax, or null. */
  readonly state2: QuantState | null;
  #absmaxF32: Tensor | null = null;

  constructor(init: QuantStateInit) {
    this.absmax = init.absmax;
    this.shape = Object.freeze([...init.shape]);
    this.dtype = init.dtype;
    this.blocksize = init.blocksize;
    this.code = init.code;
    this.quantType = init.quantType;
    this.offset = init.offset ?? null;
    this.state2 = init.state2 ?? null;
    if ((this.state2 === null) !== (this.offset === null)) {
      throw new LowbitError('Expected both `offset` and `state2` (nested) or neither in QuantState', 'LOWBIT_E_ARGUMENT');
    }
  }

  /** True when the block scales are double-quantized (bitsandbytes `compress_statistics`). */
  get nested(): boolean {
    return this.state2 !== null;
  }

  /** Number of elements of the original tensor. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Number of quantization blocks. */
  get numBlocks(): number {
    return Math.ceil(this.numel / this.blocksize);
  }

  /**
   * The float32 block scales: `absmax` itself, or (nested) the reconstruction
   * `f32(f32(code2[q] * absmax2[i / 256]) + offset)` computed natively once and cached.
   */
  absmaxFloat32(): Tensor {
    if (!this.nested) return this.absmax;
    if (this.#absmaxF32 && !this.#absmaxF32.disposed) return this.#absmaxF32;
    const s2 = this.state2!;
    const be = backendFor(this.absmax);
    const out = be.empty([this.absmax.numel], 'float32');
    be.run('denestAbsmax', {
      qabsmax: this.absmax,
      nestedAbsmax: s2.absmax,
      code: s2.code,
      offset: this.offset,
      n: this.absmax.numel,
      nestedBlocksize: s2.blocksize,
      out,
    });
    this.#absmaxF32 = out;
    return out;
  }

  /** The device of the block statistics (and, for a 4-bit weight, of its packed codes). */
  get device(): Device {
    return this.absmax.device;
  }

  /**
   * Moves the block statistics to `device` in place (absmax; when nested the nested absmax, which
   * stay nested) and returns this state, like bitsandbytes' `QuantState.to`. The tensors left
   * behind are freed, and so is the cached float32 reconstruction. The code tables are shared
   * read-only tables and stay where they are (matmul4bit uploads a nested table once per device).
   */
  to(device: DeviceLike): this {
    const target = parseDevice(device, 'QuantState.to');
    const move = (t: Tensor): Tensor => {
      if (t.device === target) return t;
      const moved = t.to(target);
      t.dispose();
      return moved;
    };
    const stale = this.#absmaxF32 !== null && this.#absmaxF32.device !== target;
    this.absmax = move(this.absmax);
    if (this.state2) this.state2.absmax = move(this.state2.absmax);
    if (stale) {
      this.#absmaxF32!.dispose();
      this.#absmaxF32 = null;
    }
    return this;
  }

  /** Bytes of the block statistics (absmax, nested absmax and offset; code tables excluded). */
  statsBytes(): number {
    let bytes = this.absmax.byteLength;
    if (this.state2) bytes += this.state2.absmax.byteLength + 4;
    return bytes;
  }

  /** Frees the state's tensors (the shared code tables are left alone). */
  dispose(): void {
    this.absmax.dispose();
    this.#absmaxF32?.dispose();
    this.#absmaxF32 = null;
    this.state2?.dispose();
  }
}
