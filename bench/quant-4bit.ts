/**
 * 4-bit benchmarks: quantize / dequantize throughput, and the fused NF4 GEMV/GEMM against
 * onnxruntime-node's 4-bit operators and its float32 MatMul, side by side in one run at the
 * same thread count.
 *
 * Weights stream from DRAM ("rot" mode, shared/design/cpu-anchors.md §1): every measured call
 * runs R independent copies of the op on distinct weight buffers (R * weight >= max(160 MiB, 2 x the
 * last-level cache the machine reports: rotationBytes() in common.ts), R >= 2) and the time per op
 * is reported. ORT gets the same R through a model with R
 * copies of the node (one session.run), lowbit through R calls in a loop.
 *
 * All contenders of a shape are built first and then timed in interleaved rounds (each op once
 * per round, median of the per-round medians), so every comparison shares the same time window:
 * this VM's memory bandwidth swings by tens of percent from minute to minute.
 *
 * Columns: ms per op (median), weight GB/s (packed weight + scales bytes / time, GB = 1e9),
 * % of this machine's measured DRAM read bandwidth at this thread count, GFLOP/s.
 */
import { Tensor, matmul4bit, quantize4bit, dequantize4bit, quantizeBlockwise, dequantizeBlockwise, QuantState, backendInfo, setCpuIsa, type CpuIsa, type MatmulActivations } from '../lib/index.js';
import { measuredReadGBs, printTable, randn, rotationCopies, settle, timeIt, timeItAsync, writeResults, type BenchArgs } from './common.js';
import { createRequire } from 'node:module';
import { createSession, runOnce, type Feed, type InitSpec } from './ort.js';

const require = createRequire(import.meta.url);


interface Row {
  op: string;
  'K x N': string;
  M: number;
  ms: number;
  'weight GB/s': number;
  '% DRAM': number;
  'GFLOP/s': number;
  'vs ort fp32': string;
}

/** A double-quantized state with its own copies of the statistics, de-nested once (as a loaded layer). */
function cloneState(st: QuantState): QuantState {
  const s2 = st.state2!;
  const state2 = new QuantState({ absmax: Tensor.from((s2.absmax.data as Float32Array).slice()), shape: s2.shape, dtype: s2.dtype, blocksize: s2.blocksize, code: s2.code, quantType: null });
  const copy = new QuantState({ absmax: Tensor.from((st.absmax.data as Uint8Array).slice(), st.absmax.shape, 'uint8'), shape: st.shape, dtype: st.dtype, blocksize: st.blocksize, code: st.code, quantType: st.quantType, offset: st.offset, state2 });
  copy.absmaxFloat32();
  return copy;
}

const rotCopies = rotationCopies;

function uniformBytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function scales(n: number, seed: number): Float32Array {
  return randn(n, seed).map((v) => 0.02 + Math.abs(v) * 0.01);
}

const ONNX_TYPE: Record<string, number> = { float32: 1, uint8: 2 };

/**
 * R copies of one node, each on ITS OWN weight values (copy r gets `initializers(r)`), all fed
 * by the graph input A. Distinct values matter: with identical copies onnxruntime ran far above
 * this machine's DRAM bandwidth (it can share identical constant initializers), which would
 * time cache-resident weights instead of streamed ones.
 */
