/**
 * LLM.int8() linear layer mirroring bitsandbytes' `Linear8bitLt` and `Int8Params`
 * (spec bitsandbytes-numerics.md §5.5, §11).
 *
 * Defaults follow bitsandbytes: `hasFp16Weights: true`, `threshold: 0`. transformers'
 * `load_in_8bit` uses `llm_int8_threshold = 6.0` and `llm_int8_has_fp16_weight = false`
 * (inference-quantized weights plus the outlier decomposition); pass those for the same
 * behaviour. With `hasFp16Weights: false` only the int8 codes (CB) and the per-row absmax
 * (SCB) are kept; with `true` the float weight is kept as well and quantized lazily (once,
 * on the first forward; lowbit does not train, so there is no per-step re-quantization).
 *
 * forward(x) runs the fused int8 forward (quantize x row-wise, int8 GEMM, dequant + bias +
 * outlier columns in one pass per output tile). Output dtype = x's dtype, computed in
 * float32 and rounded once (`bnbCompat: true` reproduces bitsandbytes' float16 round trip,
 * including its overflow to ±Inf beyond ±65504; see lib/functional/int8.ts).
 */
import { FLOAT_DTYPES, type FloatDType } from '../core/dtype.js';
import { parseDevice, type DeviceLike } from '../core/device.js';
import { Tensor } from '../core/tensor.js';
import { assertBoolean, assertDType, assertInt, assertShape, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError } from '../errors.js';
import {
  int8LinearForwardPacked, int8LinearForwardPackedAsync, int8PackWeight, int8PackWeightAsync, int8VectorwiseQuant, int8WeightLayout, INT8_MAX_K,
  type Int8LinearForwardResult, type PackedInt8Weight,
} from '../functional/int8.js';
import { Module, type ForwardOptions } from './module.js';

export interface Int8ParamsOptions {
  /** Keep the float weight next to its int8 codes (bitsandbytes default true). */
  hasFp16Weights?: boolean;
  /** Quantize the weight from its float16 rounding, as bitsandbytes does (default false). */
  bnbCompat?: boolean;
}

/**
 * The int8 weight of a Linear8bitLt: `CB` (int8 [out, in]) and `SCB` (float32 [out], the
 * absmax of each weight row), so that `W ≈ CB·SCB[:, None]/127`.
 *
 * On the CPU it also keeps CB packed in the tile layout of the int8 GEMM the active ISA runs
 * from 8 activation rows on (AVX-512 VNNI or AMX; `backendInfo().cpu.int8WeightLayout`), made
 * on the first such forward and reused by every later one instead of packing per call. It is
 * dropped when CB changes (setFloat, setQuantized, to, dispose) and remade when setCpuIsa
 * switches to a GEMM with another layout. CB itself is what the state dict writes; treat it as
 * read-only while the layer uses it (in-place writes would not reach the packed copy).
 */
export class Int8Params {
  readonly hasFp16Weights: boolean;
  readonly bnbCompat: boolean;
  #data: Tensor | null = null;
  #CB: Tensor | null = null;
  #SCB: Tensor | null = null;
  #packed: PackedInt8Weight | null = null;
  /** A packing in flight on the libuv pool, and the CB it reads. */
  #packing: { source: Tensor; packed: Promise<PackedInt8Weight | null> } | null = null;

  constructor(opts: Int8ParamsOptions = {}, op = 'Int8Params') {
    this.hasFp16Weights = assertBoolean(opts.hasFp16Weights ?? true, op, 'hasFp16Weights');
    this.bnbCompat = assertBoolean(opts.bnbCompat ?? false, op, 'bnbCompat');
  }

  /** Builds the parameter from a float weight `[out, in]`. */
  static fromFloat(weight: TensorInput, opts: Int8ParamsOptions = {}): Int8Params {
    const p = new Int8Params(opts, 'Int8Params.fromFloat');
    p.setFloat(weight);
    return p;
  }

