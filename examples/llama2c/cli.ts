#!/usr/bin/env node
/**
 * stories260K on lowbit's layers, from the command line (run the compiled file, dist/examples/llama2c/cli.js):
 *
 *   demo        (default) every quantization: a short greedy story each, then the table
 *   generate    --prompt TEXT [--quant KIND] [--steps N] [--temperature T] [--top-p P] [--seed S]
 *   perplexity  [--file PATH] [--quant KIND] [--window N] [--max-windows N]
 *   table       [--file PATH] [--quants a,b,...] [--window N] [--max-windows N] [--latency-tokens N]
 *
 * Common: --model PATH, --tokenizer PATH (default: the files embedded beside this example), or
 * --hf DIR: a transformers Llama checkpoint directory (float, or saved with bitsandbytes 4-bit / 8-bit),
 * whose linear layers are loaded as lowbit's (see hf-checkpoint.ts).
 * Text goes to stdout; progress bars and notes go to stderr.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { assetPath, MODEL_FILE, SAMPLE_TEXT_FILE, TOKENIZER_FILE } from './assets.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import { ExampleError } from './errors.js';
import { generate } from './generate.js';
import { isQuantKind, linearFactory, lowbitLayersAvailable, QUANT_DESCRIPTIONS, QUANT_KINDS, type LinearFactory, type QuantKind } from './linear.js';
import { Transformer } from './model.js';
import { perplexity } from './perplexity.js';
import { formatTable, measure, measureModel, type Measurement } from './report.js';
import { Sampler } from './sampler.js';
import { Tokenizer } from './tokenizer.js';

const USAGE = `usage: node dist/examples/llama2c/cli.js <command> [options]

commands:
  demo         (default) load stories260K with each quantization, generate a short story with each,
               then print weight bytes, latency, tokens/s and perplexity side by side
  generate     generate text from a prompt, streaming it
  perplexity   perplexity of one quantization on a text file, over non-overlapping windows
  table        the size/latency/perplexity table, without the stories

options:
  --prompt TEXT          generate: the prompt (default: empty, i.e. start from BOS)
  --quant KIND           ${QUANT_KINDS.join(' | ')} (default fp32)
  --quants A,B,...       table/demo: the kinds to compare (default: all that can run here)
  --steps N              generate: new tokens at most (default 256)
  --temperature T        0 = greedy (default 0)
  --top-p P              nucleus sampling threshold in (0,1] (default 0.9; only with temperature > 0)
  --seed S               sampling seed (default 1)
  --file PATH            text to score (default: the embedded TinyStories sample)
  --window N             tokens per perplexity window, BOS included (default 256, at most 512)
  --max-windows N        score at most N windows
  --latency-tokens N     tokens generated to time latency (default 128)
  --story-tokens N       demo: tokens per story (default 48)
  --model PATH           llama2.c checkpoint (default: embedded stories260K.bin)
  --tokenizer PATH       llama2.c tokenizer (default: embedded tok512.bin)
  --hf DIR               a transformers Llama checkpoint (config.json + model.safetensors), float or
                         saved with bitsandbytes 4-bit / 8-bit; its own layers replace --quant / --model.
                         table: repeat --hf to compare checkpoints
  --chars N              perplexity/table: score only the first N characters of the text
  --device cpu|cuda      where the nf4/fp4 layers run (default cpu; cuda needs an NVIDIA GPU)
  -h, --help             this text`;

interface Options {
  prompt: string;
  quant: QuantKind;
  quants?: QuantKind[];
  steps: number;
  temperature: number;
  topP: number;
  seed: number;
  file?: string;
  window: number;
  maxWindows?: number;
  latencyTokens: number;
  storyTokens: number;
  model: string;
  tokenizer: string;
  hf: string[];
  device: 'cpu' | 'cuda';
  chars?: number;
}

function fail(message: string): never {
  throw new ExampleError('E_BAD_ARGUMENT', message);
}

function parseNumber(name: string, raw: string | undefined, fallback: number, check: (v: number) => boolean, expected: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || !check(value)) fail(`--${name} is ${JSON.stringify(raw)}; expected ${expected}`);
  return value;
}

function parseQuant(raw: string): QuantKind {
  if (!isQuantKind(raw)) fail(`quantization ${JSON.stringify(raw)} is unknown; expected one of ${QUANT_KINDS.join(', ')}`);
  return raw;
}

const COMMANDS = ['demo', 'generate', 'perplexity', 'table'] as const;
type Command = (typeof COMMANDS)[number];

function parseDevice(raw: string): 'cpu' | 'cuda' {
  if (raw !== 'cpu' && raw !== 'cuda') fail(`--device is ${JSON.stringify(raw)}; expected cpu or cuda`);
  return raw as 'cpu' | 'cuda';
}

function parseCommandLine(argv: string[]): { command: Command; options: Options } | { command: 'help'; options: undefined } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prompt: { type: 'string' }, quant: { type: 'string' }, quants: { type: 'string' }, steps: { type: 'string' },
      temperature: { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' }, file: { type: 'string' },
      window: { type: 'string' }, 'max-windows': { type: 'string' }, 'latency-tokens': { type: 'string' },
      'story-tokens': { type: 'string' }, model: { type: 'string' }, tokenizer: { type: 'string' },
      hf: { type: 'string', multiple: true }, chars: { type: 'string' }, device: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { command: 'help', options: undefined };
  if (positionals.length > 1) fail(`unexpected arguments ${positionals.slice(1).join(' ')}; expected one command`);
  const command = (positionals[0] ?? 'demo') as Command;
  if (!COMMANDS.includes(command)) {
    fail(`unknown command ${JSON.stringify(command)}; expected one of ${COMMANDS.join(', ')}`);
  }
  const int = (v: number) => Number.isInteger(v);
  const options: Options = {
    prompt: values.prompt ?? '',
    quant: parseQuant(values.quant ?? 'fp32'),
    quants: values.quants?.split(',').map((q) => parseQuant(q.trim())),
    steps: parseNumber('steps', values.steps, 256, (v) => int(v) && v >= 1, 'an integer ≥ 1'),
    temperature: parseNumber('temperature', values.temperature, 0, (v) => v >= 0, 'a number ≥ 0 (0 = greedy)'),
    topP: parseNumber('top-p', values['top-p'], 0.9, (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    seed: parseNumber('seed', values.seed, 1, int, 'an integer'),
    file: values.file,
    window: parseNumber('window', values.window, 256, (v) => int(v) && v >= 2, 'an integer ≥ 2'),
    maxWindows: values['max-windows'] === undefined ? undefined
      : parseNumber('max-windows', values['max-windows'], 0, (v) => int(v) && v >= 1, 'an integer ≥ 1'),
    latencyTokens: parseNumber('latency-tokens', values['latency-tokens'], 128, (v) => int(v) && v >= 1, 'an integer ≥ 1'),
    storyTokens: parseNumber('story-tokens', values['story-tokens'], 48, (v) => int(v) && v >= 1, 'an integer ≥ 1'),
    model: values.model ?? assetPath(MODEL_FILE),
    tokenizer: values.tokenizer ?? assetPath(TOKENIZER_FILE),
    hf: values.hf ?? [],
    device: parseDevice(values.device ?? 'cpu'),
    chars: values.chars === undefined ? undefined : parseNumber('chars', values.chars, 0, (v) => int(v) && v >= 1, 'an integer ≥ 1'),
  };
  if (options.hf.length > 0) {
    if (values.quant !== undefined || values.quants !== undefined || values.model !== undefined) {
      fail('--hf loads the layers stored in the checkpoint; expected no --quant, --quants or --model with it');
    }
    if (command === 'demo') fail('--hf works with generate, perplexity and table; expected one of those commands');
    if (options.hf.length > 1 && command !== 'table') fail(`${command} takes one --hf directory; expected table to compare several`);
  }
  return { command, options };
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per quarter otherwise (logs). */
function progressBar(io: CliIo, label: string): (done: number, total: number) => void {
  const tty = io.errIsTTY;
  let lastQuarter = -1;
  return (done, total) => {
    const width = 30;
    const filled = Math.round((width * done) / total);
    const bar = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} windows`;
    if (tty) {
      io.err(`\r${bar}${done === total ? '\n' : ''}`);
    } else {
      const quarter = Math.floor((4 * done) / total);
      if (quarter !== lastQuarter) io.err(`${bar}\n`);
      lastQuarter = quarter;
    }
  };
}

function loadText(file: string | undefined, chars?: number): { name: string; text: string } {
  const path = file ?? assetPath(SAMPLE_TEXT_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    fail(`cannot read --file ${path} (${(cause as Error).message}); expected a readable UTF-8 text file`);
  }
  if (text.length === 0) fail(`--file ${path} is empty; expected some text to score`);
  const name = file ?? `embedded ${SAMPLE_TEXT_FILE}`;
  if (chars === undefined) return { name, text };
  return { name: `the first ${chars} characters of ${name}`, text: Array.from(text).slice(0, chars).join('') };
}

/** The kinds to run: those asked for, or all when lowbit's layers load, else fp32 with a note. */
async function chooseKinds(io: CliIo, asked: QuantKind[] | undefined): Promise<QuantKind[]> {
  if (asked) return asked;
  const probe = await lowbitLayersAvailable();
  if (probe.available) return [...QUANT_KINDS];
  io.err(`note: lowbit's quantized layers are not available here (${probe.reason}); running float32 only.\n` +
    '      Build the package (npm run build) to compare int8, NF4 and FP4.\n');
  return ['fp32'];
}

