/**
 * The `cuda` benchmark family: the fused LLM.int8() forward (int8LinearForward) and the bare int8
 * tensor-core GEMM (int8LinearMatmul) on the GPU, for the Llama-7B linear shapes at M = 1, 8, 128,
 * 512, 4096, with threshold 0 and threshold 6 (0.1 % outlier columns). Reports time, GB/s on the
 * bytes the kernels must move, TOPS, and % of the device's DRAM bandwidth and dense int8 peak
 * (../shared/design/performance-anchors.md), next to the paper model of cuda/kernels/int8_gemm.md.
 * Also the 4-bit matmul (matmul4bit: the GEMV at M = 1, cuda/kernels/gemm_4bit.md for M > 1) with NF4
 * weights at blocksize 64, float32 and double-quantized scales, float16 activations: time and % of DRAM
 * bandwidth on the bytes it must move, next to scripts/gemv-4bit-perf-model.py.
 * Runs only on a real GPU (skips on CPU-only and emulated builds: emulation says nothing about speed).
 *
 *   npm run bench -- --filter cuda [--shapes 4096x4096 --m 1,8]
 */
import { Tensor, backendInfo, int8LinearForward, int8LinearMatmul, matmul4bit, quantize4bit } from '../lib/index.js';
import { printTable, randn, timeIt, writeResults, type BenchArgs } from './common.js';

// Dense int8 tensor TOPS and DRAM GB/s (performance-anchors.md section 1), by device name.
const PEAKS: [RegExp, number, number][] = [
  [/T4/, 130, 320],
  [/A100.*80/, 624, 2039],
  [/A100/, 624, 1555],
  [/4090/, 660.6, 1008],
  [/H100.*PCIe/, 1513, 2000],
  [/H100/, 1979, 3350],
  [/H200/, 1979, 4800],
  [/L4\b/, 242.5, 300],
  [/A10\b/, 250, 600],
  [/3090/, 284, 936],
];

const SHAPES: [number, number][] = [[4096, 4096], [4096, 11008], [11008, 4096]]; // K x N
const MS = [1, 8, 128, 512, 4096];

function int8Tensor(n: number, shape: number[], seed: number): Tensor {
  const v = new Int8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s >>> 24) - 128;
  }
  return Tensor.from(v, shape, 'int8');
}

export async function run(args: BenchArgs): Promise<void> {
  const info = backendInfo();
  if (!info.cuda.available || info.build.cudaFlavor !== 'cuda') {
    console.log(`(skipping cuda: ${info.cuda.available ? 'emulated build, timings would be meaningless' : info.cuda.reason})`);
    return;
  }
  const device = info.cuda.devices?.[0];
  const name = device?.name ?? 'unknown';
  const peak = PEAKS.find(([re]) => re.test(name));
  const shapes = args.shapes ?? (args.quick ? [SHAPES[0]!] : SHAPES);
  const ms = args.ms ?? (args.quick ? [1, 128] : MS);
  const rows: Record<string, string | number>[] = [];
  for (const [K, N] of shapes) {
    const CB = int8Tensor(N * K, [N, K], N + K).to('cuda');
    const SCB = Tensor.from(Float32Array.from(randn(N, 7), (x) => 0.1 + Math.abs(x)), [N], 'float32').to('cuda');
    for (const M of ms) {
      const v = randn(M * K, M + K);
      const xs = { t0: Tensor.from(v, [M, K], 'float32').toDType('float16').to('cuda'), t6: null as Tensor | null };
      for (let j = 0; j < Math.max(1, Math.round(K / 1000)); j++) v[(j * 997) % K] = 9; // 0.1 % outlier columns
      xs.t6 = Tensor.from(v, [M, K], 'float32').toDType('float16').to('cuda');
      const A = int8Tensor(M * K, [M, K], 3).to('cuda');
      const bytes = N * K + 4 * N + M * K * 6 + 2 * M * N;
      const ops = 2 * M * N * K;
      const cases: [string, () => unknown][] = [
        ['int8LinearMatmul', () => int8LinearMatmul(A, CB).dispose()],
        ['forward thr 0', () => int8LinearForward(xs.t0, CB, SCB, { threshold: 0 }).out.dispose()],
        ['forward thr 6', () => int8LinearForward(xs.t6!, CB, SCB, { threshold: 6 }).out.dispose()],
      ];
      for (const [op, fn] of cases) {
        const t = timeIt(fn, { minTimeMs: 300, warmup: 3 });
        const s = t.medianMs / 1e3;
        rows.push({
          op, shape: `${K}x${N}`, M, 'median µs': +(t.medianMs * 1e3).toFixed(1),
          'GB/s': +(bytes / s / 1e9).toFixed(1), TOPS: +(ops / s / 1e12).toFixed(2),
          '% DRAM': peak ? +((100 * bytes) / s / 1e9 / peak[2]).toFixed(1) : 'n/a',
          '% int8 peak': peak ? +((100 * ops) / s / 1e12 / peak[1]).toFixed(1) : 'n/a',
        });
      }
      xs.t0.dispose();
      xs.t6.dispose();
      A.dispose();
    }
    CB.dispose();
    SCB.dispose();
  }
  printTable(`int8 on ${name} (times include the host-side call and stream sync)`, rows);
  const rows4 = run4bit(shapes, ms, peak);
  printTable(`4-bit matmul on ${name} (NF4, blocksize 64, float16 activations; times include the call and stream sync)`, rows4);
  writeResults('cuda', { device: name, peaks: peak ? { int8Tops: peak[1], dramGBs: peak[2] } : null, rows, rows4 }, args);
}

function run4bit(shapes: [number, number][], ms: number[], peak: [RegExp, number, number] | undefined): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  for (const [K, N] of shapes) {
    const W = Tensor.from(randn(N * K, N + K), [N, K], 'float32').to('cuda');
    for (const nested of [false, true]) {
      const [packed, state] = quantize4bit(W, { quantType: 'nf4', blocksize: 64, compressStatistics: nested });
      const blocks = (N * K) / 64;
      const scaleBytes = nested ? blocks + (blocks / 256) * 4 : blocks * 4;
      for (const M of ms) {
        const x = Tensor.from(randn(M * K, M), [M, K], 'float32').toDType('float16').to('cuda');
        const bytes = (N * K) / 2 + scaleBytes + 2 * M * K + 2 * M * N;
        const t = timeIt(() => matmul4bit(x, packed, state).dispose(), { minTimeMs: 300, warmup: 3 });
        const s = t.medianMs / 1e3;
        rows.push({
          op: `matmul4bit nf4${nested ? ' dq' : ''}`, shape: `${K}x${N}`, M, 'median µs': +(t.medianMs * 1e3).toFixed(1),
          'GB/s': +(bytes / s / 1e9).toFixed(1), '% DRAM': peak ? +((100 * bytes) / s / 1e9 / peak[2]).toFixed(1) : 'n/a',
        });
        x.dispose();
      }
      packed.dispose();
      state.dispose();
    }
    W.dispose();
  }
  return rows;
}
