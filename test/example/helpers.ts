/**
 * Shared set-up for the example's tests: files from ../shared/data when present (the project's data
 * folder), else the copies embedded in examples/llama2c/assets/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { assetPath, MODEL_FILE, SAMPLE_TEXT_FILE, TOKENIZER_FILE } from '../../examples/llama2c/assets.js';
import { loadCheckpoint, type Checkpoint } from '../../examples/llama2c/checkpoint.js';
import { Tokenizer } from '../../examples/llama2c/tokenizer.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const sharedData = `${repoRoot}../shared/data/`;

/** A file of ../shared/data/<sub>/<name>, or the embedded copy of the same name. */
export function dataPath(sub: string, name: string): string {
  const shared = `${sharedData}${sub}/${name}`;
  return existsSync(shared) ? shared : assetPath(name);
}

/** A shared text, or undefined where ../shared/data is absent (a published package). */
export function sharedText(name: string): string | undefined {
  const path = `${sharedData}text/${name}`;
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

export function tinyStoriesText(): string {
  return sharedText('tinystories-train-head.txt') ?? readFileSync(assetPath(SAMPLE_TEXT_FILE), 'utf8');
}

let cached: { checkpoint: Checkpoint; tokenizer: Tokenizer } | undefined;

export function loadStories260K(): { checkpoint: Checkpoint; tokenizer: Tokenizer } {
  if (!cached) {
    const checkpoint = loadCheckpoint(dataPath('stories260K', MODEL_FILE));
    const tokenizer = Tokenizer.load(dataPath('stories260K', TOKENIZER_FILE), checkpoint.config.vocabSize);
    cached = { checkpoint, tokenizer };
  }
  return cached;
}