async function runTable(io: CliIo, checkpoint: Checkpoint | null, tokenizer: Tokenizer, options: Options, kinds: QuantKind[]): Promise<Measurement[]> {
  const { name, text } = loadText(options.file, options.chars);
  const textTokens = tokenizer.encode(text, { bos: false });
  const { window } = options;
  io.err(`perplexity text: ${name}, ${textTokens.length} tokens, windows of ${window}\n`);
  const rows: Measurement[] = [];
  const measureOptions = (label: string) => ({
    textTokens, window, maxWindows: options.maxWindows, latencyTokens: options.latencyTokens, onProgress: progressBar(io, label.padEnd(7)),
  });
  const hfNotes: string[] = [];
  if (checkpoint === null) {
    const { loadHfModel } = await loadHfSupport();
    for (const dir of options.hf) {
      const hf = loadHfModel(dir);
      const q = hf.quantization;
      const label = q === null ? 'hf-float' : q.bits === 4 ? `hf-${q.quantType}${q.doubleQuant ? '-dq' : ''}` : `hf-int8-t${q.threshold}`;
      hfNotes.push(`  ${label.padEnd(10)} ${dir}: ${hf.description}`);
      rows.push(measureModel(label, () => new Transformer(hf.weights, unusedFactory), measureOptions(label)));
    }
  }
  for (const kind of checkpoint === null ? [] : kinds) rows.push(await measure(checkpoint!, kind, measureOptions(kind)));
  const first = rows[0].perplexity;
  io.out(`\n${formatTable(rows)}\n\n` +
    `${first.tokensScored} tokens scored in ${first.windows} windows. Latency: median over ${options.latencyTokens} greedy decoding ` +
    'steps from BOS, one token per forward pass. Bytes: the 35 linear layers as stored (quantization statistics included); ' +
    'model bytes add the float32 embedding and norms, which stay unquantized. Outlier columns: activation columns ' +
    'LLM.int8() sent through its float path during the perplexity run (total, and per layer call).\n');
  if (checkpoint === null) io.out(`${hfNotes.join('\n')}\n`);
  else for (const kind of kinds) io.out(`  ${kind.padEnd(8)} ${QUANT_DESCRIPTIONS[kind]}\n`);
  return rows;
}

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  errIsTTY: boolean;
}

