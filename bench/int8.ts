/**
 * LLM.int8() benchmarks: the exact int8 GEMM (int8LinearMatmul) and the full fused
 * Linear8bitLt forward (float32 activations, quantize + GEMM + dequant + bias + outliers),
 * side by side in one run with onnxruntime-node's MatMulInteger (u8s8 and s8s8),
 * DynamicQuantizeMatMul and float32 MatMul at the same thread count.
 *
 * Shapes: (K, N) = (4096, 4096), (4096, 11008), (11008, 4096); M = 1, 8, 32, 128, 512.
 * AMX rows: where the CPU has AMX-INT8 the lowbit rows above run on the tiles (auto picks them
 * from M = 8 on) and an "[AMX-INT8]" row states it next to ORT; without AMX that row says
 * "unmeasured, no AMX" (the AMX twins exist for tests and are never timed as if they were tiles).
 * Linear8bitLt rows use the weight packed once in the layer (Int8Params), made during warm-up.
 * Forward variants: threshold 0, and threshold 6 on activations where 0.1% or 1% of the
 * columns hold outliers (|x| in [8, 12) in every row, as LLM outlier features do).
 *
 * Weight residency: for M <= 8 every measured call runs R independent copies on distinct
 * weights (R·weight >= max(160 MiB, 2 x the last-level cache): rotationBytes() in common.ts, the
 * "rot" mode of shared/design/cpu-anchors.md §1) and reports
 * the time per op; lowbit loops over R layers, ORT runs a model with R copies of the node.
 * For M >= 128 the work is compute-bound (each weight byte is reused M times), so R = 1.
 *
 * Columns: ms per op (median), GOP/s = 2·M·K·N / time, % of the int8 multiply-add peak at
 * this thread count from the CPU anchors (MACHINE.int8PeakGops: the AVX2 vpmaddubsw+vpmaddwd
 * roofline of the 2-core Zen 3 reference box). On a CPU with AVX-512 VNNI (e.g. Zen 4) both
 * ORT and lowbit use vpdpbusd and can exceed that figure; the run prints which case applies.
 * Caveat (cpu-anchors.md §5.4): ORT's u8s8 kernels (MatMulInteger u8s8, DynamicQuantizeMatMul)
 * saturate int16 pair sums with full-range int8 weights, so they are speed peers only; the
 * exact peer is MatMulInteger s8s8. The "exact" column checks row 0 against lowbit's int32.
 */
import { Linear8bitLt, Tensor, backendInfo, int8LinearMatmul } from '../lib/index.js';
import { createRequire } from 'node:module';
import { MACHINE, cpuFlags, printTable, randn, rotationCopies, settle, timeIt, timeItAsync, writeResults, type BenchArgs } from './common.js';
import { buildSingleNodeModel, createSession, runOnce, type Feed, type InitSpec, type OnnxType } from './ort.js';

const require = createRequire(import.meta.url);

type Row = Record<string, string | number>;

function rotCopies(weightBytes: number, M: number): number {
  return M >= 128 ? 1 : rotationCopies(weightBytes);
}

function uniformInt8(n: number, seed: number): Int8Array {
  let s = seed >>> 0;
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 24) % 255 - 127; // [-127, 127], what int8VectorwiseQuant produces
  }
  return out;
}

function transpose(b: Int8Array, N: number, K: number): Int8Array {
  const t = new Int8Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t[k * N + n] = b[n * K + k]!;
  return t;
}

/** Activations N(0, 1) with `fraction` of the columns holding outliers in every row. */
function activations(M: number, K: number, fraction: number, seed: number): Float32Array {
  const x = randn(M * K, seed);
  const count = Math.round(K * fraction);
  for (let j = 0; j < count; j++) {
    const col = Math.floor(((j + 0.5) * K) / count);
    for (let m = 0; m < M; m++) x[m * K + col] = (m + j) % 2 ? 8 + (m % 4) : -(8 + (j % 4));
  }
  return x;
}

