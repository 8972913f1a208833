// The environment variables of README "Configuration", each read once when the addon loads, so
// each case runs in a child process: LOWBIT_CPU_ISA picks the kernel path (same bytes on every
// path), LOWBIT_NUM_THREADS the worker count, LOWBIT_SPIN_US how long idle workers spin (seen
// as CPU time burnt while the process sleeps: 0 burns none, a long budget burns some).
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { describe, expect, it, vi } from 'vitest';

import { backendInfo } from '../../lib/index.js';
import { warnRetiredEnv } from '../../lib/backend/native.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// Loads the addon the suite uses, runs a threaded op, reports what the addon says about itself.
const CHILD = `
const root = ${JSON.stringify(ROOT)};
const addon = process.env.LOWBIT_ADDON_PATH ? require(process.env.LOWBIT_ADDON_PATH) : require(require.resolve('node-gyp-build', { paths: [root] }))(root);
const n = 1 << 20;
const input = new Float32Array(n);
for (let i = 0; i < n; i++) input[i] = Math.sin(i * 0.37) * (1 + (i % 97));
const code = new Float32Array(256);
for (let i = 0; i < 256; i++) code[i] = (i - 127.5) / 127.5;
const out = new Uint8Array(n), absmax = new Float32Array(n / 64);
addon.cpu.quantizeBlockwise({ input, dtype: 0, n, blocksize: 64, code, out, absmax });
const hash = require('node:crypto').createHash('sha256').update(out).update(new Uint8Array(absmax.buffer)).digest('hex');
const c0 = process.cpuUsage();
const until = Date.now() + Number(process.env.SLEEP_MS || 0);
setTimeout(() => {
  const c = process.cpuUsage(c0);
  const info = addon.backendInfo().cpu;
  console.log(JSON.stringify({ isa: info.isa, threads: info.threads, hash, idleCpuMs: (c.user + c.system) / 1000 }));
}, Math.max(0, until - Date.now()));
`;

interface ChildReport { isa: string; threads: number; hash: string; idleCpuMs: number }

function child(env: Record<string, string>, sleepMs = 0): ChildReport {
  const clean = { ...process.env };
  for (const k of ['LOWBIT_CPU_ISA', 'LOWBIT_NUM_THREADS', 'LOWBIT_SPIN_US']) delete clean[k];
  const r = spawnSync(process.execPath, ['-e', CHILD], { env: { ...clean, ...env, SLEEP_MS: String(sleepMs) }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildReport;
}

const cpu = backendInfo().cpu;
// The path this process chose by itself (nothing here calls setCpuIsa); with LOWBIT_CPU_ISA set
// for the whole run, fall back to the best of the three vector levels.
const best = process.env.LOWBIT_CPU_ISA === undefined ? cpu.isa : cpu.avx512 ? 'avx512' : cpu.avx2 ? 'avx2' : 'scalar';

describe('environment variables (read when the addon loads)', () => {
  it('LOWBIT_CPU_ISA selects each available path, same bytes on all; unknown names keep the best', () => {
    const auto = child({});
    expect(auto.isa).toBe(best);
    const names = ['scalar', ...(cpu.avx2 ? ['avx2'] : []), ...(cpu.avx512 ? ['avx512'] : [])];
    for (const isa of names) {
      const r = child({ LOWBIT_CPU_ISA: isa });
      expect(r.isa).toBe(isa);
      expect(r.hash, isa).toBe(auto.hash);
    }
    expect(child({ LOWBIT_CPU_ISA: 'sse9' }).isa).toBe(best);
  });

  it('LOWBIT_NUM_THREADS sets the worker count (same bytes); 0 or junk falls back to the core count', () => {
    const one = child({ LOWBIT_NUM_THREADS: '1' });
    expect(one.threads).toBe(1);
    const three = child({ LOWBIT_NUM_THREADS: '3' });
    expect(three.threads).toBe(3);
    expect(three.hash).toBe(one.hash);
    expect(child({ LOWBIT_NUM_THREADS: '0' }).threads).toBe(Math.min(cpus().length, 256));
    expect(child({ LOWBIT_NUM_THREADS: 'many' }).threads).toBe(Math.min(cpus().length, 256));
  });

  it('LOWBIT_SPIN_US: 0 leaves idle workers asleep, a long budget keeps them spinning', () => {
    // After the threaded op the process sleeps 400 ms. With a 1 s budget at least one worker
    // spins the whole time (even on a loaded 2-core machine it gets well over 20 ms of CPU);
    // with 0 the workers sleep at once and the process burns next to nothing (timers only).
    const asleep = child({ LOWBIT_SPIN_US: '0', LOWBIT_NUM_THREADS: '2' }, 400);
    const spinning = child({ LOWBIT_SPIN_US: '1000000', LOWBIT_NUM_THREADS: '2' }, 400);
    expect(asleep.hash).toBe(spinning.hash);
    expect(asleep.idleCpuMs).toBeLessThan(20);
    expect(spinning.idleCpuMs).toBeGreaterThan(20);
  });
});

describe('retired variables', () => {
  it('LOWBIT_INT8_VNNI is no longer read: a deprecation warning names its replacement (LOWBIT_CPU_ISA)', () => {
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      warnRetiredEnv({});
      expect(spy).not.toHaveBeenCalled();
      warnRetiredEnv({ LOWBIT_INT8_VNNI: '0' });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(String(spy.mock.calls[0]![0])).toMatch(/LOWBIT_INT8_VNNI is no longer read.*LOWBIT_CPU_ISA=avx2/);
      expect(spy.mock.calls[0]![1]).toMatchObject({ type: 'DeprecationWarning', code: 'LOWBIT_DEP_INT8_VNNI' });
    } finally {
      spy.mockRestore();
    }
  });
});
