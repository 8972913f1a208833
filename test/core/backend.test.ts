import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { LowbitError, Tensor, backendFor, backendInfo, setCpuIsa, setNumThreads } from '../../lib/index.js';
import { CPU_OPS, CUDA_OPS, nativeAddon } from '../../lib/backend/native.js';

const flavor = nativeAddon().buildInfo.cudaFlavor;

describe('backend reporting', () => {
  it('always reports the CPU backend', () => {
    const info = backendInfo();
    expect(info.cpu.available).toBe(true);
    expect(['amx', 'avx512', 'avx2', 'scalar']).toContain(info.cpu.isa);
    if (info.cpu.avx512) expect(info.cpu.avx2).toBe(true); // each level includes the one below
    expect(info.cpu.threads).toBeGreaterThanOrEqual(1);
  });

  it.runIf(flavor !== 'emulated')('on a machine without a usable GPU, says exactly why CUDA is unavailable', ({ skip }) => {
    const info = backendInfo();
    skip(info.cuda.available, 'a usable GPU is present: there is no reason to explain');
    expect(info.defaultDevice).toBe('cpu');
    expect(info.cuda.reason.length).toBeGreaterThan(0);
    if (flavor === 'none') expect(info.cuda.reason).toBe('built without CUDA');
    else expect(info.cuda.reason).toMatch(/no NVIDIA driver|driver too old|no CUDA device|initialisation failed/);
  });

  it.runIf(flavor !== 'emulated')('refuses cuda tensors with a device error that carries the reason', ({ skip }) => {
    skip(backendInfo().cuda.available, 'a usable GPU is present: cuda tensors are accepted');
    let err: unknown;
    try {
      Tensor.from(new Float32Array(4)).to('cuda');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LowbitError);
    expect((err as LowbitError).code).toBe('LOWBIT_E_DEVICE');
    expect((err as LowbitError).message).toContain(backendInfo().cuda.reason);
    expect(() => backendFor('cuda:0')).toThrow(LowbitError);
  });

  it('LOWBIT_DEVICE=cpu forces the CPU without probing CUDA', () => {
    const saved = process.env.LOWBIT_DEVICE;
    process.env.LOWBIT_DEVICE = 'cpu';
    try {
      const info = backendInfo();
      expect(info.defaultDevice).toBe('cpu');
      expect(info.cuda.available).toBe(false);
      expect(info.cuda.reason).toBe('disabled by LOWBIT_DEVICE=cpu (CUDA was not probed)');
      expect(() => Tensor.from(new Float32Array(2)).to('cuda')).toThrow(/disabled by LOWBIT_DEVICE=cpu/);
    } finally {
      if (saved === undefined) delete process.env.LOWBIT_DEVICE;
      else process.env.LOWBIT_DEVICE = saved;
    }
  });

  it('a missing addon gives an error that says how to build it', async () => {
    const saved = process.env.LOWBIT_ADDON_PATH;
    process.env.LOWBIT_ADDON_PATH = '/nonexistent/lowbit.node';
    vi.resetModules();
    try {
      const fresh = await import('../../lib/backend/native.js');
      let err: unknown;
      try {
        fresh.nativeAddon();
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code).toBe('LOWBIT_E_NATIVE');
      expect((err as Error).message).toMatch(/LOWBIT_ADDON_PATH=\/nonexistent\/lowbit.node/);
      expect((err as Error).message).toMatch(/npm install/);
    } finally {
      if (saved === undefined) delete process.env.LOWBIT_ADDON_PATH;
      else process.env.LOWBIT_ADDON_PATH = saved;
      vi.resetModules();
    }
  });

  it('measures the read bandwidth the benchmarks compare against (a positive rate; typed errors)', () => {
    const addon = nativeAddon();
    const gbs = addon.measureReadBandwidth(new Uint8Array(4 << 20).fill(1), 2);
    expect(Number.isFinite(gbs) && gbs > 0).toBe(true);
    expect(() => addon.measureReadBandwidth(new Uint8Array(16), 0)).toThrow(LowbitError);
    expect(() => (addon.measureReadBandwidth as (...a: unknown[]) => number)('x', 1)).toThrow(/Uint8Array, repeats/);
  });

  it('validates thread counts and CPU paths', () => {
    expect(() => setNumThreads(-1)).toThrow(/integer in \[0, 256\]/);
    expect(setNumThreads(1)).toBe(1);
    expect(setNumThreads(0)).toBeGreaterThanOrEqual(1);
    expect(setCpuIsa('scalar')).toBe('scalar');
    const cpu = backendInfo().cpu;
    if (cpu.avx2) expect(setCpuIsa('avx2')).toBe('avx2');
    if (cpu.avx512) expect(setCpuIsa('avx512')).toBe('avx512');
    else expect(() => setCpuIsa('avx512')).toThrow(/avx512 also AVX512F\+AVX512VL/);
    expect(setCpuIsa('auto')).toBe(cpu.amx ? 'amx' : cpu.avx512 ? 'avx512' : cpu.avx2 ? 'avx2' : 'scalar');
    expect(() => setCpuIsa('sse9' as never)).toThrow(/Expected 'auto', 'scalar', 'avx2', 'avx512', 'amx', 'amx-emulated'/);
  });
});

