/**
 * Tensor: a dtype, a shape and row-major contiguous storage on one device.
 *
 * CPU storage is a TypedArray (float16/bfloat16 as Uint16Array bit patterns), shared
 * without copying with the array or foreign tensor it was made from whenever the
 * layout allows. CUDA storage is a DeviceBuffer owned by the tensor. `reshape` returns
 * a view over the same storage: disposing any view disposes the storage for all.
 *
 * dispose() releases the storage at once (CUDA memory is freed immediately; CPU memory
 * is handed back to the garbage collector). CUDA buffers also free themselves if the
 * tensor is collected without dispose (the safety net). Any use after dispose throws
 * LOWBIT_E_DISPOSED.
 */
import { LowbitError, describeValue } from '../errors.js';
import { nativeAddon, type DeviceBuffer } from '../backend/native.js';
import { parseDevice, deviceIndex, type Device, type DeviceLike } from './device.js';
import {
  DTYPE_CODE,
  allocTypedArray,
  dtypeOfTypedArray,
  dtypeSize,
  isDType,
  isFloat16Array,
  isFloatDType,
  typedArrayClass,
  typedArrayMatches,
  type DType,
  type FloatDType,
  type TypedArray,
} from './dtype.js';

export type { Device, DeviceLike } from './device.js';

/**
 * A tensor from another library: onnxruntime-node / onnxruntime-common and
 * transformers.js use `{ data, dims, type }`; ndarray-style objects use
 * `{ data, shape, dtype, stride?, offset? }`.
 */
export interface TensorLike {
  data: ArrayBufferView | ArrayLike<number>;
  dims?: readonly number[];
  shape?: readonly number[];
  type?: string;
  dtype?: string;
  stride?: readonly number[];
  offset?: number;
}

interface Storage {
  host: TypedArray | null;
  device: DeviceBuffer | null;
  disposed: boolean;
}

interface Where {
  op: string;
  arg: string;
}

const MAX_ELEMENTS = 2 ** 50;

function shapeError(msg: string, where?: Where): LowbitError {
  return new LowbitError(where ? `${msg} for \`${where.arg}\` in ${where.op}` : msg, 'LOWBIT_E_SHAPE');
}

/** Validates a shape and returns its element count. */
export function shapeNumel(shape: readonly number[], where?: Where): number {
  if (!Array.isArray(shape)) throw shapeError(`Expected a shape array but received ${describeValue(shape)}`, where);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw shapeError(`Expected non-negative integer dimensions but received [${shape.join(', ')}]`, where);
    }
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw shapeError(`Shape [${shape.join(', ')}] has too many elements`, where);
  return n;
}

/** Maps foreign dtype names (onnxruntime, ndarray) to lowbit's. */
function foreignDType(t: string | undefined): DType | null {
  if (t === undefined) return null;
  if (isDType(t)) return t;
  const aliases: Record<string, DType> = { float: 'float32', half: 'float16', bf16: 'bfloat16', uint16: 'float16' };
  return aliases[t] ?? null;
}

function viewAsUint16(a: ArrayBufferView): Uint16Array {
  return new Uint16Array(a.buffer, a.byteOffset, a.byteLength / 2);
}

/** Float32 -> float16/bfloat16 bits through the native RNE converter. */
function convertHost(src: TypedArray, from: FloatDType, to: FloatDType): TypedArray {
  const out = allocTypedArray(to, src.length);
  if (src.length > 0) {
    nativeAddon().cpu.convert!({ src, dst: out, srcDtype: DTYPE_CODE[from], dstDtype: DTYPE_CODE[to], n: src.length });
  }
  return out;
}

