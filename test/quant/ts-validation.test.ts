// TypeScript validates before anything reaches the native addon (the native boundary re-checks,
// with the same error codes, which is exactly why a widened TS check went unnoticed: the error
// still came, from C++). Here the backend's run/runAsync are watched: an invalid call must throw
// its typed error without a single native call.
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  backendFor, dequantize4bit, dequantize4bitAsync, dequantizeBlockwise, gemv4bit, gemv4bitAsync, LowbitError, matmul4bit, matmul4bitAsync,
  quantize4bit, quantize4bitAsync, quantizeBlockwise, quantizeBlockwiseAsync, Tensor, type LowbitErrorCode,
} from '../../lib/index.js';

const be = backendFor('cpu');
afterEach(() => vi.restoreAllMocks());

const [p, st] = quantize4bit(Tensor.from(new Float32Array(8 * 64).fill(0.5), [8, 64]), { quantType: 'nf4' });
const [q8, st8] = quantizeBlockwise(new Float32Array(256).fill(0.5), { blocksize: 64 });
const x = Tensor.from(new Float32Array(64).fill(1), [1, 64]);

const cases: [string, () => unknown, LowbitErrorCode][] = [
  ...[16, 8, 1, 0, -64, 100, 48, 8192, 64.5].map((bs): [string, () => unknown, LowbitErrorCode] => [`quantize4bit blocksize ${bs}`, () => quantize4bit(new Float32Array(64), { blocksize: bs }), 'LOWBIT_E_ARGUMENT']),
  ...[16, 32, 100, 8192].map((bs): [string, () => unknown, LowbitErrorCode] => [`quantizeBlockwise blocksize ${bs}`, () => quantizeBlockwise(new Float32Array(64), { blocksize: bs }), 'LOWBIT_E_ARGUMENT']),
  ['quantize4bitAsync blocksize 16', () => quantize4bitAsync(new Float32Array(64), { blocksize: 16 }), 'LOWBIT_E_ARGUMENT'],
  ['quantizeBlockwiseAsync blocksize 32', () => quantizeBlockwiseAsync(new Float32Array(64), { blocksize: 32 }), 'LOWBIT_E_ARGUMENT'],
  ['quantize4bit quantType', () => quantize4bit(new Float32Array(64), { quantType: 'int4' as never }), 'LOWBIT_E_ARGUMENT'],
  ['quantize4bit compressStatistics not boolean', () => quantize4bit(new Float32Array(64), { compressStatistics: 1 as never }), 'LOWBIT_E_ARGUMENT'],
  ['quantize4bit int8 input', () => quantize4bit(new Int8Array(64)), 'LOWBIT_E_DTYPE'],
  ['quantizeBlockwise code of 255 entries', () => quantizeBlockwise(new Float32Array(64), { code: new Float32Array(255) }), 'LOWBIT_E_SHAPE'],
  ['quantizeBlockwise nested not boolean', () => quantizeBlockwise(new Float32Array(64), { nested: 'yes' as never }), 'LOWBIT_E_ARGUMENT'],
  ['dequantize4bit too few bytes', () => dequantize4bit(new Uint8Array(10), st), 'LOWBIT_E_SHAPE'],
  ['dequantize4bit outDtype', () => dequantize4bit(p, st, { outDtype: 'int8' as never }), 'LOWBIT_E_ARGUMENT'],
  ['dequantize4bitAsync outDtype', () => dequantize4bitAsync(p, st, { outDtype: 'int8' as never }), 'LOWBIT_E_ARGUMENT'],
  ['dequantize4bit 8-bit state', () => dequantize4bit(p, st8), 'LOWBIT_E_ARGUMENT'],
  ['dequantizeBlockwise 4-bit state', () => dequantizeBlockwise(q8, st), 'LOWBIT_E_ARGUMENT'],
  ['matmul4bit K mismatch', () => matmul4bit(new Float32Array(63), p, st), 'LOWBIT_E_SHAPE'],
  ['matmul4bitAsync activations', () => matmul4bitAsync(x, p, st, null, { activations: 'int4' as never }), 'LOWBIT_E_ARGUMENT'],
  ['gemv4bit two rows', () => gemv4bit(Tensor.from(new Float32Array(128), [2, 64]), p, st), 'LOWBIT_E_SHAPE'],
  ['gemv4bitAsync bias size', () => gemv4bitAsync(x, p, st, new Float32Array(7)), 'LOWBIT_E_SHAPE'],
];

describe('invalid arguments are refused in TypeScript, before any native call', () => {
  it.each(cases)('%s', async (_name, call, code) => {
    const run = vi.spyOn(be, 'run');
    const runAsync = vi.spyOn(be, 'runAsync');
    let err: unknown;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LowbitError);
    expect((err as LowbitError).code).toBe(code);
    expect(run).not.toHaveBeenCalled();
    expect(runAsync).not.toHaveBeenCalled();
  });

  it('the watch itself sees valid calls reach the backend', async () => {
    const run = vi.spyOn(be, 'run');
    const runAsync = vi.spyOn(be, 'runAsync');
    quantize4bit(new Float32Array(64), { blocksize: 32 });
    await quantize4bitAsync(new Float32Array(64), { blocksize: 32 });
    expect(run).toHaveBeenCalledTimes(1);
    expect(runAsync).toHaveBeenCalledTimes(1);
  });
});