const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  errIsTTY: process.stderr.isTTY === true,
};

/** Run one command line (without `node cli.js`). Throws ExampleError for bad arguments or files. */
export async function main(argv: string[], io: CliIo = processIo): Promise<void> {
  const parsed = parseCommandLine(argv);
  if (parsed.command === 'help') {
    io.out(`${USAGE}\n`);
    return;
  }
  const { command, options } = parsed;
  if (options.device === 'cuda') {
    if (options.hf.length > 0) fail('--device cuda applies to the nf4/fp4 kinds built from --model; expected no --hf with it');
    (await import('./lowbit-layers.js')).setLowbit4bitDevice('cuda');
  }
  const sampler = () => new Sampler({ temperature: options.temperature, topP: options.topP, seed: options.seed });
  if (options.hf.length > 0) {
    await runHf(io, command, options, sampler);
    return;
  }
  const checkpoint = loadCheckpoint(options.model);
  const tokenizer = Tokenizer.load(options.tokenizer, checkpoint.config.vocabSize);
  const c = checkpoint.config;
  io.err(`model: ${options.model} (dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ` +
    `${c.nHeads} heads / ${c.nKvHeads} kv heads, vocab ${c.vocabSize}, context ${c.seqLen})\n`);

  switch (command) {
    case 'generate': {
      const model = new Transformer(checkpoint, await linearFactory(options.quant));
      try {
        const result = generate(model, tokenizer, options.prompt, {
          steps: options.steps, sampler: sampler(), onText: (t) => io.out(t),
        });
        io.out('\n');
        io.err(`[${options.quant}] ${result.generatedTokens} tokens, ${result.msPerToken.toFixed(3)} ms/token ` +
          `(${(1000 / Math.max(result.msPerToken, 1e-9)).toFixed(0)} tokens/s)\n`);
      } finally {
        model.dispose();
      }
      return;
    }
    case 'perplexity': {
      const { name, text } = loadText(options.file, options.chars);
      const textTokens = tokenizer.encode(text, { bos: false });
      const model = new Transformer(checkpoint, await linearFactory(options.quant));
      try {
        const result = perplexity(model, textTokens, {
          window: options.window, maxWindows: options.maxWindows, onProgress: progressBar(io, options.quant),
        });
        io.out(`[${options.quant}] perplexity ${result.perplexity.toFixed(4)} on ${name} ` +
          `(${result.tokensScored} tokens, ${result.windows} windows of ${options.window})\n`);
      } finally {
        model.dispose();
      }
      return;
    }
    case 'table':
      await runTable(io, checkpoint, tokenizer, options, await chooseKinds(io, options.quants));
      return;
    case 'demo': {
      const kinds = await chooseKinds(io, options.quants);
      io.out(`\nA short greedy story from each quantization (${options.storyTokens} tokens, prompt ${JSON.stringify(options.prompt)}):\n`);
      for (const kind of kinds) {
        const model = new Transformer(checkpoint, await linearFactory(kind));
        try {
          io.out(`\n[${kind}] `);
          generate(model, tokenizer, options.prompt, {
            steps: options.storyTokens, sampler: sampler(), onText: (t) => io.out(t.replaceAll('\n', ' ')),
          });
          io.out('\n');
        } finally {
          model.dispose();
        }
      }
      io.out('\n');
      await runTable(io, checkpoint, tokenizer, options, kinds);
      return;
    }
  }
}