/**
 * Times `opType` as one model holding R copies of the node (one session.run, "rot" mode),
 * each copy with its OWN weight data: buildSingleNodeModel's `repeat` copies the initializer
 * bytes, so the copies' initializers are swapped for distinct data here (identical copies
 * could be merged by ORT's optimizers and would stay cache-resident). Returns ms per op.
 */
async function timeOrt(opType: string, domain: '' | 'com.microsoft', aType: OnnxType, aData: ArrayBufferView, outType: OnnxType,
  initializersFor: (copy: number) => InitSpec[], M: number, K: number, N: number, R: number, threads: number, quick: boolean,
): Promise<{ ms: number; row0: ArrayLike<number> }> {
  const base = initializersFor(0);
  let model = buildSingleNodeModel({
    opType, domain,
    inputs: [{ name: 'A', type: aType, dims: ['M', K] }],
    initializers: base,
    outputs: [{ name: 'Y', type: outType, dims: ['M', N] }],
    repeat: R,
  });
  if (R > 1) {
    const { onnx } = require('onnx-proto') as { onnx: any };
    const m = onnx.ModelProto.decode(model);
    for (let r = 1; r < R; r++) {
      const inits = initializersFor(r);
      for (const init of inits) {
        const t = m.graph.initializer.find((x: { name: string }) => x.name === `${init.name}_r${r}`);
        if (t) t.rawData = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
      }
    }
    model = onnx.ModelProto.encode(m).finish() as Uint8Array;
  }
  const session = await createSession(model, threads);
  const feeds: Record<string, Feed> = { A: { type: aType, data: aData, dims: [M, K] } };
  const first = await runOnce(session, feeds);
  const y = (first[R > 1 ? 'Y_r0' : 'Y'] ?? Object.values(first)[0]!).data as unknown as ArrayLike<number>;
  const t = await timeItAsync(() => runOnce(session, feeds), { minTimeMs: quick ? 150 : 500, warmup: 1, minIters: 3, maxIters: 20 });
  await session.release();
  return { ms: t.medianMs / R, row0: Array.from({ length: Math.min(N, 64) }, (_, i) => y[i]!) };
}

