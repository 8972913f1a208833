import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { expectedFloatCount, HEADER_BYTES, parseCheckpoint } from '../../examples/llama2c/checkpoint.js';
import { ExampleError } from '../../examples/llama2c/errors.js';
import { dataPath } from './helpers.js';

const bytes = readFileSync(dataPath('stories260K', 'stories260K.bin'));

/** Expect `fn` to throw an ExampleError with this code and a message matching `pattern`. */
function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ExampleError);
  expect((thrown as ExampleError).code).toBe(code);
  expect((thrown as ExampleError).message).toMatch(pattern);
}

function withHeader(field: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setInt32(4 * field, value, true);
  return copy;
}

describe('llama2.c checkpoint loader', () => {
  it('reads the header of stories260K as ../shared/data/README.md describes it', () => {
    const { config, layers, fileBytes } = parseCheckpoint(bytes);
    expect(config).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512,
      sharedClassifier: true, headSize: 8, kvDim: 32,
    });
    // README: 264,128 floats + the 28-byte header = 1,056,540 bytes.
    expect(expectedFloatCount(config)).toBe(264_128);
    expect(fileBytes).toBe(1_056_540);
    expect(layers).toHaveLength(5);
    expect(layers[4].w2.length).toBe(64 * 172);
  });

  it('slices tensors in file order (spot values read independently with a DataView)', () => {
    const ckpt = parseCheckpoint(bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const floatAt = (index: number) => view.getFloat32(HEADER_BYTES + 4 * index, true);
    // token_embedding [512,64] first, then rms_att [5,64], then wq [5,64,64].
    expect(ckpt.tokenEmbedding[0]).toBe(floatAt(0));
    expect(ckpt.layers[2].rmsAtt[3]).toBe(floatAt(512 * 64 + 2 * 64 + 3));
    expect(ckpt.layers[1].wq[7]).toBe(floatAt(512 * 64 + 5 * 64 + 64 * 64 + 7));
    // rms_final is the 64 floats before the 2 × 512 × 4 freq_cis values at the end.
    expect(ckpt.rmsFinal[63]).toBe(floatAt(264_128 - 4096 - 1));
    expect(ckpt.classifier).toBe(ckpt.tokenEmbedding);
  });

  it('rejects a file shorter than the header', () => {
    expectError(() => parseCheckpoint(bytes.subarray(0, 20), 'tiny.bin'), 'E_CHECKPOINT_TRUNCATED',
      /^tiny\.bin: file is 20 bytes; expected at least the 28-byte header/);
  });

  it('rejects a truncated file, saying how many bytes are missing', () => {
    expectError(() => parseCheckpoint(bytes.subarray(0, 1_000_000), 'cut.bin'), 'E_CHECKPOINT_TRUNCATED',
      /^cut\.bin: file is 1000000 bytes; expected 1056540 bytes for dim 64, hidden_dim 172, 5 layers, vocab 512, seq_len 512 \(missing 56540 bytes\)$/);
  });

  it('rejects trailing bytes (a different format version)', () => {
    const longer = new Uint8Array(bytes.length + 12);
    longer.set(bytes);
    expectError(() => parseCheckpoint(longer), 'E_CHECKPOINT_MALFORMED', /12 extra bytes/);
  });

  it('rejects nonsensical header fields', () => {
    expectError(() => parseCheckpoint(withHeader(3, 0)), 'E_CHECKPOINT_MALFORMED', /n_heads is 0; expected an integer in 1\.\./);
    expectError(() => parseCheckpoint(withHeader(0, -64)), 'E_CHECKPOINT_MALFORMED', /dim is -64/);
    expectError(() => parseCheckpoint(withHeader(4, 3)), 'E_CHECKPOINT_MALFORMED', /n_kv_heads 3 does not divide n_heads 8/);
    expectError(() => parseCheckpoint(withHeader(3, 5)), 'E_CHECKPOINT_MALFORMED', /dim 64 is not a multiple of n_heads 5/);
    expectError(() => parseCheckpoint(withHeader(0, 0x7fffffff)), 'E_CHECKPOINT_MALFORMED', /dim is 2147483647/);
    // A text file read as a checkpoint: "Once upo..." as int32s.
    expectError(() => parseCheckpoint(Buffer.from('Once upon a time there was a file that was not a model.')),
      'E_CHECKPOINT_MALFORMED', /is this a llama2\.c legacy-v0 checkpoint\?/);
  });

  it('reads a negative vocab_size as an unshared classifier (and then needs its bytes)', () => {
    expectError(() => parseCheckpoint(withHeader(5, -512)), 'E_CHECKPOINT_TRUNCATED', /missing 131072 bytes/);
  });

  it('rejects non-finite weights', () => {
    const copy = Uint8Array.from(bytes);
    new DataView(copy.buffer).setFloat32(HEADER_BYTES + 4 * 10, Number.NaN, true);
    expectError(() => parseCheckpoint(copy), 'E_CHECKPOINT_MALFORMED', /weight value #10 \(byte offset 68\) is NaN/);
  });
});
