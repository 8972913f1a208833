/**
 * Decode benchmark (`npm run bench -- --filter decode`): one token through a Llama-shaped stack
 * of layers whose weights exceed the last-level cache, lowbit's layers against node-llama-cpp
 * (llama.cpp) on a synthetic GGUF of the same shapes, same thread count, interleaved rounds.
 *
 *  - Shapes: hidden 4096, intermediate 11008 (Llama 2 7B), 7 projections per layer; the layer
 *    count is the smallest that puts the Q4_0/NF4 weights of one token above 1.25 x the
 *    last-level cache (lastLevelCache() in common.ts; at least 2), so every token streams its
 *    weights from DRAM. Every lowbit layer has its own weight bytes, like the GGUF's.
 *  - lowbit: `LinearNF4` (float32 absmax, and double-quantized scales) in the exact float32 mode
 *    and the 'int8' activation mode, and `Linear8bitLt` (threshold 0, fresh and as a prompt of 8
 *    rows leaves it: with the weight's packed copy, which the VNNI decode streams), each a stack of layers
 *    run through `forward` on a [1, K] input, the 42 (or layers x 7) projections of a token.
 *    Each projection writes into its own output kept across tokens (`forward(x, { out })`, no
 *    allocation per call); the NF4 int8 stack also runs with an output allocated per call, side
 *    by side, to show what the allocation costs.
 *    Only the projections: no attention, norms or sampling.
 *  - node-llama-cpp: a whole decode step (attention over a short context, norms, the output
 *    layer of a 320-token vocabulary) on the same projections in Q4_0 and Q8_0, evaluated one
 *    token at a time. It is an optional peer (`npm run bench:peers` installs it into
 *    bench/peers); without it these rows are skipped with a message.
 *  - In-cache rate: the same modes on one 4096x4096 layer called over and over (9 MB of NF4, in
 *    cache), and node-llama-cpp on a one-layer model with hidden = intermediate = 1536 (9.3 MB of
 *    Q4_0) scaled to one 4096^2 (its per-token overhead included). The "x DRAM" column is the
 *    DRAM-bound time of that 4096^2 (its bytes at the read bandwidth measured in the rounds) over
 *    the in-cache time: >= 3 means the arithmetic is fast enough that the stream is the limit.
 *  - Read bandwidth: lowbit's native probe streams 512 MiB (same threads) right before every
 *    token of every contender, because on a shared host the bandwidth moves by tens of percent
 *    within a minute. A contender's "% read bw" is the median over its tokens of its GB/s over the
 *    probe's GB/s just before, and "x peer GB/s" that share over the peer's. The probe's median
 *    is the "read GB/s" of the run; the one-off best-of-10 probe taken before the rounds is kept in
 *    the JSON (readGBsBestBefore).
 *  - Layer call overhead: forward on a 64x64 layer, microseconds per call, into an output kept
 *    across calls and with one allocated per call.
 *  - Next to every wall-clock time, the process CPU time for the same work: at --threads 1 it is
 *    the time on the core even when other processes share the machine (then wall-clock times and
 *    GB/s only bound the speed from below); at more threads it also counts spin-waiting.
 *
 * The GGUF files are written once into bench/.cache (about 0.7 + 1.3 GB at 6 layers) and reused.
 * --quick: fewer rounds and tokens, and only the float32-absmax NF4 layers.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Int8Params, Linear8bitLt, LinearNF4, QuantState, Tensor, backendInfo, quantize4bit, type ForwardOptions, type MatmulActivations } from '../lib/index.js';
import { packageRoot } from '../lib/backend/native.js';
import { lastLevelCache, printTable, randn, readProbe, settle, timeIt, writeResults, type BenchArgs, type ReadProbe } from './common.js';
import { BYTES_PER_BLOCK, LLAMA_7B_SHAPE, layerProjections, projectionBytes, writeLlamaGguf, type GgufQuant, type LlamaShape } from './gguf.js';

type Row = Record<string, string | number>;

/** Where `npm run bench:peers` installs the peer, then the package's own node_modules. */
const PEER_DIRS = [join(packageRoot(), 'bench', 'peers', 'node_modules'), join(packageRoot(), 'node_modules')];