export async function run(args: BenchArgs): Promise<void> {
  const threads = args.threads;
  const flags = cpuFlags();
  const vnni = flags.includes('avx512_vnni') || flags.includes('avx_vnni');
  console.log(vnni
    ? 'note: this CPU has VNNI (avx512_vnni/avx_vnni): ORT and lowbit (unless LOWBIT_CPU_ISA=avx2) use vpdpbusd, so "% int8 peak" (the AVX2 roofline of the Zen 3 reference box) can exceed 100%.'
    : 'note: no VNNI on this CPU: "% int8 peak" is against the AVX2 vpmaddubsw+vpmaddwd roofline.');
  const cpu = backendInfo().cpu;
  const m8 = cpu.int8Amx === 'hardware' ? 'AMX-INT8 tiles' : cpu.int8Amx === 'emulated' ? 'AMX twins (emulated: NOT a speed figure)' : cpu.int8Vnni ? 'AVX-512 VNNI tiles' : 'AVX2';
  console.log(`lowbit int8 kernels (ISA ${cpu.isa}): ${m8} from M = 8 on, weight kept packed as '${cpu.int8WeightLayout}' by Linear8bitLt${cpu.amx ? '' : ` (no AMX: ${cpu.amxReason})`}`);
  const peak = MACHINE.int8PeakGops[threads] ?? MACHINE.int8PeakGops[2]!;
  const shapes: [number, number][] = args.shapes ?? (args.quick ? [[4096, 4096]] : [[4096, 4096], [4096, 11008], [11008, 4096]]);
  const Ms = args.ms ?? (args.quick ? [1, 128] : [1, 8, 32, 128, 512]);
  const amxTimed = cpu.int8Amx === 'hardware';
  const rows: Row[] = [];
  const summary: Row[] = [];
  const opts = { minTimeMs: args.quick ? 150 : 500, warmup: 1, minIters: 3, maxIters: 30 };

  for (const [K, N] of shapes) {
    const maxR = rotCopies(N * K, 1);
    const cbs: Int8Array[] = Array.from({ length: maxR }, (_, r) => uniformInt8(N * K, 100 + r));
    const scb = Float32Array.from(randn(N, 3), (v) => 0.05 + Math.abs(v) * 0.02);
    const bias = randn(N, 4);
    const layersFor = (threshold: number, R: number) => Array.from({ length: R }, (_, r) => {
      const layer = new Linear8bitLt(K, N, { hasFp16Weights: false, threshold });
      layer.weight.setQuantized(Tensor.from(cbs[r]!, [N, K]), Tensor.from(scb, [N]));
      layer.bias = Tensor.from(bias, [N]);
      return layer;
    });
    const cbTensors = cbs.map((cb) => Tensor.from(cb, [N, K]));
    for (const M of Ms) {
      const R = rotCopies(N * K, M);
      const gops = (ms: number) => (2 * M * K * N) / (ms * 1e6);
      const add = (op: string, ms: number, extra: Row = {}) => {
        const r: Row = { 'K x N': `${K}x${N}`, M, op, ms, 'GOP/s': gops(ms), '% int8 peak': (100 * gops(ms)) / peak, outliers: '', exact: '', ...extra };
        rows.push(r);
        return r;
      };
      // lowbit int8 GEMM on already-quantized activations.
      const qa = uniformInt8(M * K, 7);
      const A = Tensor.from(qa, [M, K]);
      const gemm = timeIt(() => {
        for (let r = 0; r < R; r++) int8LinearMatmul(A, cbTensors[r]!);
      }, opts).medianMs / R;
      add('lowbit int8LinearMatmul', gemm, { exact: 'yes (tests)' });
      // The AMX row: the rows above are the AMX tiles where the CPU has them (M >= 8), never the twins.
      const amxRow = (op: string, ms: number) => amxTimed && M >= 8
        ? add(`${op} [AMX-INT8]`, ms, { exact: 'yes (tests)' })
        : rows.push({ 'K x N': `${K}x${N}`, M, op: `${op} [AMX-INT8]`, ms: amxTimed ? 'decode path (M < 8)' : 'unmeasured, no AMX', 'GOP/s': '', '% int8 peak': '', outliers: '', exact: '' });
      amxRow('lowbit int8LinearMatmul', gemm);
      const row0 = Array.from(int8LinearMatmul(A, cbTensors[0]!).data.subarray(0, Math.min(N, 64)));

      // lowbit fused forward, float32 activations.
      const fwd: Record<string, number> = {};
      for (const [label, threshold, fraction] of [['threshold 0', 0, 0], ['threshold 6, 0.1% outlier cols', 6, 0.001], ['threshold 6, 1% outlier cols', 6, 0.01]] as const) {
        if (args.quick && fraction === 0.01) continue;
        const layers = layersFor(threshold, R);
        const x = Tensor.from(activations(M, K, threshold ? fraction : 0.001, 11), [M, K]);
        fwd[label] = timeIt(() => {
          for (const l of layers) l.forward(x);
        }, opts).medianMs / R;
        add(`lowbit Linear8bitLt.forward, ${label}`, fwd[label]!, { outliers: layers[0]!.outlierStats.lastOutlierColumns });
        if (threshold === 0) amxRow('lowbit Linear8bitLt.forward, threshold 0', fwd[label]!);
        for (const l of layers) l.dispose(); // CB/SCB are shared views of cbs; dispose drops them
      }

      // onnxruntime-node peers, same thread count.
      const bt = Array.from({ length: R }, (_, r) => transpose(cbs[r]!, N, K));
      const b0 = (extra: InitSpec[]) => (r: number): InitSpec[] => [{ name: 'B', type: 'int8', dims: [K, N], data: bt[r]! }, ...extra];
      const ortRows: Record<string, number> = {};
      const exact = (y: ArrayLike<number>) => (Array.from(y).every((v, i) => v === row0[i]) ? 'yes' : 'NO (saturates)');
      const u8 = Uint8Array.from(qa, (v) => v + 128);
      const u8s8 = await timeOrt('MatMulInteger', '', 'uint8', u8, 'int32', b0([{ name: 'a_zero_point', type: 'uint8', dims: [], data: new Uint8Array([128]) }]), M, K, N, R, threads, args.quick);
      ortRows.u8s8 = u8s8.ms;
      add('ort MatMulInteger u8s8', u8s8.ms, { exact: exact(u8s8.row0) });
      if (!args.quick) {
        const s8s8 = await timeOrt('MatMulInteger', '', 'int8', qa, 'int32', b0([]), M, K, N, R, threads, args.quick);
        ortRows.s8s8 = s8s8.ms;
        add('ort MatMulInteger s8s8', s8s8.ms, { exact: exact(s8s8.row0) });
        const xf = activations(M, K, 0.001, 11);
        const dq = await timeOrt('DynamicQuantizeMatMul', 'com.microsoft', 'float32', xf, 'float32', b0([{ name: 'b_scale', type: 'float32', dims: [N], data: scb }]), M, K, N, R, threads, args.quick);
        ortRows.dqmm = dq.ms;
        add('ort DynamicQuantizeMatMul', dq.ms);
      }
      const fp32R = rotCopies(4 * K * N, M);
      const fp32 = await timeOrt('MatMul', '', 'float32', activations(M, K, 0.001, 11), 'float32',
        (r) => [{ name: 'B', type: 'float32', dims: [K, N], data: Float32Array.from(bt[r % R]!, (v) => v * 0.01) }], M, K, N, fp32R, threads, args.quick);
      ortRows.fp32 = fp32.ms;
      add('ort MatMul float32', fp32.ms);

      const t0 = fwd['threshold 0']!;
      const t6 = fwd['threshold 6, 0.1% outlier cols']!;
      summary.push({
        'K x N': `${K}x${N}`, M,
        'GEMM vs ort u8s8': `${(ortRows.u8s8 / gemm).toFixed(2)}x`,
        'GEMM vs ort s8s8': ortRows.s8s8 ? `${(ortRows.s8s8 / gemm).toFixed(2)}x` : '-',
        't6(0.1%) / t0': (t6 / t0).toFixed(3),
        'fwd t0 vs ort fp32': `${(ortRows.fp32 / t0).toFixed(2)}x`,
        'fwd t0 vs ort dqmm': ortRows.dqmm ? `${(ortRows.dqmm / t0).toFixed(2)}x` : '-',
      });
    }
  }
  printTable(`LLM.int8(): int8 GEMM and Linear8bitLt forward vs onnxruntime-node, ${threads} threads (int8 peak ${peak} GOP/s)`, rows);
  const h2h = await headToHead(args, shapes);
  printTable('Ratios (>1x: lowbit faster; targets: GEMM at M=512 faster than MatMulInteger; t6(0.1%)/t0 <= 1.15; M=1 forward faster than fp32 MatMul)', summary);
  const path = writeResults('int8', { threads, shapes: args.shapes, ms: args.ms, cpuHasVnni: vnni, cpuHasAmx: cpu.amx, int8Amx: cpu.int8Amx, amxRows: amxTimed ? 'measured on AMX-INT8 tiles' : 'unmeasured, no AMX', isa: cpu.isa, int8WeightLayout: cpu.int8WeightLayout, rows, summary, headToHead: h2h }, args);
  console.log(`\nwrote ${path}`);
}