describe('native boundary re-checks (the addon called directly never crashes)', () => {
  const addon = nativeAddon();
  const cases: [string, () => unknown, string, RegExp][] = [
    ['no options object', () => (addon.cpu.convert as (o?: unknown) => void)(), 'LOWBIT_E_ARGUMENT', /options object/],
    ['short source buffer', () => addon.cpu.convert!({ src: new Float32Array(2), dst: new Uint16Array(4), srcDtype: 0, dstDtype: 1, n: 4 }), 'LOWBIT_E_SHAPE', /at least 16 bytes for `src`/],
    ['non-integer count', () => addon.cpu.convert!({ src: new Float32Array(2), dst: new Uint16Array(2), srcDtype: 0, dstDtype: 1, n: 1.5 }), 'LOWBIT_E_ARGUMENT', /integer/],
    ['unknown dtype code', () => addon.cpu.convert!({ src: new Float32Array(2), dst: new Uint16Array(2), srcDtype: 9, dstDtype: 1, n: 2 }), 'LOWBIT_E_ARGUMENT', /srcDtype/],
    ['integer dtype', () => addon.cpu.convert!({ src: new Int8Array(2), dst: new Uint16Array(2), srcDtype: 3, dstDtype: 1, n: 2 }), 'LOWBIT_E_DTYPE', /int8/],
    ['not a buffer', () => addon.cpu.convert!({ src: [1, 2], dst: new Uint16Array(2), srcDtype: 0, dstDtype: 1, n: 2 }), 'LOWBIT_E_ARGUMENT', /TypedArray/],
    ['direct DeviceBuffer construction', () => new (addon.DeviceBuffer as unknown as new () => unknown)(), 'LOWBIT_E_ARGUMENT', /cannot be constructed directly/],
    ['negative allocation', () => addon.cuda.alloc({ device: 0, bytes: -1 }), 'LOWBIT_E_ARGUMENT', /bytes/],
  ];
  for (const [name, fn, code, msg] of cases) {
    it(`${name} -> ${code}`, () => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LowbitError);
      expect((err as LowbitError).code).toBe(code);
      expect((err as LowbitError).message).toMatch(msg);
    });
  }

  it('async ops reject argument errors synchronously-typed and never queue work', async () => {
    expect(() => addon.cpu.convertAsync!({ src: new Float32Array(1), dst: new Uint16Array(1), srcDtype: 0, dstDtype: 1, n: 2 })).toThrow(LowbitError);
  });
});

describe('the typed contract of the addon', () => {
  const ops = (ns: Record<string, unknown>) => Object.keys(ns).filter((k) => !k.endsWith('Async') && typeof ns[k] === 'function');
  it('registers exactly the CPU ops lib/backend/native.ts declares, each with an Async twin', () => {
    const cpu = nativeAddon().cpu as Record<string, unknown>;
    expect(ops(cpu).sort()).toEqual([...CPU_OPS].sort());
    for (const op of CPU_OPS) expect(typeof cpu[`${op}Async`]).toBe('function');
  });
  it('registers the declared CUDA ops exactly when CUDA is compiled in', () => {
    const cuda = nativeAddon().cuda as Record<string, unknown>;
    const memory = ['alloc', 'copyHostToDevice', 'copyDeviceToHost', 'copyDeviceToDevice', 'synchronize', 'streamInfo', 'supports'];
    const kernels = ops(cuda).filter((k) => !memory.includes(k)).sort();
    expect(kernels).toEqual(flavor === 'none' ? [] : [...CUDA_OPS].sort());
  });
});

describe('numeric constants exported by the addon', () => {
  const sha = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
  it('NF4, FP4 and the dynamic map match the SHA-256 sums of the bitsandbytes spec', () => {
    const c = nativeAddon().constants();
    expect(sha(c.nf4)).toBe('8501941daa1b8a90ad1bbfeb632e5101b5dddbc4bb52d6e55abcfd777e60c06a');
    expect(sha(c.fp4)).toBe('39af60562e49a4f14fa01b864d62e6cbf0693a3ecf51e7861fc54259abb16237');
    expect(sha(c.dynamicMap)).toBe('e732639a65f497b4ad684bb166a4467708255edd5207757de8b8f0c7e1fda89c');
    expect(c.nf4[7]).toBe(0);
    expect(c.dynamicMap[127]).toBe(0);
    expect(Object.is(c.fp4[8], -0)).toBe(true);
  });
});