/** Never called: every linear layer of a transformers checkpoint is built by the loader. */
const unusedFactory: LinearFactory = () => {
  throw new ExampleError('E_CHECKPOINT_MALFORMED', 'a linear layer of the --hf checkpoint was not loaded');
};

/** hf-checkpoint.ts imports lowbit (native addon), so it is loaded only when --hf is used. */
async function loadHfSupport(): Promise<typeof import('./hf-checkpoint.js')> {
  try {
    return await import('./hf-checkpoint.js');
  } catch (cause) {
    throw new ExampleError('E_LAYERS_UNAVAILABLE', `--hf needs lowbit, which could not be loaded (${(cause as Error).message}); expected a built package (npm run build)`);
  }
}

/** generate / perplexity / table on transformers checkpoints (--hf). */
async function runHf(io: CliIo, command: Command, options: Options, sampler: () => Sampler): Promise<void> {
  const { loadHfModel } = await loadHfSupport();
  if (command === 'table') {
    const first = loadHfModel(options.hf[0]!);
    const tokenizer = Tokenizer.load(options.tokenizer, first.weights.config.vocabSize);
    new Transformer(first.weights, unusedFactory).dispose();
    await runTable(io, null, tokenizer, options, []);
    return;
  }
  const dir = options.hf[0]!;
  const hf = loadHfModel(dir);
  const c = hf.weights.config;
  const model = new Transformer(hf.weights, unusedFactory);
  try {
    const tokenizer = Tokenizer.load(options.tokenizer, c.vocabSize);
    io.err(`model: ${dir}, ${hf.description} (dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ` +
      `${c.nHeads} heads / ${c.nKvHeads} kv heads, vocab ${c.vocabSize}, context ${c.seqLen})\n`);
    if (command === 'generate') {
      const result = generate(model, tokenizer, options.prompt, { steps: options.steps, sampler: sampler(), onText: (t) => io.out(t) });
      io.out('\n');
      io.err(`[hf] ${result.generatedTokens} tokens, ${result.msPerToken.toFixed(3)} ms/token\n`);
      return;
    }
    const { name, text } = loadText(options.file, options.chars);
    const textTokens = tokenizer.encode(text, { bos: false });
    const result = perplexity(model, textTokens, { window: options.window, maxWindows: options.maxWindows, onProgress: progressBar(io, 'hf') });
    io.out(`[hf] perplexity ${result.perplexity.toFixed(6)} on ${name} (${result.tokensScored} tokens, ${result.windows} windows of ${options.window}; ${dir}: ${hf.description})\n`);
  } finally {
    model.dispose();
  }
}

/** Errors the user can fix (arguments, files) print a message and the usage; anything else its stack. */
function reportError(error: unknown): void {
  const code = (error as { code?: unknown }).code;
  if (error instanceof ExampleError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}

function isEntryScript(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

// Run only as the entry script, so tests can import main().
if (isEntryScript()) main(process.argv.slice(2)).catch(reportError);
