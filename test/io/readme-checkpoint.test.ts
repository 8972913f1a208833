import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BnbCheckpoint, Tensor, linearFromStateDict, linearToStateDict, readSafetensors, saveStateDict, safetensorToTensor } from '../../lib/index.js';
import { BNB_DIR, SKIP_MESSAGE, hasBnbData } from './golden.js';

// The code of README.md's "Load a bitsandbytes checkpoint", on ../shared/data/bnb's files; if this
// breaks, fix the README too.
describe.skipIf(!hasBnbData)('README: Load a bitsandbytes checkpoint', () => {
  if (!hasBnbData) console.warn(SKIP_MESSAGE);
  it('runs as written', () => {
    const x = Tensor.from(new Float32Array(2 * 64).fill(0.5), [2, 64]);
    const ck = BnbCheckpoint.open(join(BNB_DIR, 'stories260K-nf4-dq'));
    const q = ck.linear('model.layers.0.self_attn.q_proj.');
    expect(q.kind).toBe('linear4bit');
    if (q.kind !== 'float') expect(q.layer.forward(x).shape).toEqual([2, 64]);
    ck.close();

    const file = join(BNB_DIR, 'linear4bit-fp4.state_dict.safetensors');
    const { tensors } = readSafetensors(file);
    const sd = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, safetensorToTensor(t, k)]));
    const loaded = linearFromStateDict(sd, '');
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-readme-'));
    try {
      if (loaded.kind !== 'float') saveStateDict(join(dir, 'again.safetensors'), linearToStateDict(loaded.layer));
      // bitsandbytes wrote its file without __metadata__; saveStateDict adds transformers' {"format": "pt"}.
      const again = readSafetensors(join(dir, 'again.safetensors'));
      expect(again.metadata).toEqual({ format: 'pt' });
      for (const [k, t] of Object.entries(tensors)) expect(Buffer.from(again.tensors[k]!.data).equals(Buffer.from(t.data)), k).toBe(true);
      expect(readFileSync(join(dir, 'again.safetensors')).length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