  /**
   * Installs a float weight `[out, in]`: quantized now when hasFp16Weights is false,
   * otherwise kept and quantized on first use.
   */
  setFloat(weight: TensorInput): void {
    const op = 'Int8Params.setFloat';
    const w = toTensor(weight, op, 'weight');
    assertDType(w, FLOAT_DTYPES, op, 'weight');
    assertShape(w.ndim === 2 && w.shape[1]! >= 1, op, () => `Expected a weight of shape [out, in] with in >= 1 but received [${w.shape.join(', ')}]`);
    this.#release();
    if (this.hasFp16Weights) {
      this.#data = w;
    } else {
      this.#quantizeFrom(w);
    }
  }

  /** Installs already-quantized codes (e.g. from a bitsandbytes state dict). */
  setQuantized(CB: TensorInput, SCB: TensorInput): void {
    const op = 'Int8Params.setQuantized';
    const cb = toTensor(CB, op, 'CB');
    const scb = toTensor(SCB, op, 'SCB');
    assertDType(cb, ['int8'], op, 'CB');
    assertDType(scb, ['float32'], op, 'SCB');
    assertShape(cb.ndim === 2, op, () => `Expected CB of shape [out, in] but received [${cb.shape.join(', ')}]`);
    assertShape(scb.ndim === 1 && scb.shape[0] === cb.shape[0], op, () => `Expected SCB of shape [${cb.shape[0]}] (one absmax per weight row) but received [${scb.shape.join(', ')}]`);
    this.#release();
    this.#CB = cb;
    this.#SCB = scb;
  }