const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1]!;

/**
 * The three targets as interleaved A/B rounds (cpu-anchors.md §6: this VM is noisy, so each
 * pair is timed back to back, ROUNDS times, and the median of the per-round ratios reported):
 * GEMM at M = 512 vs ORT MatMulInteger u8s8; threshold-6 (0.1% outlier columns) vs
 * threshold-0 forward at M = 512 and M = 1; the M = 1 forward vs ORT float32 MatMul.
 */
async function headToHead(args: BenchArgs, shapes: [number, number][]): Promise<Row[]> {
  const ROUNDS = args.quick ? 3 : 7;
  const out: Row[] = [];
  const opts = { minTimeMs: 0, warmup: 1, minIters: 3, maxIters: 3 };
  for (const [K, N] of shapes) {
    const cb = uniformInt8(N * K, 100);
    const scb = Float32Array.from(randn(N, 3), (v) => 0.05 + Math.abs(v) * 0.02);
    const layer = (threshold: number) => {
      const l = new Linear8bitLt(K, N, { hasFp16Weights: false, threshold });
      l.weight.setQuantized(Tensor.from(cb, [N, K]), Tensor.from(scb, [N]));
      return l;
    };
    const t0 = layer(0);
    const t6 = layer(6);
    const bt = transpose(cb, N, K);
    for (const M of args.quick ? [1] : [1, 512]) {
      const qa = uniformInt8(M * K, 7);
      const A = Tensor.from(qa, [M, K]);
      const B = Tensor.from(cb, [N, K]);
      const x = Tensor.from(activations(M, K, 0.001, 11), [M, K]);
      const u8Session = await createSession(buildSingleNodeModel({
        opType: 'MatMulInteger',
        inputs: [{ name: 'A', type: 'uint8', dims: ['M', K] }],
        initializers: [{ name: 'B', type: 'int8', dims: [K, N], data: bt }, { name: 'a_zero_point', type: 'uint8', dims: [], data: new Uint8Array([128]) }],
        outputs: [{ name: 'Y', type: 'int32', dims: ['M', N] }],
      }), args.threads);
      const u8Feeds: Record<string, Feed> = { A: { type: 'uint8', data: Uint8Array.from(qa, (v) => v + 128), dims: [M, K] } };
      const fpSession = M === 1 ? await createSession(buildSingleNodeModel({
        opType: 'MatMul',
        inputs: [{ name: 'A', type: 'float32', dims: ['M', K] }],
        initializers: [{ name: 'B', type: 'float32', dims: [K, N], data: Float32Array.from(bt, (v) => v * 0.01) }],
        outputs: [{ name: 'Y', type: 'float32', dims: ['M', N] }],
      }), args.threads) : null;
      const fpFeeds: Record<string, Feed> = { A: { type: 'float32', data: x.data as Float32Array, dims: [M, K] } };
      const r = { gemm: [] as number[], ort: [] as number[], f0: [] as number[], f6: [] as number[], fp: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        await settle();
        r.gemm.push(timeIt(() => int8LinearMatmul(A, B), opts).medianMs);
        await settle();
        r.ort.push((await timeItAsync(() => runOnce(u8Session, u8Feeds), opts)).medianMs);
        await settle();
        r.f0.push(timeIt(() => t0.forward(x), opts).medianMs);
        r.f6.push(timeIt(() => t6.forward(x), opts).medianMs);
        await settle();
        if (fpSession) r.fp.push((await timeItAsync(() => runOnce(fpSession, fpFeeds), opts)).medianMs);
      }
      await u8Session.release();
      if (fpSession) await fpSession.release();
      const ratio = (a: number[], b: number[]) => median(a.map((v, i) => v / b[i]!));
      out.push({
        'K x N': `${K}x${N}`, M, rounds: ROUNDS,
        'lowbit GEMM ms': median(r.gemm), 'ort u8s8 ms': median(r.ort), 'ort/lowbit GEMM': ratio(r.ort, r.gemm),
        'fwd t0 ms': median(r.f0), 'fwd t6 ms': median(r.f6), 't6/t0': ratio(r.f6, r.f0),
        'ort fp32 ms': fpSession ? median(r.fp) : '-', 'fp32/fwd t0': fpSession ? ratio(r.fp, r.f0) : '-',
      });
    }
    t0.dispose();
    t6.dispose();
  }
  printTable('Head to head, interleaved rounds (hot weights; median of per-round ratios; >1 = lowbit faster for ort/lowbit and fp32/fwd)', out);
  return out;
}
