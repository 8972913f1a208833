/**
 * Where the example's files are. The model, tokenizer and sample text sit in examples/llama2c/assets/
 * of the package; this module is run both from source (tests) and compiled into dist/examples/llama2c/,
 * so both places are tried.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { ExampleError } from './errors.js';

export const MODEL_FILE = 'stories260K.bin';
export const TOKENIZER_FILE = 'tok512.bin';
export const SENTENCEPIECE_FILE = 'tok512.model';
export const SAMPLE_TEXT_FILE = 'tinystories-sample.txt';

const CANDIDATE_DIRS = [
  './assets/', // running the TypeScript source
  '../../../examples/llama2c/assets/', // running dist/examples/llama2c/*.js
];

/** Absolute path of an embedded asset; throws when the package is missing it. */
export function assetPath(name: string): string {
  for (const dir of CANDIDATE_DIRS) {
    const path = fileURLToPath(new URL(dir + name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new ExampleError('E_ASSET_MISSING', `embedded asset ${name} not found; expected it in examples/llama2c/assets/ of the package`);
}