// node-llama-cpp's API as used here (typed loosely: it is an optional peer).
/* eslint-disable @typescript-eslint/no-explicit-any */
type LlamaModule = { getLlama: (opts: Record<string, unknown>) => Promise<any> };

async function loadLlamaPeer(): Promise<{ mod: LlamaModule; version: string } | { missing: string }> {
  for (const dir of PEER_DIRS) {
    const pkg = join(dir, 'node-llama-cpp', 'package.json');
    if (!existsSync(pkg)) continue;
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
    const mod = (await import(pathToFileURL(join(dir, 'node-llama-cpp', 'dist', 'index.js')).href)) as LlamaModule;
    return { mod, version };
  }
  return { missing: 'node-llama-cpp is not installed: run `npm run bench:peers` (installs it into bench/peers, CPU binary only) to add it to this bench' };
}

interface Contender {
  name: string;
  /** Weight bytes read per token. */
  bytes: number;
  /** Runs `tokens` decode steps. */
  run: (tokens: number) => Promise<void> | void;
  dispose: () => Promise<void> | void;
}

/** Deterministic bytes (xorshift32) for packed 4-bit weights or int8 codes. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  let s = (seed | 1) >>> 0;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    words[i] = s;
  }
  return out;
}

/** Random NF4 weight [N, K] with blocksize 64: float32 scales, or double-quantized (nested like bitsandbytes'). */
function nf4Weight(K: number, N: number, seed: number, doubleQuant: boolean, template: QuantState): [Tensor, QuantState] {
  const blocks = (N * K) / 64;
  const packed = Tensor.from(randomBytes((N * K) / 2, seed), [(N * K) / 2, 1], 'uint8');
  const scale = randn(blocks, seed + 1).map((v) => 0.02 + Math.abs(v) * 0.01);
  if (!doubleQuant) {
    return [packed, new QuantState({ absmax: Tensor.from(scale), shape: [N, K], dtype: 'float32', blocksize: 64, code: template.code, quantType: 'nf4' })];
  }
  const s2 = template.state2!;
  const nested = Tensor.from(randn(Math.ceil(blocks / s2.blocksize), seed + 2).map((v) => 0.01 + Math.abs(v) * 0.005));
  const state2 = new QuantState({ absmax: nested, shape: [blocks], dtype: 'float32', blocksize: s2.blocksize, code: s2.code, quantType: null });
  const st = new QuantState({ absmax: Tensor.from(randomBytes(blocks, seed + 3), [blocks], 'uint8'), shape: [N, K], dtype: 'float32', blocksize: 64, code: template.code, quantType: 'nf4', offset: 0.02, state2 });
  st.absmaxFloat32(); // de-nested once, as a loaded layer does
  return [packed, st];
}

function nf4Layer(K: number, N: number, seed: number, doubleQuant: boolean, template: QuantState): LinearNF4 {
  const layer = new LinearNF4(K, N, { bias: false, compressStatistics: doubleQuant });
  const [packed, st] = nf4Weight(K, N, seed, doubleQuant, template);
  layer.weight.setQuantized(packed, st);
  return layer;
}

function int8Layer(K: number, N: number, seed: number): Linear8bitLt {
  const layer = new Linear8bitLt(K, N, { bias: false, hasFp16Weights: false, threshold: 0 });
  const cb = new Int8Array(randomBytes(N * K, seed).buffer).map((v) => (v === -128 ? -127 : v));
  layer.weight.setQuantized(Tensor.from(cb, [N, K], 'int8'), Tensor.from(randn(N, seed + 1).map((v) => 0.05 + Math.abs(v) * 0.02)));
  return layer;
}

/**
 * The layer as a prompt leaves it: a forward of 8 rows packs the weight once for the int8 GEMM
 * (AVX-512 VNNI or AMX), and on VNNI the decode calls then stream that copy (see Int8Params).
 */
function prompted(layer: Linear8bitLt): Linear8bitLt {
  const K = layer.inFeatures;
  layer.forward(Tensor.from(randn(8 * K, K + 3), [8, K])).dispose();
  return layer;
}

