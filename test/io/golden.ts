/**
 * Access to ../shared/data/bnb (outputs of the real bitsandbytes, see its README.md): the directory,
 * its manifest, and its safetensors files read once per test file. Tests using it must skip when
 * `hasBnbData` is false (a clone without ../shared beside it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readSafetensors, safetensorToTensor, type SafetensorsContent, type Tensor } from '../../lib/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const BNB_DIR = `${repoRoot}../shared/data/bnb`;
export const hasBnbData = existsSync(`${BNB_DIR}/manifest.json`);
export const SKIP_MESSAGE = `skipping: ${BNB_DIR} (bitsandbytes golden data) is absent`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ManifestCase = Record<string, any> & { id: string; file: string; op: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Manifest = Record<string, any> & { cases: ManifestCase[] };

let manifest: Manifest | undefined;
export function bnbManifest(): Manifest {
  manifest ??= JSON.parse(readFileSync(`${BNB_DIR}/manifest.json`, 'utf8')) as Manifest;
  return manifest;
}

const files = new Map<string, SafetensorsContent>();
export function bnbFile(name: string): SafetensorsContent {
  let f = files.get(name);
  if (!f) {
    f = readSafetensors(`${BNB_DIR}/${name}`);
    files.set(name, f);
  }
  return f;
}

/** A tensor of a bnb file as a lowbit Tensor. */
export function bnbTensor(file: string, name: string): Tensor {
  const t = bnbFile(file).tensors[name];
  if (!t) throw new Error(`no tensor ${name} in ${file}`);
  return safetensorToTensor(t, name);
}

/** Raw bytes of a bnb tensor. */
export function bnbBytes(file: string, name: string): Uint8Array {
  const t = bnbFile(file).tensors[name];
  if (!t) throw new Error(`no tensor ${name} in ${file}`);
  return t.data;
}

/** Number of differing bytes between two views of equal byte length. */
export function differingBytes(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) d++;
  return d;
}