export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly device: Device;
  readonly #storage: Storage;

  /** Internal: use Tensor.from / Tensor.empty / Tensor.zeros. */
  private constructor(dtype: DType, shape: readonly number[], device: Device, storage: Storage) {
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.device = device;
    this.#storage = storage;
  }

  /** Wraps host storage that already has the right type and length. */
  static fromStorage(data: TypedArray, shape: readonly number[], dtype: DType): Tensor {
    return new Tensor(dtype, shape, 'cpu', { host: data, device: null, disposed: false });
  }

  /**
   * Makes a CPU tensor from a TypedArray, a plain number array, a foreign tensor
   * (`{ data, dims, type }`) or a Tensor (returned as is).
   *
   * TypedArrays and foreign tensors with contiguous typed data are shared, not copied.
   * A Float16Array is viewed as Uint16Array bits. Plain arrays are copied (to float16 /
   * bfloat16 through round-to-nearest-even). `shape` defaults to the data's own shape,
   * or `[length]`.
   *
   * @throws LowbitError LOWBIT_E_SHAPE when the element count does not match the shape,
   *   LOWBIT_E_DTYPE when the data cannot hold `dtype`.
   */
  static from(
    data: TypedArray | TensorLike | Tensor | ArrayBufferView | readonly number[],
    shape?: readonly number[],
    dtype?: DType,
    where: Where = { op: 'Tensor.from', arg: 'data' },
  ): Tensor {
    if (data instanceof Tensor) {
      if (shape !== undefined || dtype !== undefined) {
        if (dtype !== undefined && dtype !== data.dtype) return data.toDType(dtype as FloatDType).reshape(shape ?? data.shape);
        return data.reshape(shape ?? data.shape);
      }
      return data;
    }
    if (dtype !== undefined && !isDType(dtype)) {
      throw new LowbitError(`Expected a lowbit dtype for \`dtype\` in ${where.op} but received ${describeValue(dtype)}`, 'LOWBIT_E_DTYPE');
    }
    if (Array.isArray(data)) return Tensor.#fromNumbers(data as readonly number[], shape, dtype ?? 'float32', where);
    if (ArrayBuffer.isView(data)) return Tensor.#fromTypedArray(data, shape, dtype, where);
    if (data !== null && typeof data === 'object' && 'data' in data) return Tensor.#fromTensorLike(data as TensorLike, shape, dtype, where);
    throw new LowbitError(
      `Expected a TypedArray, number[] or { data, dims, type } tensor for \`${where.arg}\` in ${where.op} but received ${describeValue(data)}`,
      'LOWBIT_E_ARGUMENT',
    );
  }

  static #fromTypedArray(a: ArrayBufferView, shape: readonly number[] | undefined, dtype: DType | undefined, where: Where): Tensor {
    const inferred = dtypeOfTypedArray(a);
    const d = dtype ?? inferred;
    if (d === null || inferred === null) {
      throw new LowbitError(
        `Unsupported array type ${a.constructor.name} for \`${where.arg}\` in ${where.op}; expected Float32Array, Uint16Array/Float16Array (float16, bfloat16), Int8Array, Uint8Array or Int32Array`,
        'LOWBIT_E_DTYPE',
      );
    }
    if (!typedArrayMatches(a, d)) {
      throw new LowbitError(
        `A ${a.constructor.name} cannot hold ${d} data for \`${where.arg}\` in ${where.op}; expected a ${typedArrayClass(d).name}${d === 'float16' ? ' or Float16Array' : ''}`,
        'LOWBIT_E_DTYPE',
      );
    }
    const arr: TypedArray = isFloat16Array(a) ? viewAsUint16(a) : (a as TypedArray);
    const s = shape ?? [arr.length];
    const n = shapeNumel(s, where);
    if (n !== arr.length) throw shapeError(`Shape [${s.join(', ')}] has ${n} elements but the data has ${arr.length}`, where);
    return Tensor.fromStorage(arr, s, d);
  }

  static #fromNumbers(values: readonly number[], shape: readonly number[] | undefined, dtype: DType, where: Where): Tensor {
    const s = shape ?? [values.length];
    const n = shapeNumel(s, where);
    if (n !== values.length) throw shapeError(`Shape [${s.join(', ')}] has ${n} elements but the data has ${values.length}`, where);
    if (dtype === 'float16' || dtype === 'bfloat16') {
      return Tensor.fromStorage(convertHost(Float32Array.from(values), 'float32', dtype), s, dtype);
    }
    const C = typedArrayClass(dtype);
    return Tensor.fromStorage(C.from(values) as TypedArray, s, dtype);
  }

  static #fromTensorLike(t: TensorLike, shape: readonly number[] | undefined, dtype: DType | undefined, where: Where): Tensor {
    const typeName = t.type ?? t.dtype;
    const declared = foreignDType(typeName);
    if (typeName !== undefined && declared === null) {
      throw new LowbitError(
        `Unsupported tensor type ${describeValue(typeName)} for \`${where.arg}\` in ${where.op}; expected float32, float16, bfloat16, int8, uint8 or int32`,
        'LOWBIT_E_DTYPE',
      );
    }
    const own = t.dims ?? t.shape;
    const s = shape ?? own ?? undefined;
    const d = dtype ?? declared ?? undefined;
    const data = t.data;
    const contiguous = isContiguous(own, t.stride) && (t.offset ?? 0) === 0;
    if (ArrayBuffer.isView(data) && contiguous) {
      const inner = Tensor.#fromTypedArray(data, s, d, where);
      return inner;
    }
    // Strided or offset view (ndarray), or a plain array: gather into fresh storage.
    if (!own) throw shapeError('A strided or array-backed tensor needs its shape (`dims` or `shape`)', where);
    const target = d ?? (ArrayBuffer.isView(data) ? dtypeOfTypedArray(data) : 'float32') ?? 'float32';
    const gathered = gatherStrided(data as ArrayLike<number>, own, t.stride, t.offset ?? 0, target);
    if (target === 'float16' || target === 'bfloat16') {
      if (ArrayBuffer.isView(data) && !(data instanceof Float32Array)) {
        return Tensor.fromStorage(gathered, s ?? own, target);
      }
      return Tensor.fromStorage(convertHost(gathered, 'float32', target), s ?? own, target);
    }
    return Tensor.from(gathered, s ?? own, target, where);
  }

  /** A new uninitialised (zero-filled on CPU) tensor. */
  static empty(shape: readonly number[], dtype: DType, device: DeviceLike = 'cpu'): Tensor {
    if (!isDType(dtype)) throw new LowbitError(`Expected a lowbit dtype in Tensor.empty but received ${describeValue(dtype)}`, 'LOWBIT_E_DTYPE');
    const dev = parseDevice(device, 'Tensor.empty');
    const n = shapeNumel(shape, { op: 'Tensor.empty', arg: 'shape' });
    if (dev === 'cpu') return Tensor.fromStorage(allocTypedArray(dtype, n), shape, dtype);
    const buf = allocDevice(dev, n * dtypeSize(dtype));
    return new Tensor(dtype, shape, dev, { host: null, device: buf, disposed: false });
  }

  /** A new zero-filled tensor. */
  static zeros(shape: readonly number[], dtype: DType = 'float32', device: DeviceLike = 'cpu'): Tensor {
    const dev = parseDevice(device, 'Tensor.zeros');
    if (dev === 'cpu') return Tensor.empty(shape, dtype, dev);
    return Tensor.empty(shape, dtype).to(dev);
  }

  get numel(): number {
    return shapeNumel(this.shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.#storage.disposed;
  }

  /** Bytes of storage this tensor's elements occupy. */
  get byteLength(): number {
    return this.numel * dtypeSize(this.dtype);
  }

  #ensureValid(op: string): void {
    if (this.#storage.disposed) throw new LowbitError(`${op} on a disposed tensor`, 'LOWBIT_E_DISPOSED');
  }

  /**
   * The live CPU storage (not a copy): Float32Array, Uint16Array (float16/bfloat16 bits),
   * Int8Array, Uint8Array or Int32Array.
   */
  get data(): TypedArray {
    this.#ensureValid('Tensor.data');
    if (this.#storage.host === null) {
      throw new LowbitError(`Tensor.data is only available on cpu tensors; this one is on ${this.device} (use toTypedArray() or to('cpu'))`, 'LOWBIT_E_DEVICE');
    }
    return this.#storage.host;
  }

  /** What the backend passes to native code: the TypedArray or the DeviceBuffer. */
  get storage(): TypedArray | DeviceBuffer {
    this.#ensureValid('Tensor.storage');
    return (this.#storage.host ?? this.#storage.device)!;
  }

  /** A view with another shape over the same storage; one dimension may be -1. */
  reshape(shape: readonly number[]): Tensor {
    this.#ensureValid('Tensor.reshape');
    const where = { op: 'Tensor.reshape', arg: 'shape' };
    const n = this.numel;
    const inferred = shape.filter((d) => d === -1).length;
    if (inferred > 1) throw shapeError('Only one dimension may be -1', where);
    let resolved = [...shape];
    if (inferred === 1) {
      const known = shapeNumel(shape.filter((d) => d !== -1), where);
      if (known === 0 || n % known !== 0) throw shapeError(`Cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`, where);
      resolved = shape.map((d) => (d === -1 ? n / known : d));
    }
    if (shapeNumel(resolved, where) !== n) {
      throw shapeError(`Cannot reshape [${this.shape.join(', ')}] (${n} elements) to [${resolved.join(', ')}]`, where);
    }
    return new Tensor(this.dtype, resolved, this.device, this.#storage);
  }

  /** A copy on `device` (this tensor itself when it is already there). */
  to(device: DeviceLike): Tensor {
    this.#ensureValid('Tensor.to');
    const dev = parseDevice(device, 'Tensor.to');
    if (dev === this.device) return this;
    const bytes = this.byteLength;
    const cuda = nativeAddon().cuda;
    if (dev === 'cpu') {
      const out = allocTypedArray(this.dtype, this.numel);
      if (bytes > 0) cuda.copyDeviceToHost({ dst: out, src: this.#storage.device!, bytes });
      return Tensor.fromStorage(out, this.shape, this.dtype);
    }
    const host = this.device === 'cpu' ? this.#storage.host! : this.to('cpu').data;
    const buf = allocDevice(dev, bytes);
    if (bytes > 0) cuda.copyHostToDevice({ dst: buf, src: host, bytes });
    return new Tensor(this.dtype, this.shape, dev, { host: null, device: buf, disposed: false });
  }

  /**
   * Converts between float32, float16 and bfloat16 (round to nearest even; NaN, Inf and
   * subnormals preserved), natively. Returns this tensor when the dtype already matches.
   */
  toDType(dtype: FloatDType): Tensor {
    this.#ensureValid('Tensor.toDType');
    if (dtype === this.dtype) return this;
    if (!isFloatDType(this.dtype) || !isDType(dtype) || !isFloatDType(dtype)) {
      throw new LowbitError(
        `Tensor.toDType converts between float32, float16 and bfloat16 but was asked for ${this.dtype} -> ${describeValue(dtype)}; use the quantization ops for integer formats`,
        'LOWBIT_E_UNSUPPORTED',
      );
    }
    if (this.device !== 'cpu') return this.to('cpu').toDType(dtype).to(this.device);
    return Tensor.fromStorage(convertHost(this.#storage.host!, this.dtype, dtype), this.shape, dtype);
  }

  toFloat32(): Tensor {
    return this.toDType('float32');
  }

  /**
   * A host copy of the elements in this tensor's dtype. With `{ float16Array: true }`
   * float16 data comes back as a native Float16Array where the runtime has one.
   */
  toTypedArray(options: { float16Array?: boolean } = {}): TypedArray {
    this.#ensureValid('Tensor.toTypedArray');
    const host = this.device === 'cpu' ? this.#storage.host!.slice() : this.to('cpu').data;
    if (options.float16Array && this.dtype === 'float16') {
      const F16 = (globalThis as { Float16Array?: new (b: ArrayBuffer) => TypedArray }).Float16Array;
      if (F16) return new F16(host.buffer as ArrayBuffer);
    }
    return host;
  }

  /** The values as float32 numbers (a copy; integer dtypes are widened). */
  toFloat32Array(): Float32Array {
    this.#ensureValid('Tensor.toFloat32Array');
    if (isFloatDType(this.dtype)) return this.toFloat32().toTypedArray() as Float32Array;
    return Float32Array.from(this.toTypedArray() as Int8Array);
  }

  /** An onnxruntime / transformers.js style `{ data, dims, type }` view of a CPU tensor. */
  toTensorLike(): { data: TypedArray; dims: number[]; type: DType } {
    return { data: this.data, dims: [...this.shape], type: this.dtype };
  }

  /** Frees the storage now. Idempotent; views created by reshape are disposed too. */
  dispose(): void {
    const s = this.#storage;
    if (s.disposed) return;
    s.disposed = true;
    s.host = null;
    if (s.device) {
      const buf = s.device;
      s.device = null;
      buf.dispose();
    }
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device}${this.disposed ? ', disposed' : ''})`;
  }
}

function isContiguous(shape: readonly number[] | undefined, stride: readonly number[] | undefined): boolean {
  if (!stride || !shape) return true;
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Copies a strided view (ndarray semantics) into a dense row-major array. */
function gatherStrided(
  data: ArrayLike<number>,
  shape: readonly number[],
  stride: readonly number[] | undefined,
  offset: number,
  dtype: DType,
): TypedArray {
  if (isFloat16Array(data)) data = viewAsUint16(data as unknown as ArrayBufferView);
  const n = shapeNumel(shape);
  const st = stride ?? rowMajorStrides(shape);
  const keepBits = ArrayBuffer.isView(data) && !(data instanceof Float32Array) && (dtype === 'float16' || dtype === 'bfloat16');
  const out: TypedArray = keepBits ? new Uint16Array(n) : dtype === 'float16' || dtype === 'bfloat16' ? new Float32Array(n) : allocTypedArray(dtype, n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = offset;
    for (let k = 0; k < shape.length; k++) src += idx[k]! * st[k]!;
    out[i] = data[src]!;
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k]! < shape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i]!;
  }
  return st;
}

function allocDevice(dev: Device, bytes: number): DeviceBuffer {
  assertCudaUsable(dev);
  return nativeAddon().cuda.alloc({ device: deviceIndex(dev), bytes });
}

/** Throws LOWBIT_E_DEVICE with the reason when `dev` cannot be used. */
export function assertCudaUsable(dev: Device): void {
  if (dev === 'cpu') return;
  if (process.env.LOWBIT_DEVICE === 'cpu') {
    throw new LowbitError(`Cannot use ${dev}: CUDA is disabled by LOWBIT_DEVICE=cpu`, 'LOWBIT_E_DEVICE');
  }
  const info = nativeAddon().backendInfo(true).cuda;
  if (!info.available) throw new LowbitError(`Cannot use ${dev}: CUDA is not available (${info.reason})`, 'LOWBIT_E_DEVICE');
  const idx = deviceIndex(dev);
  if (!info.devices || idx >= info.devices.length) {
    throw new LowbitError(`Cannot use ${dev}: only ${info.devices?.length ?? 0} CUDA device(s) visible`, 'LOWBIT_E_DEVICE');
  }
}

/**
 * @internal Copies `src`'s elements into `dst` (same dtype, element count and device; both live).
 * The callers validate; this is the one place that knows how each device copies.
 */
export function copyElements(dst: Tensor, src: Tensor): void {
  const bytes = src.byteLength;
  if (bytes === 0) return;
  if (dst.device === 'cpu') {
    (dst.storage as TypedArray).set(src.storage as TypedArray);
    return;
  }
  nativeAddon().cuda.copyDeviceToDevice({ dst: dst.storage as DeviceBuffer, src: src.storage as DeviceBuffer, bytes });
}