/** lowbit stacks: layer l, projection j gets its own weight. */
interface Stack<L> { layers: L[]; shapes: { K: number; N: number }[]; bytes: number }

function buildStack<L>(shape: LlamaShape, make: (K: number, N: number, seed: number) => L, bytesOf: (K: number, N: number) => number): Stack<L> {
  const layers: L[] = [], shapes: { K: number; N: number }[] = [];
  let bytes = 0;
  for (let l = 0; l < shape.layers; l++) {
    layerProjections(shape).forEach((p, j) => {
      layers.push(make(p.K, p.N, 7919 * l + 31 * j + 1));
      shapes.push({ K: p.K, N: p.N });
      bytes += bytesOf(p.K, p.N);
    });
  }
  return { layers, shapes, bytes };
}

const inputs = new Map<number, Tensor>();
function input(K: number): Tensor {
  let x = inputs.get(K);
  if (!x) { x = Tensor.from(randn(K, K), [1, K]); inputs.set(K, x); }
  return x;
}

type Layer = { forward: (x: Tensor, options?: ForwardOptions) => Tensor };

/**
 * A token is the stack's projections in order, each written into its own output kept across
 * tokens (`forward(x, { out })`, as a decode loop would), or with `allocate` into a fresh tensor
 * per call, disposed at once (the cost of allocating, measured side by side).
 */
function lowbitContender(name: string, stack: Stack<Layer>, before?: () => void, allocate = false): Contender {
  const outs = allocate ? null : stack.shapes.map((s) => Tensor.empty([1, s.N], 'float32'));
  return {
    name, bytes: stack.bytes,
    run: (tokens) => {
      before?.();
      for (let t = 0; t < tokens; t++) {
        if (outs) for (let i = 0; i < stack.layers.length; i++) stack.layers[i]!.forward(input(stack.shapes[i]!.K), { out: outs[i]! });
        else for (let i = 0; i < stack.layers.length; i++) stack.layers[i]!.forward(input(stack.shapes[i]!.K)).dispose();
      }
    },
    dispose: () => { if (outs) for (const o of outs) o.dispose(); },
  };
}

/** node-llama-cpp on a GGUF: one token per evaluation, the context cleared before it fills. */
async function llamaContender(llama: any, name: string, path: string, bytes: number, threads: number, vocab: number): Promise<Contender> {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: 256, batchSize: 8, threads });
  const seq = context.getSequence();
  let pos = 0, tok = 3;
  return {
    name, bytes,
    run: async (tokens) => {
      for (let t = 0; t < tokens; t++) {
        if (pos >= 200) { await seq.clearHistory(); pos = 0; }
        tok = 3 + ((tok * 37 + 11) % (vocab - 3));
        await seq.evaluateWithoutGeneratingNewTokens([tok]);
        pos++;
      }
    },
    dispose: async () => { await context.dispose(); await model.dispose(); },
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** CPU time of this process (all its threads), ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Medians over a contender's tokens. */
interface Timed {
  /** Wall-clock ms per token. */
  wall: number;
  /** Process CPU ms per token. */
  cpu: number;
  /** Its GB/s over the read probe's GB/s in the pass just before the token. */
  share: number;
}

/**
 * Interleaved rounds: every contender once per round, `tokens` tokens each, every token timed
 * right after a pass of the read probe, so that each token is compared with the bandwidth the
 * machine had at that moment (on a shared host it moves by tens of percent within a minute). At
 * one thread the CPU time is the time the work took on the core, whatever else shares the
 * machine (with more threads it also counts spinning).
 */
async function interleave(probe: ReadProbe, contenders: Contender[], rounds: number, tokens: number): Promise<{ per: Map<string, Timed>; probeGBs: number }> {
  const samples = new Map<string, { wall: number[]; cpu: number[]; share: number[] }>(contenders.map((c) => [c.name, { wall: [], cpu: [], share: [] }]));
  const probeGBs: number[] = [];
  for (const c of contenders) await c.run(1); // warm-up: page in, first-call setup
  // Each round starts one contender further on: at two threads the first contender of a fixed
  // order ran 10-25 % slower than its twin right after it (same stack, same weights, three runs),
  // a penalty of the position, not of the contender.
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length]!;
      await settle();
      const v = samples.get(c.name)!;
      for (let t = 0; t < tokens; t++) {
        const read = probe();
        probeGBs.push(read);
        const t0 = performance.now(), c0 = cpuMs();
        await c.run(1);
        const ms = performance.now() - t0;
        v.wall.push(ms);
        v.cpu.push(cpuMs() - c0);
        v.share.push(c.bytes / (ms * 1e6) / read);
      }
    }
  }
  const per = new Map([...samples].map(([k, v]) => [k, { wall: median(v.wall), cpu: median(v.cpu), share: median(v.share) }]));
  return { per, probeGBs: median(probeGBs) };
}

