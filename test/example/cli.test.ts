import { describe, expect, it } from 'vitest';

import { main, type CliIo } from '../../examples/llama2c/cli.js';
import { lowbitLayersAvailable } from '../../examples/llama2c/linear.js';

/** Run the CLI in-process with captured output. */
async function cli(...argv: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, errIsTTY: false };
  await main(argv, io);
  return { out, err };
}

const { available: layersAvailable } = await lowbitLayersAvailable();

describe('llama2c CLI', () => {
  it('generate: greedy from BOS streams the reference opening', async () => {
    const { out, err } = await cli('generate', '--steps', '16');
    expect(out.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(err).toMatch(/\[fp32\] 16 tokens, [\d.]+ ms\/token/);
  });

  it('generate: sampling is reproducible for a seed and echoes the prompt', async () => {
    const args = ['generate', '--prompt', 'The dog', '--temperature', '0.8', '--seed', '2', '--steps', '20'];
    const first = await cli(...args);
    expect(first.out.startsWith('The dog')).toBe(true);
    expect((await cli(...args)).out).toBe(first.out);
  });

  it('perplexity: scores the embedded text with a progress bar on stderr', async () => {
    const { out, err } = await cli('perplexity', '--window', '128', '--max-windows', '2');
    expect(out).toMatch(/^\[fp32\] perplexity \d+\.\d{4} on embedded tinystories-sample\.txt \(254 tokens, 2 windows of 128\)\n$/);
    expect(err).toMatch(/fp32 \[#{30}\] 2\/2 windows/);
  });

  it('table and demo: print the comparison table', async () => {
    const table = await cli('table', '--quants', 'fp32', '--max-windows', '1', '--latency-tokens', '8');
    expect(table.out).toMatch(/quant\s+linear weights\s+x fp32\s+model bytes\s+ms\/token\s+tokens\/s\s+perplexity/);
    expect(table.out).toMatch(/\nfp32\s+906,240 B\s+1\.000\s+1,040,128 B\s+[\d.]+\s+\d+\s+\d+\.\d{4}\s+\+0\.00%\s+-\n/);
    const demo = await cli('demo', '--quants', 'fp32', '--max-windows', '1', '--story-tokens', '10', '--latency-tokens', '4');
    expect(demo.out).toContain('[fp32] Once upon a time, there was a little');
    expect(demo.out).toMatch(/\nfp32\s+906,240 B/);
  });

  it('rejects bad arguments with typed errors that say what was expected', async () => {
    await expect(cli('generate', '--quant', 'q3')).rejects.toThrowError(
      expect.objectContaining({ code: 'E_BAD_ARGUMENT', message: expect.stringMatching(/quantization "q3" is unknown; expected one of fp32, int8/) }));
    await expect(cli('perplexity', '--window', '1')).rejects.toThrowError(/--window is "1"; expected an integer ≥ 2/);
    await expect(cli('perplexity', '--window', '600')).rejects.toThrowError(/window 600; expected an integer in 2\.\.512/);
    await expect(cli('fly')).rejects.toThrowError(/unknown command "fly"; expected one of demo, generate, perplexity, table/);
    await expect(cli('perplexity', '--file', '/nonexistent/story.txt')).rejects.toThrowError(/cannot read --file \/nonexistent\/story\.txt/);
    await expect(cli('generate', '--model', '/nonexistent.bin')).rejects.toThrowError(/ENOENT/);
    await expect(cli('generate', '--device', 'gpu')).rejects.toThrowError(/--device is "gpu"; expected cpu or cuda/);
  });

  it.skipIf(!layersAvailable)('--device cuda runs the nf4 rows on the GPU, or says why it cannot', async () => {
    const { backendInfo } = await import('../../lib/index.js');
    if (!backendInfo().cuda.available) {
      await expect(cli('generate', '--quant', 'nf4', '--device', 'cuda', '--steps', '2')).rejects.toThrowError(/--device cuda: CUDA is not usable here/);
      return;
    }
    const gpu = await cli('generate', '--quant', 'nf4', '--device', 'cuda', '--steps', '8', '--prompt', 'Once upon a time');
    expect(gpu.out.length).toBeGreaterThan(0);
    const { setLowbit4bitDevice } = await import('../../examples/llama2c/lowbit-layers.js');
    setLowbit4bitDevice('cpu');
  });

  it.skipIf(layersAvailable)('explains that quantized kinds need the built package when lowbit cannot load', async () => {
    await expect(cli('generate', '--quant', 'nf4', '--steps', '2')).rejects.toThrowError(
      expect.objectContaining({ code: 'E_LAYERS_UNAVAILABLE', message: expect.stringMatching(/needs lowbit's layers/) }));
  });

  it('prints usage for --help', async () => {
    expect((await cli('--help')).out).toMatch(/^usage: node dist\/examples\/llama2c\/cli\.js <command>/);
  });
});
