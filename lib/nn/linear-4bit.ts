/**
 * 4-bit linear layers mirroring bitsandbytes' `Linear4bit`, `LinearNF4`, `LinearFP4` and
 * `Params4bit` (spec bitsandbytes-numerics.md §6.1, §11).
 *
 * Forward: `y = x · dequant(W)ᵀ + bias` through the fused matmul4bit (the float weight is never
 * materialised), float32 products and sums.
 * compute dtype (bitsandbytes §6.1): an explicit `computeDtype` is always used (x is cast to it,
 * the result cast back to x's dtype). Without one, the first float32 or bfloat16 input fixes it
 * to that dtype and float16 inputs compute in float16, as in bitsandbytes; unlike transformers'
 * default there is no forced (slow) float32 compute for half-precision inputs.
 */
import { parseDevice, type Device, type DeviceLike } from '../core/device.js';
import { FLOAT_DTYPES, type DType, type FloatDType } from '../core/dtype.js';
import type { QuantState, QuantType4bit } from '../core/quant-state.js';
import { Tensor, copyElements } from '../core/tensor.js';
import { assertDType, assertInt, assertOneOf, assertShape, checkOut, toTensor, type TensorInput } from '../core/validate.js';
import { LowbitError } from '../errors.js';
import { MATMUL_ACTIVATIONS, matmul4bitAs, matmul4bitAsAsync, type MatmulActivations } from '../functional/matmul-4bit.js';
import { BLOCKSIZES_4BIT, QUANT_STORAGE_DTYPES, quantize4bit } from '../functional/quantize-4bit.js';
import { Module, type ForwardOptions } from './module.js';


export interface Params4bitOptions {
  /** Elements per absmax block (default 64). */
  blocksize?: number;
  /** Double-quantize the block scales (default true, as bitsandbytes). */
  compressStatistics?: boolean;
  /** 'nf4' or 'fp4' (default 'fp4', as bitsandbytes). */
  quantType?: QuantType4bit;
  /** dtype the packed bytes are stored as (default 'uint8'). */
  quantStorage?: DType;
}

export interface Linear4bitOptions extends Params4bitOptions {
  /** Add a bias (default true for the constructor; fromFloat: whether a bias is given). */
  bias?: boolean;
  /** dtype inputs are cast to for the product (default: see the module doc). */
  computeDtype?: FloatDType;
  /**
   * Activation precision of the forward, see Matmul4bitOptions.activations: 'float32' (default,
   * exact float32 products), 'int16' (single-row forwards, ~1e-4 relative error) or 'int8'
   * (any batch, fastest with AVX-512 VNNI, ~1e-2 relative error).
   */
  activations?: MatmulActivations;
}

/**
 * The packed 4-bit weight of a layer plus its quantization settings and state. Empty (not
 * quantized) until `quantize` or `setQuantized` is called.
 */
export class Params4bit {
  readonly blocksize: number;
  readonly compressStatistics: boolean;
  readonly quantType: QuantType4bit;
  readonly quantStorage: DType;
  #data: Tensor | null = null;
  #state: QuantState | null = null;

  constructor(opts: Params4bitOptions = {}, op = 'Params4bit') {
    this.blocksize = assertOneOf(opts.blocksize ?? 64, BLOCKSIZES_4BIT, op, 'blocksize');
    const cs = opts.compressStatistics ?? true;
    if (typeof cs !== 'boolean') throw new LowbitError(`Expected a boolean for \`compressStatistics\` in ${op}`, 'LOWBIT_E_ARGUMENT');
    this.compressStatistics = cs;
    this.quantType = assertOneOf(opts.quantType ?? 'fp4', ['nf4', 'fp4'] as const, op, 'quantType');
    this.quantStorage = assertOneOf(opts.quantStorage ?? 'uint8', QUANT_STORAGE_DTYPES, op, 'quantStorage');
  }

  /** Quantizes a float weight `[out, in]` (any float dtype; that dtype becomes `quantState.dtype`). */
  static fromFloat(weight: TensorInput, opts: Params4bitOptions = {}): Params4bit {
    const p = new Params4bit(opts, 'Params4bit.fromFloat');
    p.quantize(weight);
    return p;
  }

  /** Quantizes `weight` into this parameter, replacing any previous data. */
  quantize(weight: TensorInput): void {
    const [packed, state] = quantize4bit(weight, {
      blocksize: this.blocksize, quantType: this.quantType, compressStatistics: this.compressStatistics, quantStorage: this.quantStorage,
    });
    this.setQuantized(packed, state);
  }

