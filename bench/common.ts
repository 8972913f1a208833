/**
 * Benchmark utilities: timing with warm-up and medians, the machine's measured limits,
 * tables and JSON results. Nothing here is used by tests: performance lives only here.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { execSync } from 'node:child_process';
import { nativeAddon, packageRoot } from '../lib/backend/native.js';

/**
 * Limits of the reference machine kind (2 vCPU AMD EPYC Zen3 KVM guest), measured with a roofline
 * program and recorded in ../shared/design/cpu-anchors.md §0/§3 (medians of 3 runs). The int8
 * bench's "% int8 peak" uses them; the 4-bit bench's "% DRAM" uses measuredReadGBs() instead,
 * the bandwidth of the machine the bench runs on.
 */
export const MACHINE = {
  dramReadGBs: { 1: 19.0, 2: 29.0 } as Record<number, number>,
  fp32PeakGflops: { 1: 99.5, 2: 193.1 } as Record<number, number>,
  int8PeakGops: { 1: 192.9, 2: 382.3 } as Record<number, number>,
  source: 'shared/design/cpu-anchors.md (roofline medians, 2-vCPU AMD EPYC Zen3 KVM guest)',
};

/** The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read). */
export function cpuFlags(): string[] {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return line ? line.split(':')[1]!.trim().split(/\s+/) : [];
  } catch {
    return [];
  }
}

function parseCacheSize(text: string): number {
  const m = /^\s*(\d+)\s*([KMG]?)/i.exec(text);
  if (!m) return 0;
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!.toUpperCase()]!;
}

/**
 * The machine's last-level cache in bytes: the highest cache level in sysfs, summed over its
 * distinct instances (one L3 per socket or per CCX); where sysfs has no cache entries (some VMs),
 * `getconf`'s largest LEVELn_CACHE_SIZE; else 32 MiB. Sizes the benchmarks' weight rotation, so that
 * "weights streamed from DRAM" stays true on a server with hundreds of MB of L3.
 */
export function lastLevelCache(): { bytes: number; source: string } {
  try {
    const base = '/sys/devices/system/cpu';
    let level = 0;
    const instances = new Map<string, number>();
    for (const cpu of readdirSync(base).filter((d) => /^cpu\d+$/.test(d))) {
      const dir = `${base}/${cpu}/cache`;
      if (!existsSync(dir)) continue;
      for (const idx of readdirSync(dir).filter((d) => d.startsWith('index'))) {
        const read = (f: string) => readFileSync(`${dir}/${idx}/${f}`, 'utf8').trim();
        if (read('type') === 'Instruction') continue;
        const l = Number(read('level'));
        const key = `${l}:${existsSync(`${dir}/${idx}/shared_cpu_list`) ? read('shared_cpu_list') : cpu}`;
        if (l > level) { level = l; instances.clear(); }
        if (l === level) instances.set(key, parseCacheSize(read('size')));
      }
    }
    const total = [...instances.values()].reduce((a, b) => a + b, 0);
    if (total > 0) return { bytes: total, source: `sysfs L${level} x ${instances.size}` };
  } catch {
    /* fall through */
  }
  try {
    // glibc's sysconf reads the sizes from CPUID, which VMs without sysfs cache entries still pass on.
    const conf = execSync('getconf -a', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const level of [4, 3, 2]) {
      const m = new RegExp(`^LEVEL${level}_CACHE_SIZE\\s+(\\d+)`, 'm').exec(conf);
      if (m && Number(m[1]) > 0) return { bytes: Number(m[1]), source: `getconf LEVEL${level}_CACHE_SIZE` };
    }
  } catch {
    /* fall through */
  }
  return { bytes: 32 * 1024 ** 2, source: 'default (no cache information found)' };
}

/**
 * Bytes of distinct weights one timed pass must stream so that no copy is still cached when it
 * comes round again: twice the last-level cache, and at least the 160 MiB of cpu-anchors.md's
 * "rot" mode.
 */
export function rotationBytes(): number {
  return Math.max(160 * 1024 * 1024, 2 * lastLevelCache().bytes);
}

/** Copies of a `weightBytes` operand to rotate through: enough for rotationBytes(), at least 2. */
export function rotationCopies(weightBytes: number): number {
  return Math.max(2, Math.ceil(rotationBytes() / weightBytes));
}

/** lowbit's native streaming read probe over 512 MiB at the current thread count: the best GB/s of `passes` timed passes. */
export type ReadProbe = (passes?: number) => number;

/** A read probe with its own 512 MiB buffer, every page touched before the first pass is timed. */
export function readProbe(): ReadProbe {
  const buffer = new Uint8Array(512 << 20);
  buffer.fill(1);
  const addon = nativeAddon();
  return (passes = 1) => addon.measureReadBandwidth(buffer, passes);
}

