/**
 * Element types. The vocabulary is onnxruntime's ('float32', 'float16', ...) plus
 * 'bfloat16'. Half-precision values are stored as their IEEE bit patterns in a
 * Uint16Array (Float16Array is accepted on input where the runtime has it).
 */
import { LowbitError, describeValue } from '../errors.js';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int32';
export type FloatDType = 'float32' | 'float16' | 'bfloat16';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int32'];
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** Numeric codes shared with native/include/lowbit/dtype.h (lb::DType). */
export const DTYPE_CODE: Readonly<Record<DType, number>> = {
  float32: 0,
  float16: 1,
  bfloat16: 2,
  int8: 3,
  uint8: 4,
  int32: 5,
};

export type TypedArray = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array;

const SIZES: Readonly<Record<DType, number>> = { float32: 4, float16: 2, bfloat16: 2, int8: 1, uint8: 1, int32: 4 };

export function dtypeSize(d: DType): number {
  return SIZES[d];
}

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}

export function isFloatDType(d: DType): d is FloatDType {
  return d === 'float32' || d === 'float16' || d === 'bfloat16';
}

/** The TypedArray class that stores a dtype. */
export function typedArrayClass(d: DType) {
  switch (d) {
    case 'float32':
      return Float32Array;
    case 'float16':
    case 'bfloat16':
      return Uint16Array;
    case 'int8':
      return Int8Array;
    case 'uint8':
      return Uint8Array;
    case 'int32':
      return Int32Array;
  }
}

export function allocTypedArray(d: DType, length: number): TypedArray {
  const C = typedArrayClass(d);
  return new C(length);
}

/**
 * The dtype a TypedArray holds when no dtype is given. A Uint16Array is ambiguous
 * (float16 or bfloat16 bits) and defaults to float16, like onnxruntime on Node 20.
 */
export function dtypeOfTypedArray(a: ArrayBufferView): DType | null {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Uint16Array) return 'float16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int32Array) return 'int32';
  if (isFloat16Array(a)) return 'float16';
  return null;
}

/** True for a native Float16Array (Node >= 24, or Node 22 with a flag). */
export function isFloat16Array(a: unknown): boolean {
  const F16 = (globalThis as { Float16Array?: new (...args: never[]) => unknown }).Float16Array;
  return F16 !== undefined && a instanceof F16;
}

/** Whether the TypedArray `a` can store dtype `d` without conversion. */
export function typedArrayMatches(a: ArrayBufferView, d: DType): boolean {
  if (d === 'float16' && isFloat16Array(a)) return true;
  return a instanceof typedArrayClass(d);
}

export function parseDType(v: unknown, op: string, arg: string): DType {
  if (isDType(v)) return v;
  throw new LowbitError(
    `Expected one of ${DTYPES.map((d) => `'${d}'`).join(', ')} for \`${arg}\` in ${op} but received ${describeValue(v)}`,
    'LOWBIT_E_DTYPE',
  );
}