  /** Installs already-quantized data (e.g. from a state dict). */
  setQuantized(packed: Tensor, state: QuantState): void {
    this.dispose();
    this.#data = packed;
    this.#state = state;
  }

  get isQuantized(): boolean {
    return this.#data !== null;
  }

  /** The packed codes `[ceil(n/2)/itemsize, 1]` of `quantStorage`. */
  get data(): Tensor {
    if (!this.#data) throw new LowbitError('Params4bit holds no quantized weight yet (call quantize or load a state dict)', 'LOWBIT_E_ARGUMENT');
    return this.#data;
  }

  get quantState(): QuantState {
    if (!this.#state) throw new LowbitError('Params4bit holds no quantized weight yet (call quantize or load a state dict)', 'LOWBIT_E_ARGUMENT');
    return this.#state;
  }

  /** Original weight shape `[out, in]`. */
  get shape(): readonly number[] {
    return this.quantState.shape;
  }

  /**
   * Moves the packed weight and its quantization state to `device` in place (the nested
   * statistics stay nested; the tensors left behind are freed), like bitsandbytes'
   * `Params4bit.to('cuda')`. An empty parameter has nothing to move.
   */
  to(device: DeviceLike): void {
    const target = parseDevice(device, 'Params4bit.to');
    if (this.#data && this.#data.device !== target) {
      const moved = this.#data.to(target);
      this.#data.dispose();
      this.#data = moved;
    }
    this.#state?.to(target);
  }

  /** The device of the packed weight ('cpu' while empty). */
  get device(): Device {
    return this.#data?.device ?? 'cpu';
  }

  /** Packed bytes + block statistics (absmax, nested absmax, offset). */
  bytes(): number {
    if (!this.#data || !this.#state) return 0;
    return Math.ceil(this.#state.numel / 2) + this.#state.statsBytes();
  }

  dispose(): void {
    this.#data?.dispose();
    this.#state?.dispose();
    this.#data = null;
    this.#state = null;
  }
}

/**
 * A linear layer with an NF4/FP4 weight: `forward(x [..., in]) -> [..., out]`.
 *
 * @example
 * const layer = LinearNF4.fromFloat(W, bias);          // W: [out, in]
 * const y = layer.forward(x);                          // x: [..., in]
 */
export class Linear4bit extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Params4bit;
  bias: Tensor | null;
  /** The compute dtype in effect (null until fixed, see the module doc). */
  computeDtype: FloatDType | null;
  /** Activation precision of the forward ('float32', 'int16' or 'int8'; Linear4bitOptions.activations). */
  activations: MatmulActivations;
  #disposed = false;
  /** The bias converted to a compute dtype / moved to the weight's device, by `dtype@device`. */
  #biasCache = new Map<string, { source: Tensor; cast: Tensor }>();

  /**
   * A layer without a weight yet: load one with `loadFloatWeight` or `fromStateDict`
   * (lib/io/state-dict-4bit.ts). With `bias: true` (default) the bias starts at zero.
   * @throws LowbitError LOWBIT_E_ARGUMENT for invalid sizes or options.
   */
  constructor(inFeatures: number, outFeatures: number, opts: Linear4bitOptions = {}) {
    super();
    const op = new.target?.name ?? 'Linear4bit';
    this.inFeatures = assertInt(inFeatures, op, 'inFeatures', { min: 1 });
    this.outFeatures = assertInt(outFeatures, op, 'outFeatures', { min: 1 });
    this.weight = new Params4bit(opts, op);
    this.computeDtype = opts.computeDtype === undefined ? null : assertOneOf(opts.computeDtype, FLOAT_DTYPES, op, 'computeDtype');
    this.bias = (opts.bias ?? true) ? Tensor.zeros([outFeatures], 'float32') : null;
    this.activations = assertOneOf(opts.activations ?? 'float32', MATMUL_ACTIVATIONS, op, 'activations');
  }

  /**
   * Builds a layer from a float weight `[out, in]` and an optional bias `[out]`.
   * @throws LowbitError LOWBIT_E_SHAPE (weight not 2-D, bias size), LOWBIT_E_DTYPE, LOWBIT_E_ARGUMENT.
   */
  static fromFloat<T extends Linear4bit>(this: new (i: number, o: number, opts?: Linear4bitOptions) => T, weight: TensorInput, bias?: TensorInput | null, opts: Linear4bitOptions = {}): T {
    const op = `${this.name}.fromFloat`;
    const W = toTensor(weight, op, 'weight');
    assertShape(W.ndim === 2, op, () => `Expected a 2-D [out, in] weight but received shape [${W.shape.join(', ')}]`);
    const hasBias = bias !== null && bias !== undefined;
    const layer = new this(W.shape[1]!, W.shape[0]!, { ...opts, bias: opts.bias ?? hasBias });
    layer.loadFloatWeight(W, hasBias ? bias : null);
    return layer;
  }

  /**
   * Quantizes and installs a float weight `[out, in]` (and the bias, when given).
   * @throws LowbitError LOWBIT_E_SHAPE when the weight or bias does not match the layer.
   */
  loadFloatWeight(weight: TensorInput, bias?: TensorInput | null): void {
    const op = `${this.constructor.name}.loadFloatWeight`;
    this.#ensureLive(op);
    const W = toTensor(weight, op, 'weight');
    assertDType(W, FLOAT_DTYPES, op, 'weight');
    assertShape(W.ndim === 2 && W.shape[0] === this.outFeatures && W.shape[1] === this.inFeatures, op, () =>
      `Expected weight of shape [${this.outFeatures}, ${this.inFeatures}] but received [${W.shape.join(', ')}]`);
    if (bias !== null && bias !== undefined) this.setBias(bias);
    this.weight.quantize(W);
  }

  /** Replaces the bias (`[out]`, any float dtype; cast to the compute dtype at forward). */
  setBias(bias: TensorInput | null): void {
    const op = `${this.constructor.name}.setBias`;
    this.#ensureLive(op);
    this.#clearBiasCache();
    if (bias === null) {
      this.bias = null;
      return;
    }
    const B = toTensor(bias, op, 'bias');
    assertDType(B, FLOAT_DTYPES, op, 'bias');
    assertShape(B.numel === this.outFeatures, op, () => `Expected ${this.outFeatures} bias values but received shape [${B.shape.join(', ')}]`);
    this.bias = B.reshape([this.outFeatures]);
  }

  /**
   * Moves the layer (packed weight, quantization state, bias) to `device` in place and returns
   * it, like torch's `module.to('cuda')`. forward then expects inputs on that device
   * (LOWBIT_E_DEVICE otherwise).
   */
  to(device: DeviceLike): this {
    const op = `${this.constructor.name}.to`;
    this.#ensureLive(op);
    const target = parseDevice(device, op);
    this.weight.to(target);
    this.#clearBiasCache();
    if (this.bias && this.bias.device !== target) this.bias = this.bias.to(target);
    return this;
  }

  /** The device of the layer's weight ('cpu' while it has none). */
  get device(): Device {
    return this.weight.device;
  }

  /** The bias in dtype `d` on the weight's device, converted once and cached. */
  #biasAs(d: FloatDType): Tensor | null {
    if (!this.bias) return null;
    const device = this.weight.device;
    if (this.bias.dtype === d && this.bias.device === device) return this.bias;
    const key = `${d}@${device}`;
    const hit = this.#biasCache.get(key);
    if (hit && hit.source === this.bias && !hit.cast.disposed) return hit.cast;
    if (hit) hit.cast.dispose();
    const cast = this.bias.toDType(d).to(device);
    this.#biasCache.set(key, { source: this.bias, cast });
    return cast;
  }

  #clearBiasCache(): void {
    for (const { cast } of this.#biasCache.values()) if (cast !== this.bias) cast.dispose();
    this.#biasCache.clear();
  }

  /**
   * The product's operands. The compute dtype cd (module doc) decides the rounding: x is rounded
   * to cd and the float32 sums to cd, then to x's dtype. When cd is float32 the first rounding is
   * exact and the second is subsumed by rounding the sums straight to x's dtype, so x is passed
   * as it is with the result in its dtype (no conversion, on the CPU or the GPU).
   */
  #prepare(op: string, input: TensorInput): { x: Tensor; xd: FloatDType; outDtype: FloatDType; bias: Tensor | null } {
    this.#ensureLive(op);
    if (!this.weight.isQuantized) {
      throw new LowbitError(`${op}: the layer has no weight yet; call loadFloatWeight(...) or load a state dict first`, 'LOWBIT_E_ARGUMENT');
    }
    const x = toTensor(input, op, 'x');
    assertDType(x, FLOAT_DTYPES, op, 'x');
    assertShape(x.ndim >= 1 && x.shape[x.ndim - 1] === this.inFeatures, op, () =>
      `Expected the last dimension of \`x\` to be inFeatures = ${this.inFeatures} but received shape [${x.shape.join(', ')}]`);
    if (x.device !== this.weight.device) {
      throw new LowbitError(
        `${op}: the input is on ${x.device} but the layer's weight is on ${this.weight.device}; move one of them (x.to(...) or layer.to(...))`,
        'LOWBIT_E_DEVICE',
      );
    }
    const xd = x.dtype as FloatDType;
    if (this.computeDtype === null && (xd === 'float32' || xd === 'bfloat16')) this.computeDtype = xd;
    const cd = this.computeDtype ?? xd;
    const bias = this.#biasAs(cd);
    if (cd === xd || cd === 'float32') return { x, xd, outDtype: xd, bias };
    return { x: x.toDType(cd), xd, outDtype: cd, bias };
  }

  /**
   * `y = x · dequant(W)ᵀ + bias`, shape `[..., out]`, dtype of `x`; written into `options.out`
   * (and returned) when given, see ForwardOptions.
   */
  forward(input: TensorInput, options: ForwardOptions = {}): Tensor {
    const op = `${this.constructor.name}.forward`;
    const p = this.#prepare(op, input);
    const out = this.#outFor(op, options, p);
    const y = matmul4bitAs(op, p.x, this.weight.data, this.weight.quantState, p.bias, { activations: this.activations, out: out.direct }, p.outDtype);
    return out.rounded ? this.#convertInto(out.rounded, y, p) : y.toDType(p.xd);
  }

  /** forward off the event loop (the product runs on the libuv pool). */
  override async forwardAsync(input: TensorInput, options: ForwardOptions = {}): Promise<Tensor> {
    const op = `${this.constructor.name}.forwardAsync`;
    const p = this.#prepare(op, input);
    const out = this.#outFor(op, options, p);
    const y = await matmul4bitAsAsync(op, p.x, this.weight.data, this.weight.quantState, p.bias, { activations: this.activations, out: out.direct }, p.outDtype);
    return out.rounded ? this.#convertInto(out.rounded, y, p) : y.toDType(p.xd);
  }

  // Where the caller's `out` goes. Usually the product writes straight into it (`direct`, checked
  // by matmul4bit). A compute dtype other than x's and float32 (module doc) gives the product in
  // that dtype, then x's: `out` then receives that second rounding (`rounded`), so it is checked
  // here, before the product runs. The product reads a converted copy of x, so `out` may be x.
  #outFor(op: string, options: ForwardOptions, p: { x: Tensor; xd: FloatDType; outDtype: FloatDType }): { direct: Tensor | null; rounded: Tensor | null } {
    const out = options.out ?? null;
    if (out === null || p.outDtype === p.xd) return { direct: out, rounded: null };
    return { direct: null, rounded: checkOut(out, op, [...p.x.shape.slice(0, -1), this.outFeatures], p.xd, p.x.device, {}) };
  }

