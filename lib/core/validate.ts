/**
 * Argument checks shared by every op. Each throws a LowbitError whose message says
 * what was wrong, where (`arg` in `op`) and what was expected. Messages are built
 * lazily so the happy path costs nothing.
 */
import { LowbitError, describeValue } from '../errors.js';
import type { DType, TypedArray } from './dtype.js';
import { Tensor, type Device, type TensorLike } from './tensor.js';

export type TensorInput = Tensor | TypedArray | TensorLike;

/** Normalises a Tensor, TypedArray (as 1-D) or duck-typed tensor into a Tensor (zero-copy when possible). */
export function toTensor(x: TensorInput, op: string, arg: string): Tensor {
  if (x instanceof Tensor) {
    if (x.disposed) throw new LowbitError(`\`${arg}\` in ${op} was disposed`, 'LOWBIT_E_DISPOSED');
    return x;
  }
  if (x === null || typeof x !== 'object') {
    throw new LowbitError(
      `Expected a Tensor, TypedArray or { data, dims, type } object for \`${arg}\` in ${op} but received ${describeValue(x)}`,
      'LOWBIT_E_ARGUMENT',
    );
  }
  return Tensor.from(x, undefined, undefined, { op, arg });
}

export function assertDType(t: Tensor, allowed: readonly DType[], op: string, arg: string): void {
  if (!allowed.includes(t.dtype)) {
    throw new LowbitError(
      `Expected ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(', ')}`} for \`${arg}\` in ${op} but received ${t.dtype}`,
      'LOWBIT_E_DTYPE',
    );
  }
}

export function assertShape(cond: boolean, op: string, message: () => string): asserts cond {
  if (!cond) throw new LowbitError(`${message()} (in ${op})`, 'LOWBIT_E_SHAPE');
}

export function assertInt(v: unknown, op: string, arg: string, range: { min?: number; max?: number } = {}): number {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const bounds = range.min !== undefined || range.max !== undefined ? ` in [${min}, ${max}]` : '';
    throw new LowbitError(`Expected an integer${bounds} for \`${arg}\` in ${op} but received ${describeValue(v)}`, 'LOWBIT_E_ARGUMENT');
  }
  return v;
}

export function assertOneOf<T>(v: unknown, allowed: readonly T[], op: string, arg: string): T {
  if (!allowed.includes(v as T)) {
    throw new LowbitError(
      `Expected one of ${allowed.map((a) => describeValue(a)).join(', ')} for \`${arg}\` in ${op} but received ${describeValue(v)}`,
      'LOWBIT_E_ARGUMENT',
    );
  }
  return v as T;
}

export function assertFinite(v: unknown, op: string, arg: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new LowbitError(`Expected a finite number for \`${arg}\` in ${op} but received ${describeValue(v)}`, 'LOWBIT_E_ARGUMENT');
  }
  return v;
}

export function assertBoolean(v: unknown, op: string, arg: string): boolean {
  if (typeof v !== 'boolean') {
    throw new LowbitError(`Expected a boolean for \`${arg}\` in ${op} but received ${describeValue(v)}`, 'LOWBIT_E_ARGUMENT');
  }
  return v;
}

export function assertSameDevice(op: string, ...ts: Tensor[]): void {
  const first = ts[0];
  if (!first) return;
  for (const t of ts) {
    if (t.device !== first.device) {
      throw new LowbitError(
        `Expected all tensors of ${op} on one device but received ${first.device} and ${t.device}`,
        'LOWBIT_E_DEVICE',
      );
    }
  }
}

/** True when two tensors' storage may share bytes (host: overlapping ranges of one ArrayBuffer; device: one buffer). */
function sharesMemory(a: Tensor, b: Tensor): boolean {
  if (a.device !== b.device) return false;
  const sa = a.storage;
  const sb = b.storage;
  if (!ArrayBuffer.isView(sa) || !ArrayBuffer.isView(sb)) return sa === sb;
  if (sa.buffer !== sb.buffer) return false;
  return sa.byteOffset < sb.byteOffset + sb.byteLength && sb.byteOffset < sa.byteOffset + sa.byteLength;
}

/**
 * The caller's output tensor of an op that writes its result into `out` instead of allocating
 * one: a live Tensor with exactly the result's shape, dtype and device, sharing no memory with the
 * op's inputs (the kernels read their inputs while they write the output).
 */
export function checkOut(out: unknown, op: string, shape: readonly number[], dtype: DType, device: Device, inputs: Record<string, Tensor | null>): Tensor {
  if (!(out instanceof Tensor)) {
    throw new LowbitError(`Expected a Tensor for \`out\` in ${op} but received ${describeValue(out)}`, 'LOWBIT_E_ARGUMENT');
  }
  if (out.disposed) throw new LowbitError(`\`out\` in ${op} was disposed`, 'LOWBIT_E_DISPOSED');
  if (out.device !== device) {
    throw new LowbitError(`Expected \`out\` on ${device} (the device of the inputs) in ${op} but it is on ${out.device}`, 'LOWBIT_E_DEVICE');
  }
  if (out.dtype !== dtype) {
    throw new LowbitError(`Expected \`out\` of dtype ${dtype} (the result's dtype) in ${op} but received ${out.dtype}`, 'LOWBIT_E_DTYPE');
  }
  assertShape(out.shape.length === shape.length && out.shape.every((d, i) => d === shape[i]), op, () =>
    `Expected \`out\` of shape [${shape.join(', ')}] (the result's shape) but received [${out.shape.join(', ')}]`);
  for (const [name, t] of Object.entries(inputs)) {
    if (t && sharesMemory(out, t)) {
      throw new LowbitError(`\`out\` in ${op} shares memory with \`${name}\`; pass a separate tensor (the op reads \`${name}\` while it writes \`out\`)`, 'LOWBIT_E_ARGUMENT');
    }
  }
  return out;
}
