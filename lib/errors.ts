/**
 * lowbit's single error class. Every failure that lowbit detects — in TypeScript
 * validation or in native code — is a `LowbitError` with a stable `code`, so callers
 * can branch on `err.code` instead of parsing messages.
 *
 * Messages follow one shape: what was wrong, where, and what was expected, e.g.
 * "Expected one of 32, 64, ..., 4096 for `blocksize` in quantize4bit but received 100".
 */

export type LowbitErrorCode =
  /** A tensor has a dtype the operation does not accept. */
  | 'LOWBIT_E_DTYPE'
  /** Shapes do not agree, or a size is invalid. */
  | 'LOWBIT_E_SHAPE'
  /** Wrong or unavailable device (e.g. CUDA requested but not usable). */
  | 'LOWBIT_E_DEVICE'
  /** An argument value is out of its allowed set or range. */
  | 'LOWBIT_E_ARGUMENT'
  /** A valid request that this build or backend cannot serve. */
  | 'LOWBIT_E_UNSUPPORTED'
  /** A failure inside native code (CUDA runtime error, internal error). */
  | 'LOWBIT_E_NATIVE'
  /** Use of a tensor, buffer or layer after `dispose()`. */
  | 'LOWBIT_E_DISPOSED'
  /** An allocation failed. */
  | 'LOWBIT_E_OUT_OF_MEMORY'
  /** A file (safetensors, checkpoint, state dict) is malformed or disagrees with itself. */
  | 'LOWBIT_E_FORMAT';

export const LOWBIT_ERROR_CODES: readonly LowbitErrorCode[] = [
  'LOWBIT_E_DTYPE',
  'LOWBIT_E_SHAPE',
  'LOWBIT_E_DEVICE',
  'LOWBIT_E_ARGUMENT',
  'LOWBIT_E_UNSUPPORTED',
  'LOWBIT_E_NATIVE',
  'LOWBIT_E_DISPOSED',
  'LOWBIT_E_OUT_OF_MEMORY',
  'LOWBIT_E_FORMAT',
];

export class LowbitError extends Error {
  readonly code: LowbitErrorCode;

  constructor(message: string, code: LowbitErrorCode) {
    super(message);
    this.name = 'LowbitError';
    // Native code constructs this class too; an unknown code from a newer addon is
    // reported as a native failure rather than an unlisted string.
    this.code = (LOWBIT_ERROR_CODES as readonly string[]).includes(code) ? code : 'LOWBIT_E_NATIVE';
  }
}

/** Renders a received value for an error message without dumping huge arrays. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.length <= 8 ? `[${v.map(describeValue).join(', ')}]` : `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as { length?: number }).length ?? v.byteLength}`;
  if (typeof v === 'function') return 'a function';
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