const SQ4096 = 4096 * 4096;

export async function run(args: BenchArgs): Promise<void> {
  const threads = args.threads;
  const probe = readProbe();
  const bwBefore = probe(10); // the one-off figure the rounds' per-token passes replace (JSON only)
  const llc = lastLevelCache();
  const q4PerLayer = projectionBytes({ ...LLAMA_7B_SHAPE, layers: 1 }, 'Q4_0');
  const layers = Math.max(2, Math.ceil((1.25 * llc.bytes) / q4PerLayer));
  const shape: LlamaShape = { ...LLAMA_7B_SHAPE, layers };
  const weightsPerToken = layers * layerProjections(shape).reduce((a, p) => a + p.K * p.N, 0);
  const rounds = args.quick ? 3 : 5, tokens = args.quick ? 3 : 6;
  console.log(`read bandwidth ${bwBefore.toFixed(1)} GB/s before the rounds (${threads} threads, best of 10; measured again before every token); last-level cache ${(llc.bytes / 2 ** 20).toFixed(0)} MiB (${llc.source}); ` +
    `${layers} layers x 7 projections, ${(weightsPerToken / 1e9).toFixed(2)} G weights per token`);

  // ---- peer -------------------------------------------------------------------------------------
  const peer = await loadLlamaPeer();
  let llama: any = null;
  let peerNote = '';
  if ('missing' in peer) {
    peerNote = peer.missing;
    console.log(`(skipping node-llama-cpp: ${peer.missing})`);
  } else {
    llama = await peer.mod.getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, skipDownload: true, progressLogs: false, logLevel: 'error', maxThreads: threads });
    peerNote = `node-llama-cpp ${peer.version}`;
  }
  const cache = join(packageRoot(), 'bench', '.cache');

  // ---- lowbit layers -----------------------------------------------------------------------------
  const [tp, template] = quantize4bit(Tensor.from(randn(64 * 256, 1), [256, 64]), { quantType: 'nf4', blocksize: 64, compressStatistics: true });
  tp.dispose();
  const nf4Bytes = (K: number, N: number) => (K * N) / 2 + ((K * N) / 64) * 4;
  const dqBytes = (K: number, N: number) => (K * N) / 2 + (K * N) / 64 + ((K * N) / 64 / 256) * 4;
  const nf4 = buildStack(shape, (K, N, s) => nf4Layer(K, N, s, false, template), nf4Bytes);
  const dq = args.quick ? null : buildStack(shape, (K, N, s) => nf4Layer(K, N, s, true, template), dqBytes);
  const i8 = buildStack(shape, (K, N, s) => int8Layer(K, N, s), (K, N) => K * N + N * 4);
  // The same layers after a prompt (their packed copies double the int8 stack's memory).
  const i8Prompted = buildStack(shape, (K, N, s) => prompted(int8Layer(K, N, s)), (K, N) => K * N + N * 4);
  const setActs = (stack: Stack<LinearNF4>, a: MatmulActivations) => () => { for (const l of stack.layers) l.activations = a; };
  const contenders: Contender[] = [
    lowbitContender('lowbit nf4 int8 act.', nf4, setActs(nf4, 'int8')),
    lowbitContender('lowbit nf4 int8 act., output allocated per call', nf4, setActs(nf4, 'int8'), true),
    ...(dq ? [lowbitContender('lowbit nf4 int8 act. (double quant)', dq, setActs(dq, 'int8'))] : []),
    lowbitContender('lowbit nf4 exact', nf4, setActs(nf4, 'float32')),
    ...(dq ? [lowbitContender('lowbit nf4 exact (double quant)', dq, setActs(dq, 'float32'))] : []),
    lowbitContender('lowbit Linear8bitLt t=0', i8),
    lowbitContender('lowbit Linear8bitLt t=0, after a prompt', i8Prompted),
  ];
  if (llama) {
    for (const q of ['Q4_0', 'Q8_0'] as GgufQuant[]) {
      const path = join(cache, `llama-${layers}x4096-${q}.gguf`);
      const t0 = performance.now();
      writeLlamaGguf(path, shape, q);
      console.log(`  ${path}: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      contenders.push(await llamaContender(llama, `node-llama-cpp ${q}`, path, projectionBytes(shape, q), threads, shape.vocab));
    }
  }
  // A full run gives every contender every position in the round once (see interleave).
  const { per: step, probeGBs: bw } = await interleave(probe, contenders, args.quick ? rounds : Math.max(rounds, contenders.length), tokens);
  const q4 = step.get('node-llama-cpp Q4_0'), q8 = step.get('node-llama-cpp Q8_0');
  const stepRows: Row[] = [
    { contender: 'read bandwidth probe (512 MiB, before every token)', 'ms/token': '', 'cpu ms/token': '', 'weight GB/s': bw, '% read bw': 100, 'ms per 4096^2': '', 'bytes/weight': '', 'x peer GB/s': '' },
    ...contenders.map((c) => {
      const { wall: ms, cpu, share } = step.get(c.name)!;
      const peer = c.name.includes('8bitLt') || c.name.includes('Q8_0') ? q8 : q4;
      return {
        contender: c.name, 'ms/token': ms, 'cpu ms/token': cpu, 'weight GB/s': c.bytes / (ms * 1e6), '% read bw': 100 * share,
        'ms per 4096^2': (ms * SQ4096) / weightsPerToken,
        'bytes/weight': c.bytes / weightsPerToken,
        // Per weight byte: our GB/s over the peer's, each as a share of the read bandwidth of its moment.
        'x peer GB/s': peer === undefined ? '' : `${(share / peer.share).toFixed(2)}x`,
      };
    }),
  ];
  for (const c of contenders) await c.dispose();
  printTable(`decode step, ${layers} layers, weights from DRAM, ${threads} threads (${peerNote || 'no peer'})`, stepRows);

  // ---- in-cache rate per 4096^2 ------------------------------------------------------------------
  const inCache: Row[] = [];
  const opts = { minTimeMs: args.quick ? 300 : 600, warmup: 3, minIters: 10, maxIters: 2000 };
  const x4096 = input(4096);
  const modes: { name: string; make: () => Layer; bytes: number }[] = [
    { name: 'nf4 exact', make: () => nf4Layer(4096, 4096, 5, false, template), bytes: nf4Bytes(4096, 4096) },
    { name: 'nf4 exact (double quant)', make: () => nf4Layer(4096, 4096, 5, true, template), bytes: dqBytes(4096, 4096) },
    { name: 'nf4 int8 act.', make: () => { const l = nf4Layer(4096, 4096, 5, false, template); l.activations = 'int8'; return l; }, bytes: nf4Bytes(4096, 4096) },
    { name: 'nf4 int8 act. (double quant)', make: () => { const l = nf4Layer(4096, 4096, 5, true, template); l.activations = 'int8'; return l; }, bytes: dqBytes(4096, 4096) },
    { name: 'nf4 int16 act.', make: () => { const l = nf4Layer(4096, 4096, 5, false, template); l.activations = 'int16'; return l; }, bytes: nf4Bytes(4096, 4096) },
    { name: 'Linear8bitLt t=0', make: () => int8Layer(4096, 4096, 5), bytes: 4096 * 4096 + 4096 * 4 },
    { name: 'Linear8bitLt t=0, after a prompt', make: () => prompted(int8Layer(4096, 4096, 5)), bytes: 4096 * 4096 + 4096 * 4 },
  ];
  const out4096 = Tensor.empty([1, 4096], 'float32');
  for (const m of modes) {
    const layer = m.make();
    const c0 = cpuMs();
    const t = timeIt(() => layer.forward(x4096, { out: out4096 }), opts);
    const cpu = (cpuMs() - c0) / (t.iters + opts.warmup);
    const ms = t.medianMs;
    const dramMs = m.bytes / (bw * 1e6);
    inCache.push({ contender: `lowbit ${m.name}`, 'ms per 4096^2 in cache': ms, 'cpu ms': cpu, 'DRAM-bound ms': dramMs, 'x DRAM': dramMs / ms });
  }
  if (llama) {
    const small: LlamaShape = { hidden: 1536, intermediate: 1536, heads: 12, vocab: shape.vocab, context: 512, layers: 1 };
    const smallWeights = 7 * 1536 * 1536;
    for (const q of ['Q4_0', 'Q8_0'] as GgufQuant[]) {
      const path = join(cache, `llama-1x1536-${q}.gguf`);
      writeLlamaGguf(path, small, q);
      const c = await llamaContender(llama, q, path, projectionBytes(small, q), threads, small.vocab);
      await c.run(8);
      const per: number[] = [], perCpu: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now(), c0 = cpuMs();
        await c.run(20);
        per.push((performance.now() - t0) / 20);
        perCpu.push((cpuMs() - c0) / 20);
      }
      await c.dispose();
      const ms = (median(per) * SQ4096) / smallWeights, cpu = (median(perCpu) * SQ4096) / smallWeights;
      const dramMs = (SQ4096 / 32) * BYTES_PER_BLOCK[q] / (bw * 1e6);
      inCache.push({ contender: `node-llama-cpp ${q} (whole step, 1 layer of 1536)`, 'ms per 4096^2 in cache': ms, 'cpu ms': cpu, 'DRAM-bound ms': dramMs, 'x DRAM': dramMs / ms });
    }
  }
  printTable(`in-cache rate per 4096x4096 at M = 1 (${threads} threads); x DRAM = DRAM-bound time / in-cache time, target >= 3`, inCache);

  // ---- layer call overhead -------------------------------------------------------------------------
  const overhead: Row[] = [];
  const x64 = input(64), out64 = Tensor.empty([1, 64], 'float32');
  const callOpts = { minTimeMs: 200, warmup: 50, minIters: 100, maxIters: 20000 };
  for (const [name, layer] of [
    ['LinearNF4 exact 64x64', nf4Layer(64, 64, 9, false, template)],
    ['LinearNF4 int8 act. 64x64', (() => { const l = nf4Layer(64, 64, 9, false, template); l.activations = 'int8'; return l; })()],
    ['Linear8bitLt 64x64', int8Layer(64, 64, 9)],
  ] as [string, Layer][]) {
    const into = timeIt(() => layer.forward(x64, { out: out64 }), callOpts).medianMs;
    const allocating = timeIt(() => layer.forward(x64).dispose(), callOpts).medianMs;
    overhead.push({ layer: name, 'us per call, into out': into * 1000, 'us, output allocated': allocating * 1000 });
  }
  printTable('layer call overhead (forward on [1, 64], weights in L1)', overhead);
  if (llama) await llama.dispose();

  const cpuinfo = (() => { try { return readFileSync('/proc/cpuinfo', 'utf8'); } catch { return ''; } })();
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1] ?? 'unknown';
  const path = writeResults('decode', {
    threads, quick: args.quick, layers, weightsPerToken, readGBs: bw, readGBsBestBefore: bwBefore, peer: peerNote,
    // Other processes on the machine skew every figure (llama.cpp's spinning thread barrier most).
    loadAverageAtEnd: os.loadavg(),
    cpuModel: { name: field('model name'), family: field('cpu family'), model: field('model'), stepping: field('stepping') },
    lowbitIsa: backendInfo().cpu,
    step: stepRows, inCache, overhead,
  }, args);
  console.log(`results: ${path}`);
}
