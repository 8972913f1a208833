import { expect } from 'vitest';
import { LowbitError, type LowbitErrorCode } from '../../lib/index.js';

/** The LowbitError code `fn` throws ('no error' if it returns; any other throwable fails the test). */
export function errorCode(fn: () => unknown): LowbitErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LowbitError);
    return (e as LowbitError).code;
  }
  return 'no error';
}

/** Asserts that `fn` throws a LowbitError with `code` (and a message matching `message`). */
export function expectLowbitError(fn: () => unknown, code: LowbitErrorCode, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a LowbitError ${code}`).toBeInstanceOf(LowbitError);
  expect((caught as LowbitError).code).toBe(code);
  if (message) expect((caught as LowbitError).message).toMatch(message);
}
