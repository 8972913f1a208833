/**
 * Argument checks shared by every op. Each throws a LowbitError whose message says
 * what was wrong, where (`arg` in `op`) and what was expected. Messages are built
 * lazily so the happy path costs nothing.
 */
import { LowbitError, describeValue } from '../errors.js';
import type { DType, TypedArray } from './dtype.js';
import { Tensor, type TensorLike } from './tensor.js';

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