function buildRotModel(opType: string, domain: string, attributes: Record<string, number>, initializers: (r: number) => InitSpec[], K: number, N: number, R: number): Uint8Array {
  const onnx = (require('onnx-proto') as { onnx: any }).onnx;
  const INT = onnx.AttributeProto.AttributeType.INT;
  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const nodes: unknown[] = [], inits: unknown[] = [], outputs: unknown[] = [];
  for (let r = 0; r < R; r++) {
    const specs = initializers(r);
    for (const t of specs) {
      inits.push({ name: `${t.name}_r${r}`, dataType: ONNX_TYPE[t.type], dims: t.dims, rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
    }
    nodes.push({
      opType, domain, name: `${opType}_${r}`,
      input: ['A', ...specs.map((t) => `${t.name}_r${r}`)],
      output: [`Y_r${r}`],
      attribute: Object.entries(attributes).map(([name, i]) => ({ name, i, type: INT })),
    });
    outputs.push(valueInfo(`Y_r${r}`, ['M', N]));
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'lowbit-bench',
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: { name: `${opType}_rot`, node: nodes, input: [valueInfo('A', ['M', K])], initializer: inits, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish() as Uint8Array;
}

interface Contender {
  op: string;
  weightBytes: number;
  copies: number;
  /** Runs all `copies` ops once (one rot pass). */
  run: (x: Tensor) => unknown;
  release?: () => Promise<void>;
}

async function ortContender(
  op: string,
  opType: string,
  domain: '' | 'com.microsoft',
  attributes: Record<string, number>,
  initializers: (r: number) => InitSpec[],
  K: number,
  N: number,
  weightBytes: number,
  threads: number,
): Promise<Contender> {
  const R = rotCopies(weightBytes);
  const session = await createSession(buildRotModel(opType, domain, attributes, initializers, K, N, R), threads);
  return {
    op,
    weightBytes,
    copies: R,
    run: (x: Tensor) => {
      const feeds: Record<string, Feed> = { A: { type: 'float32', data: x.data, dims: [...x.shape] } };
      return runOnce(session, feeds);
    },
    release: () => session.release(),
  };
}

function row(op: string, K: number, N: number, M: number, ms: number, weightBytes: number, threads: number, fp32Ms: number | null): Row {
  const gbs = weightBytes / (ms * 1e6);
  return {
    op,
    'K x N': `${K}x${N}`,
    M,
    ms,
    'weight GB/s': gbs,
    '% DRAM': (100 * gbs) / measuredReadGBs(threads),
    'GFLOP/s': (2 * M * K * N) / (ms * 1e6),
    'vs ort fp32': fp32Ms === null ? '' : `${(fp32Ms / ms).toFixed(2)}x`,
  };
}

async function matmulSuite(args: BenchArgs): Promise<Row[]> {
  const shapes: [number, number][] = args.shapes ?? (args.quick ? [[4096, 4096]] : [[4096, 4096], [4096, 11008], [11008, 4096]]);
  const Ms = args.ms ?? (args.quick ? [1, 8] : [1, 8, 32]);
  const rounds = args.quick ? 3 : 5;
  const threads = args.threads;
  const rows: Row[] = [];
  for (const [K, N] of shapes) {
    // lowbit NF4, blocksize 64, float32 absmax: exactly MatMulBnb4's bytes; plus the double-quant form.
    const w = randn(N * K, 11).map((v) => v * 0.02);
    const [packed0, state0] = quantize4bit(Tensor.from(w, [N, K]), { quantType: 'nf4', blocksize: 64 });
    const [packedDq, stateDq] = quantize4bit(Tensor.from(w, [N, K]), { quantType: 'nf4', blocksize: 64, compressStatistics: true });
    stateDq.absmaxFloat32(); // de-nested once and cached, as a loaded layer would
    const bnbBytes = (N * K) / 2 + ((N * K) / 64) * 4;
    const dqBytes = (N * K) / 2 + stateDq.statsBytes();
    const copies: [Tensor, QuantState][] = [];
    for (let r = 0; r < rotCopies(bnbBytes); r++) {
      const p = Tensor.from((packed0.data as Uint8Array).map((b) => b ^ (r * 0x11)), packed0.shape, 'uint8');
      const a = Tensor.from((state0.absmax.data as Float32Array).slice());
      copies.push([p, new QuantState({ absmax: a, shape: state0.shape, dtype: state0.dtype, blocksize: 64, code: state0.code, quantType: 'nf4' })]);
    }
    // Every copy has its own statistics too (as distinct layers would), so the scales stream from
    // DRAM like the weights instead of staying in cache across copies.
    const dqCopies: [Tensor, QuantState][] = [];
    for (let r = 0; r < rotCopies(dqBytes); r++) dqCopies.push([Tensor.from((packedDq.data as Uint8Array).map((b) => b ^ (r * 0x11)), packedDq.shape, 'uint8'), cloneState(stateDq)]);

    // `isa` pins a CPU path for one contender (the AVX2 kernels side by side with AVX-512 ones).
    const lowbit = (op: string, cs: [Tensor, QuantState][], bytes: number, activations: MatmulActivations = 'float32', isa?: CpuIsa): Contender => ({
      op,
      weightBytes: bytes,
      copies: cs.length,
      run: (x: Tensor) => {
        if (isa) setCpuIsa(isa);
        try {
          for (const [p, st] of cs) matmul4bit(x, p, st, null, { activations });
        } finally {
          if (isa) setCpuIsa('auto');
        }
      },
    });
    const contenders: Contender[] = [
      lowbit('lowbit nf4 (fp32 absmax)', copies, bnbBytes),
      lowbit('lowbit nf4 (double quant)', dqCopies, bnbBytes), // reads the de-nested float32 scales
    ];
    if (backendInfo().cpu.avx512) {
      // What a CPU with AVX2 only would run: the exact path, and the int8 mode without VNNI.
      contenders.push(lowbit('lowbit nf4 (avx2 kernels)', copies, bnbBytes, 'float32', 'avx2'));
      contenders.push(lowbit('lowbit nf4 int8 (avx2 kernels)', copies, bnbBytes, 'int8', 'avx2'));
    }
    contenders.push(
      lowbit('lowbit nf4 int16 activations', copies, bnbBytes, 'int16'),
      lowbit('lowbit nf4 int8 activations', copies, bnbBytes, 'int8'),
      lowbit('lowbit nf4 int8 act. (double quant)', dqCopies, dqBytes, 'int8'),
    );
    const fp32 = await ortContender('ort MatMul fp32', 'MatMul', '', {}, (r) => [{ name: 'B', type: 'float32', dims: [K, N], data: r === 0 ? w : w.map((v) => v + r * 1e-3) }], K, N, N * K * 4, threads);
    contenders.push(await ortContender('ort MatMulBnb4 nf4', 'MatMulBnb4', 'com.microsoft', { K, N, block_size: 64, quant_type: 1 },
      (r) => [
        { name: 'B', type: 'uint8', dims: [(N * K) / 2], data: (packed0.data as Uint8Array).map((b) => b ^ (r * 0x11)) },
        { name: 'absmax', type: 'float32', dims: [(N * K) / 64], data: (state0.absmax.data as Float32Array).map((v) => v * (1 + r * 1e-3)) },
      ], K, N, bnbBytes, threads));
    const nbPacked = uniformBytes((N * K) / 2, 3);
    for (const bs of [32, 64]) {
      for (const level of args.quick ? [4] : [0, 4]) {
        contenders.push(await ortContender(`ort MatMulNBits b${bs} a${level}`, 'MatMulNBits', 'com.microsoft', { K, N, bits: 4, block_size: bs, accuracy_level: level },
          (r) => [
            { name: 'B', type: 'uint8', dims: [N, K / bs, bs / 2], data: nbPacked.map((b) => b ^ (r * 0x11)) },
            { name: 'scales', type: 'float32', dims: [(N * K) / bs], data: scales((N * K) / bs, bs + r) },
          ], K, N, (N * K) / 2 + ((N * K) / bs) * 4, threads));
      }
    }
    contenders.push(fp32);

    for (const M of Ms) {
      const x = Tensor.from(randn(M * K, 7 + M), [M, K]);
      const active = contenders.filter((c) => M === 1 || !c.op.includes('int16'));
      // Interleaved rounds (A/B in the same time window, cpu-anchors.md §6): every contender is
      // timed once per round; the reported time is the median over rounds of per-round medians.
      const perRound = new Map<string, number[]>();
      for (let round = 0; round < rounds; round++) {
        for (const c of active) {
          await settle();
          const sync = c.release === undefined;
          const opts = { minTimeMs: args.quick ? 120 : 200, warmup: round === 0 ? 1 : 0, minIters: 2, maxIters: 20 };
          const t = sync ? timeIt(() => c.run(x), opts) : await timeItAsync(async () => { await c.run(x); }, opts);
          const list = perRound.get(c.op) ?? [];
          list.push(t.medianMs / c.copies);
          perRound.set(c.op, list);
        }
      }
      const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
      const fp32Ms = median(perRound.get(fp32.op)!);
      for (const c of active) rows.push(row(c.op, K, N, M, median(perRound.get(c.op)!), c.weightBytes, threads, fp32Ms));
    }
    for (const c of contenders) await c.release?.();
    for (const [p, st] of copies) {
      p.dispose();
      st.absmax.dispose();
    }
    for (const [p, st] of dqCopies) {
      p.dispose();
      st.dispose();
    }
  }
  return rows;
}

function quantSuite(args: BenchArgs): Record<string, string | number>[] {
  const n = args.quick ? 2048 * 2048 : 4096 * 4096;
  const x = Tensor.from(randn(n, 1), [n / 4096 >= 1 ? n / 4096 : 1, 4096]);
  const opts = { minTimeMs: args.quick ? 200 : 600, warmup: 1, minIters: 3, maxIters: 30 };
  const rows: Record<string, string | number>[] = [];
  const gb = (bytes: number, ms: number) => bytes / (ms * 1e6);
  for (const qt of ['nf4', 'fp4'] as const) {
    const q = timeIt(() => quantize4bit(x, { quantType: qt, blocksize: 64 }), opts).medianMs;
    const [p, s] = quantize4bit(x, { quantType: qt, blocksize: 64 });
    const d = timeIt(() => dequantize4bit(p, s), opts).medianMs;
    const out32 = Tensor.empty(x.shape, 'float32');
    const dr = timeIt(() => dequantize4bit(p, s, { out: out32 }), opts).medianMs;
    const dh = timeIt(() => dequantize4bit(p, s, { outDtype: 'float16' }), opts).medianMs;
    rows.push({ op: `quantize4bit ${qt} bs64 (f32 in)`, elements: n, ms: q, 'GB/s (f32 bytes)': gb(n * 4, q) });
    rows.push({ op: `dequantize4bit ${qt} bs64 (f32 out, new tensor)`, elements: n, ms: d, 'GB/s (f32 bytes)': gb(n * 4, d) });
    rows.push({ op: `dequantize4bit ${qt} bs64 (f32 out, reused)`, elements: n, ms: dr, 'GB/s (f32 bytes)': gb(n * 4, dr) });
    rows.push({ op: `dequantize4bit ${qt} bs64 (f16 out)`, elements: n, ms: dh, 'GB/s (f32 bytes)': gb(n * 4, dh) });
  }
  const qd = timeIt(() => quantize4bit(x, { quantType: 'nf4', blocksize: 64, compressStatistics: true }), opts).medianMs;
  rows.push({ op: 'quantize4bit nf4 bs64 + double quant', elements: n, ms: qd, 'GB/s (f32 bytes)': gb(n * 4, qd) });
  const q8 = timeIt(() => quantizeBlockwise(x, { blocksize: 4096 }), opts).medianMs;
  const [c8, s8] = quantizeBlockwise(x, { blocksize: 4096 });
  const d8 = timeIt(() => dequantizeBlockwise(c8, s8), opts).medianMs;
  rows.push({ op: 'quantizeBlockwise 8-bit bs4096', elements: n, ms: q8, 'GB/s (f32 bytes)': gb(n * 4, q8) });
  rows.push({ op: 'dequantizeBlockwise 8-bit bs4096', elements: n, ms: d8, 'GB/s (f32 bytes)': gb(n * 4, d8) });
  return rows;
}

export async function run(args: BenchArgs): Promise<void> {
  console.log(`measured streaming read bandwidth at ${args.threads} threads: ${measuredReadGBs(args.threads).toFixed(1)} GB/s ("% DRAM" is against it)`);
  const quant = quantSuite(args);
  printTable(`quantize / dequantize throughput (${args.threads} threads)`, quant);
  const mm = await matmulSuite(args);
  printTable(`4-bit GEMV / GEMM, weights streamed from DRAM (rot mode), ${args.threads} threads`, mm as unknown as Record<string, string | number>[]);
  const path = writeResults('quant-4bit', { threads: args.threads, quick: args.quick, shapes: args.shapes, ms: args.ms, quantize: quant, matmul: mm }, args);
  console.log(`results: ${path}`);
}