  #quantizeFrom(w: Tensor): void {
    const { CA, rowStats } = int8VectorwiseQuant(w, 0, { bnbCompat: this.bnbCompat });
    this.#CB = CA;
    this.#SCB = rowStats;
  }

  #ensureQuantized(op: string): void {
    if (this.#CB) return;
    if (!this.#data) throw new LowbitError(`${op}: the weight holds no data (disposed or never set)`, 'LOWBIT_E_DISPOSED');
    this.#quantizeFrom(this.#data);
  }

  /** int8 codes [out, in] (quantized on first access when only a float weight is held). */
  get CB(): Tensor {
    this.#ensureQuantized('Int8Params.CB');
    return this.#CB!;
  }

  /** float32 [out]: absmax of each weight row. */
  get SCB(): Tensor {
    this.#ensureQuantized('Int8Params.SCB');
    return this.#SCB!;
  }

  /** The float weight when hasFp16Weights keeps one, else null. */
  get data(): Tensor | null {
    return this.#data;
  }

  /** Bytes of CB plus SCB (the quantized weight as stored) plus the packed copy of CB, if one is held. */
  bytes(): number {
    return this.CB.byteLength + this.SCB.byteLength + (this.#packed?.data.byteLength ?? 0);
  }

  /**
   * Internal (Linear8bitLt.forward): CB packed for the GEMM that `rows` activation rows will run
   * on now, packing it on first use; null when that GEMM reads CB as it is (the AVX2 and scalar
   * paths, CUDA). Below the GEMM's row minimum (decode) the copy is passed only when one is held
   * already (the VNNI decode reads it, the AMX one does not): a decode call never makes one.
   */
  packedWeight(rows: number): PackedInt8Weight | null {
    const want = this.#wantedLayout(rows);
    if (want === null) return null;
    if (want.held) return this.#packed;
    if (this.#packed?.layout !== want.layout) this.#setPacked(int8PackWeight(this.CB));
    return this.#packed;
  }

  /** Internal: async twin of packedWeight (packs on the libuv pool; concurrent calls share one packing). */
  async packedWeightAsync(rows: number): Promise<PackedInt8Weight | null> {
    const wanted = this.#wantedLayout(rows);
    if (wanted === null) return null;
    if (wanted.held) return this.#packed;
    const want = wanted.layout;
    if (this.#packed?.layout === want) return this.#packed;
    const CB = this.CB;
    // A packing in flight is shared only by calls on the same CB (setQuantized may have replaced it).
    if (this.#packing?.source !== CB) {
      const packing = { source: CB, packed: int8PackWeightAsync(CB) };
      packing.packed.finally(() => {
        if (this.#packing === packing) this.#packing = null;
      }).catch(() => {});
      this.#packing = packing;
    }
    const packed = await this.#packing.packed;
    // CB was replaced meanwhile: this call packs the new CB per call (the forward reads the CB
    // current when it runs), and the stale copy is left to the garbage collector.
    if (this.#CB !== CB) return null;
    if (packed && packed !== this.#packed) this.#setPacked(packed);
    return packed;
  }

  /**
   * The packed layout `rows` rows use now: `{ layout, held: false }` from the GEMM's row minimum on
   * (packed on first use), `{ layout, held: true }` below it while the copy in that layout is
   * held (read as it is), else null.
   */
  #wantedLayout(rows: number): { layout: number; held: boolean } | null {
    const CB = this.CB;
    if (CB.device !== 'cpu') return null;
    const { layout, minRows } = int8WeightLayout(CB.shape[0]!, CB.shape[1]!);
    if (layout === 0) {
      this.#setPacked(null); // a GEMM without tiles now (setCpuIsa): the copy is dead weight
      return null;
    }
    if (rows >= minRows) return { layout, held: false };
    return this.#packed?.layout === layout ? { layout, held: true } : null;
  }

  #setPacked(p: PackedInt8Weight | null): void {
    if (this.#packed && this.#packed !== p) this.#packed.data.dispose();
    this.#packed = p;
  }

  /**
   * Moves the parameter to `device` in place (CB, SCB and any float weight; the tensors left
   * behind are freed). Quantizing on the device gives the bits of the CPU (tested).
   */
  to(device: DeviceLike): void {
    const target = parseDevice(device, 'Int8Params.to');
    const move = (t: Tensor | null): Tensor | null => {
      if (!t || t.device === target) return t;
      const moved = t.to(target);
      t.dispose();
      return moved;
    };
    if (this.device !== target) this.#setPacked(null);
    this.#data = move(this.#data);
    this.#CB = move(this.#CB);
    this.#SCB = move(this.#SCB);
  }

  /** The device of the parameter's tensors. */
  get device(): string {
    return (this.#CB ?? this.#data)?.device ?? 'cpu';
  }

  #release(): void {
    this.#setPacked(null);
    this.#data = null;
    this.#CB?.dispose();
    this.#SCB?.dispose();
    this.#CB = null;
    this.#SCB = null;
  }

  dispose(): void {
    this.#data?.dispose();
    this.#release();
  }
}

export interface Linear8bitLtOptions {
  /** Add a bias (default true for the constructor; fromFloat: whether a bias is given). */
  bias?: boolean;
  /** bitsandbytes default true; transformers uses false. */
  hasFp16Weights?: boolean;
  /** Outlier threshold (bitsandbytes default 0 = no decomposition; transformers uses 6.0). */
  threshold?: number;
  /** Where the layer's tensors live (default 'cpu'). */
  device?: DeviceLike;
  /** Reproduce bitsandbytes' float16 behaviour exactly (default false, see the module doc). */
  bnbCompat?: boolean;
}

export interface OutlierStats {
  /** Forward calls since construction or the last reset. */
  calls: number;
  /** Sum of the outlier column counts over those calls. */
  totalOutlierColumns: number;
  /** Outlier columns of the most recent call. */
  lastOutlierColumns: number;
}

export class Linear8bitLt extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly threshold: number;
  readonly bnbCompat: boolean;
  readonly weight: Int8Params;
  #bias: Tensor | null = null;
  #biasAs = new Map<FloatDType, Tensor>();
  #stats: OutlierStats = { calls: 0, totalOutlierColumns: 0, lastOutlierColumns: 0 };
  #disposed = false;

  /**
   * A layer with all-zero weights (and bias); load real weights with `fromFloat`,
   * `loadFloatWeight` or `weight.setQuantized`.
   *
   * @example
   * const layer = Linear8bitLt.fromFloat(W, b, { hasFp16Weights: false, threshold: 6 });
   * const y = layer.forward(x); // x: [..., in] -> y: [..., out], dtype of x
   */
  constructor(inFeatures: number, outFeatures: number, opts: Linear8bitLtOptions = {}) {
    super();
    const op = 'Linear8bitLt';
    this.inFeatures = assertInt(inFeatures, op, 'inFeatures', { min: 1, max: INT8_MAX_K });
    this.outFeatures = assertInt(outFeatures, op, 'outFeatures', { min: 1, max: 2 ** 31 - 1 });
    const thr = opts.threshold ?? 0;
    if (typeof thr !== 'number' || !Number.isFinite(thr) || thr < 0) {
      throw new LowbitError(`Expected a finite number >= 0 for \`threshold\` in ${op} but received ${String(thr)}`, 'LOWBIT_E_ARGUMENT');
    }
    this.threshold = thr;
    this.bnbCompat = assertBoolean(opts.bnbCompat ?? false, op, 'bnbCompat');
    const device = opts.device ?? 'cpu';
    this.weight = new Int8Params({ hasFp16Weights: opts.hasFp16Weights ?? true, bnbCompat: this.bnbCompat }, op);
    this.weight.setQuantized(Tensor.zeros([outFeatures, inFeatures], 'int8', device), Tensor.zeros([outFeatures], 'float32', device));
    if (assertBoolean(opts.bias ?? true, op, 'bias')) this.#bias = Tensor.zeros([outFeatures], 'float32', device);
  }

  /** A layer holding `weight` [out, in] (quantized per `opts`) and an optional bias [out]. */
  static fromFloat(weight: TensorInput, bias?: TensorInput | null, opts: Linear8bitLtOptions = {}): Linear8bitLt {
    const op = 'Linear8bitLt.fromFloat';
    const w = toTensor(weight, op, 'weight');
    assertShape(w.ndim === 2, op, () => `Expected a weight of shape [out, in] but received [${w.shape.join(', ')}]`);
    const layer = new Linear8bitLt(w.shape[1]!, w.shape[0]!, { ...opts, bias: false });
    layer.loadFloatWeight(w);
    if (bias !== undefined && bias !== null) layer.bias = toTensor(bias, op, 'bias');
    return layer;
  }

  /** Replaces the weight with a float weight [out, in] of this layer's shape. */
  loadFloatWeight(weight: TensorInput): void {
    const op = 'Linear8bitLt.loadFloatWeight';
    this.#check(op);
    const w = toTensor(weight, op, 'weight');
    assertShape(w.ndim === 2 && w.shape[0] === this.outFeatures && w.shape[1] === this.inFeatures, op,
      () => `Expected a weight of shape [${this.outFeatures}, ${this.inFeatures}] but received [${w.shape.join(', ')}]`);
    this.weight.setFloat(w);
  }

  get bias(): Tensor | null {
    return this.#bias;
  }

  set bias(b: Tensor | null) {
    const op = 'Linear8bitLt.bias';
    this.#check(op);
    if (b !== null) {
      assertDType(b, FLOAT_DTYPES, op, 'bias');
      assertShape(b.ndim === 1 && b.shape[0] === this.outFeatures, op, () => `Expected a bias of shape [${this.outFeatures}] but received [${b.shape.join(', ')}]`);
    }
    this.#clearBiasCache();
    this.#bias = b;
  }

  get outlierStats(): Readonly<OutlierStats> {
    return { ...this.#stats };
  }

  resetOutlierStats(): void {
    this.#stats = { calls: 0, totalOutlierColumns: 0, lastOutlierColumns: 0 };
  }

  // bitsandbytes casts the bias to the input dtype before the forward; the default mode keeps
  // the stored bias as is (it is widened to float32 natively), bnbCompat casts (cached).
  #biasFor(dtype: string): Tensor | null {
    const b = this.#bias;
    if (!b || !this.bnbCompat || b.dtype === dtype) return b;
    const d = dtype as FloatDType;
    let cast = this.#biasAs.get(d);
    if (!cast) {
      cast = b.toDType(d);
      this.#biasAs.set(d, cast);
    }
    return cast;
  }

  #record(r: Int8LinearForwardResult): Tensor {
    this.#stats.calls += 1;
    this.#stats.totalOutlierColumns += r.outlierColumns;
    this.#stats.lastOutlierColumns = r.outlierColumns;
    return r.out;
  }

  #args(x: TensorInput, options: ForwardOptions, op: string) {
    this.#check(op);
    const t = toTensor(x, op, 'x');
    assertDType(t, FLOAT_DTYPES, op, 'x');
    assertShape(t.ndim >= 1 && t.shape[t.ndim - 1] === this.inFeatures, op,
      () => `Expected x of shape [..., ${this.inFeatures}] but received [${t.shape.join(', ')}]`);
    return { t, opts: { bias: this.#biasFor(t.dtype), threshold: this.threshold, bnbCompat: this.bnbCompat, out: options.out ?? null } };
  }

  /**
   * y = x · Wᵀ + b through the fused LLM.int8() forward; [..., in] -> [..., out], dtype of x;
   * written into `options.out` (and returned) when given, see ForwardOptions.
   */
  forward(x: TensorInput, options: ForwardOptions = {}): Tensor {
    const { t, opts } = this.#args(x, options, 'Linear8bitLt.forward');
    const packed = this.weight.packedWeight(t.numel / this.inFeatures);
    return this.#record(int8LinearForwardPacked(t, this.weight.CB, this.weight.SCB, opts, packed));
  }

  /** Async twin of forward (runs on the libuv pool, keeps the event loop free). */
  override async forwardAsync(x: TensorInput, options: ForwardOptions = {}): Promise<Tensor> {
    const { t, opts } = this.#args(x, options, 'Linear8bitLt.forwardAsync');
    const packed = await this.weight.packedWeightAsync(t.numel / this.inFeatures);
    this.#check('Linear8bitLt.forwardAsync');
    return this.#record(await int8LinearForwardPackedAsync(t, this.weight.CB, this.weight.SCB, opts, packed));
  }

  /**
   * Moves the layer (weight, bias) to `device` in place and returns it, like torch's
   * `module.to('cuda')`. forward then expects inputs on that device (LOWBIT_E_DEVICE otherwise).
   */
  to(device: DeviceLike): this {
    const op = 'Linear8bitLt.to';
    this.#check(op);
    const target = parseDevice(device, op);
    this.weight.to(target);
    this.#clearBiasCache();
    if (this.#bias && this.#bias.device !== target) {
      const moved = this.#bias.to(target);
      this.#bias.dispose();
      this.#bias = moved;
    }
    return this;
  }

  /** Bytes of the quantized weight: CB (int8) plus SCB (float32), plus CB's packed copy once one is made (Int8Params). */
  weightBytes(): number {
    this.#check('Linear8bitLt.weightBytes');
    return this.weight.bytes();
  }

  #clearBiasCache(): void {
    for (const t of this.#biasAs.values()) t.dispose();
    this.#biasAs.clear();
  }

  #check(op: string): void {
    if (this.#disposed) throw new LowbitError(`${op} on a disposed layer`, 'LOWBIT_E_DISPOSED');
  }

  /** True after dispose(): every method then throws LOWBIT_E_DISPOSED. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Frees the layer's tensors (including tensors handed to it: the layer owns them). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.weight.dispose();
    this.#clearBiasCache();
    this.#bias?.dispose();
    this.#bias = null;
  }
}