const measuredRead = new Map<number, number>();
/**
 * This machine's streaming read bandwidth at `threads` threads, GB/s, measured once per run
 * (lowbit's native probe: parallel 32-byte loads over 512 MiB, best of 10). The GEMV rows' "% DRAM"
 * is against this figure; MACHINE.dramReadGBs (the reference box of cpu-anchors.md) is kept in
 * the JSON for comparison.
 */
export function measuredReadGBs(threads: number): number {
  let v = measuredRead.get(threads);
  if (v === undefined) {
    const addon = nativeAddon();
    const before = addon.setNumThreads(threads);
    try {
      v = readProbe()(10);
    } finally {
      addon.setNumThreads(before);
    }
    measuredRead.set(threads, v);
  }
  return v;
}

export interface Timing {
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  iters: number;
}

export interface TimeOptions {
  minTimeMs?: number;
  warmup?: number;
  maxIters?: number;
  minIters?: number;
}

function summarise(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))]!;
  return { medianMs: q(0.5), p10Ms: q(0.1), p90Ms: q(0.9), iters: s.length };
}

export function timeIt(fn: () => unknown, opts: TimeOptions = {}): Timing {
  const { minTimeMs = 500, warmup = 2, maxIters = 60, minIters = 5 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < maxIters && (samples.length < minIters || performance.now() - start < minTimeMs)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return summarise(samples);
}

export async function timeItAsync(fn: () => Promise<unknown>, opts: TimeOptions = {}): Promise<Timing> {
  const { minTimeMs = 500, warmup = 2, maxIters = 60, minIters = 5 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < maxIters && (samples.length < minIters || performance.now() - start < minTimeMs)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarise(samples);
}

/**
 * Idle gap before timing the next contender. onnxruntime's intra-op workers keep spinning for
 * tens of milliseconds after a run (measured here: an M = 32 lowbit GEMM timed right after an
 * onnxruntime run was 25-35 % slower than after a 100 ms pause, and a 30 ms pause was not
 * enough); lowbit's own workers spin for up to 1 ms. Without the gap whoever runs after another
 * library's session shares the cores with its spinning threads.
 */
export const SETTLE_MS = 150;
export function settle(ms = SETTLE_MS): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) {
    console.log('  (no rows)');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c] ?? '').length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  console.log(line(cols));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(cols.map((c) => fmt(r[c] ?? ''))));
}

function gitCommit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/** Writes bench/results/<name>.json with machine information; returns the path. */
/**
 * Writes bench/results/<name>.json; a run restricted by --shapes / --m writes <name>.partial.json
 * instead, so it never replaces the full run's file.
 */
export function writeResults(name: string, payload: unknown, args?: BenchArgs): string {
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const partial = args !== undefined && (args.shapes !== undefined || args.ms !== undefined);
  const path = join(dir, `${name}${partial ? '.partial' : ''}.json`);
  const doc = {
    name,
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, limits: MACHINE,
      isaFlags: cpuFlags().filter((f) => /^(avx2|fma|f16c|avx512\w*|avx_vnni|amx\w*)$/.test(f)),
      lastLevelCache: lastLevelCache(), rotationBytes: rotationBytes(),
      measuredReadGBs: Object.fromEntries(measuredRead),
    },
    results: payload,
  };
  writeFileSync(path, JSON.stringify(doc, null, 2));
  return path;
}

/** Deterministic N(0, 1) samples (mulberry32 + Box-Muller). */
export function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(rand(), 1e-12);
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

export interface BenchArgs {
  quick: boolean;
  threads: number;
  filter?: string;
  /** --shapes 4096x4096,4096x11008: the (K x N) weight shapes of the matmul suites (default: each suite's own). */
  shapes?: [number, number][];
  /** --m 1,32: the activation row counts of the matmul suites (default: each suite's own). */
  ms?: number[];
}

function parseList<T>(flag: string, text: string | undefined, item: (s: string) => T | null): T[] {
  const parts = (text ?? '').split(',').filter((s) => s !== '');
  const out = parts.map(item);
  if (parts.length === 0 || out.some((v) => v === null)) throw new Error(`bench: bad ${flag} value '${text ?? ''}'`);
  return out as T[];
}

/**
 * --quick, --threads N (default: all cores), --filter <substring of a bench name>,
 * --shapes KxN[,KxN...], --m M[,M...].
 */
export function parseArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  const args: BenchArgs = { quick: false, threads: os.cpus().length };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '--filter') args.filter = argv[++i];
    else if (a === '--shapes')
      args.shapes = parseList(a, argv[++i], (s) => {
        const m = /^(\d+)x(\d+)$/.exec(s);
        return m ? [Number(m[1]), Number(m[2])] as [number, number] : null;
      });
    else if (a === '--m') args.ms = parseList(a, argv[++i], (s) => (/^\d+$/.test(s) && Number(s) > 0 ? Number(s) : null));
    else throw new Error(`bench: unknown argument '${a}' (expected --quick, --threads N, --filter NAME, --shapes KxN,..., --m M,...)`);
  }
  return args;
}