  #convertInto(out: Tensor, y: Tensor, p: { x: Tensor; xd: FloatDType }): Tensor {
    const rounded = y.toDType(p.xd);
    copyElements(out, rounded);
    rounded.dispose();
    y.dispose();
    p.x.dispose();
    return out;
  }

  /** Bytes of the quantized weight: packed codes + absmax + nested state. */
  weightBytes(): number {
    this.#ensureLive(`${this.constructor.name}.weightBytes`);
    return this.weight.bytes();
  }

  /** True after dispose(): every method then throws LOWBIT_E_DISPOSED. */
  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#clearBiasCache();
    this.weight.dispose();
    this.bias = null;
  }

  #ensureLive(op: string): void {
    if (this.#disposed) throw new LowbitError(`${op} on a disposed layer`, 'LOWBIT_E_DISPOSED');
  }
}

/** Linear4bit with `quantType: 'nf4'`. */
export class LinearNF4 extends Linear4bit {
  constructor(inFeatures: number, outFeatures: number, opts: Omit<Linear4bitOptions, 'quantType'> = {}) {
    super(inFeatures, outFeatures, { ...opts, quantType: 'nf4' });
  }
}

/** Linear4bit with `quantType: 'fp4'`. */
export class LinearFP4 extends Linear4bit {
  constructor(inFeatures: number, outFeatures: number, opts: Omit<Linear4bitOptions, 'quantType'> = {}) {
    super(inFeatures, outFeatures, { ...opts, quantType: 'fp4' });
  }
}
