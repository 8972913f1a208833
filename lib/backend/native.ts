/**
 * The typed contract of the native addon and its loader.
 *
 * The addon is found by node-gyp-build (prebuilds/<platform>-<arch>/ or build/Release/),
 * or taken from LOWBIT_ADDON_PATH when set (used to test other build flavours). Loading
 * never touches the CUDA driver: CUDA is probed lazily by backendInfo().
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LowbitError } from '../errors.js';

/** An opaque CUDA allocation owned by exactly one JS object. */
export interface DeviceBuffer {
  readonly bytes: number;
  readonly device: number;
  readonly disposed: boolean;
  dispose(): void;
}

export interface NativeCudaDevice {
  index: number;
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
}

/** CPU kernel paths, lowest first; each level runs the kernels of the one below where it has none. */
export type CpuIsa = 'scalar' | 'avx2' | 'avx512' | 'amx' | 'amx-emulated';

export interface NativeBackendInfo {
  cpu: {
    available: true;
    avx2: boolean;
    avx512: boolean;
    /** AMX-TILE + AMX-INT8 usable by this process (CPUID, OS tile state, Linux permission). */
    amx: boolean;
    /** Why `amx` is false ('' when it is true). */
    amxReason: string;
    isa: CpuIsa;
    /** The AVX-512 VNNI tiles of the int8 GEMM run (the CPU has VNNI and the ISA is 'avx512' or above). */
    int8Vnni: boolean;
    /** The tile layout Linear8bitLt keeps its int8 weight in for M >= 8 ('row-major': none kept). */
    int8WeightLayout: 'amx' | 'vnni' | 'row-major';
    /** How the int8 GEMM's AMX tiles run now: on the hardware, on their C++ twins, or not at all. */
    int8Amx: 'hardware' | 'emulated' | 'off';
    threads: number;
  };
  cuda: {
    flavor: 'none' | 'cuda' | 'emulated';
    available: boolean;
    reason: string;
    runtimeVersion?: number;
    driverVersion?: number;
    devices?: NativeCudaDevice[];
  };
}

/**
 * The native ops, as registered by native/binding/bind_*.cc: every one takes one options
 * object and has an `<op>Async` twin returning a Promise. test/core/backend.test.ts checks
 * these lists against the loaded addon, so the contract cannot drift silently.
 */
export const CPU_OPS = [
  'convert',
  'quantize4bit',
  'dequantize4bit',
  'quantizeBlockwise',
  'dequantizeBlockwise',
  'nestAbsmax',
  'denestAbsmax',
  'gemm4bit',
  'int8VectorwiseQuant',
  'int8LinearMatmul',
  'int8MmDequant',
  'int8MixedScaledMm',
  'int8LinearForward',
  'int8PackWeight',
] as const;

/** Ops with a CUDA kernel (registered only in builds with CUDA, real or emulated). */
export const CUDA_OPS = [
  'quantize4bit',
  'dequantize4bit',
  'quantizeBlockwise',
  'dequantizeBlockwise',
  'nestAbsmax',
  'denestAbsmax',
  'int8VectorwiseQuant',
  'int8LinearMatmul',
  'int8MmDequant',
  'int8MixedScaledMm',
  'int8LinearForward',
  'gemm4bit',
] as const;

export type CpuOpName = (typeof CPU_OPS)[number];
export type CudaOpName = (typeof CUDA_OPS)[number];

export type NativeOp = (options: Record<string, unknown>) => void;
export type NativeAsyncOp = (options: Record<string, unknown>) => Promise<void>;

export interface NativeCudaMemory {
  alloc(options: { device: number; bytes: number }): DeviceBuffer;
  copyHostToDevice(options: { dst: DeviceBuffer; src: ArrayBufferView; bytes: number }): void;
  copyDeviceToHost(options: { dst: ArrayBufferView; src: DeviceBuffer; bytes: number }): void;
  copyDeviceToDevice(options: { dst: DeviceBuffer; src: DeviceBuffer; bytes: number }): void;
  synchronize(options: { device: number }): void;
  /** Null, or why the CUDA kernels cannot run `op` on `shape` (its numeric options). */
  supports(op: string, shape: Record<string, number>): string | null;
  /**
   * The device's lowbit stream (every CUDA op runs there): whether it exists yet, whether it has
   * no pending work, (emulated flavour only; null on real CUDA) how many kernels ran on it
   * and on the legacy default stream, and the bytes of the device's cached workspace.
   */
  streamInfo(options: { device: number }): {
    created: boolean;
    idle: boolean;
    launches: number | null;
    legacyLaunches: number | null;
    workspaceBytes: number;
  };
}

export interface NativeAddon {
  readonly buildInfo: { cudaFlavor: 'none' | 'cuda' | 'emulated'; avx2Kernels: boolean; napiVersion: number };
  constants(): { nf4: Float32Array; fp4: Float32Array; dynamicMap: Float32Array };
  backendInfo(probeCuda?: boolean): NativeBackendInfo;
  setNumThreads(n: number): number;
  /** Best GB/s over `repeats` parallel streaming reads of `buffer` (benchmarks' DRAM reference). */
  measureReadBandwidth(buffer: Uint8Array, repeats: number): number;
  setCpuIsa(name: 'auto' | CpuIsa): CpuIsa;
  /**
   * The int8 weight layout the active ISA's GEMM reads from `minRows` activation rows on
   * (0 row-major, 1 VNNI, 2 AMX) and the bytes of an [N, K] weight packed in it.
   */
  int8WeightLayout(options: { N: number; K: number }): { layout: number; name: string; bytes: number; minRows: number };
  setErrorConstructor(ctor: typeof LowbitError): void;
  readonly DeviceBuffer: abstract new (...args: never[]) => DeviceBuffer;
  readonly cpu: Record<string, NativeOp | NativeAsyncOp>;
  readonly cuda: Record<string, NativeOp | NativeAsyncOp> & NativeCudaMemory;
}

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lowbit') return dir;
      } catch {
        /* keep walking up */
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new LowbitError('Cannot find the lowbit package root (package.json)', 'LOWBIT_E_NATIVE');
    dir = parent;
  }
}

let cached: NativeAddon | null = null;

/** LOWBIT_INT8_VNNI (a second switch beside the ISA ladder) is no longer read: one warning at load. */
export function warnRetiredEnv(env: NodeJS.ProcessEnv = process.env): void {
  if (env.LOWBIT_INT8_VNNI === undefined) return;
  process.emitWarning(
    'LOWBIT_INT8_VNNI is no longer read: the VNNI int8 kernels follow the ISA ladder. Use LOWBIT_CPU_ISA=avx2 ' +
      '(or setCpuIsa("avx2")) for the int8 GEMM without VNNI; this also turns off the other AVX-512 kernels.',
    { type: 'DeprecationWarning', code: 'LOWBIT_DEP_INT8_VNNI' },
  );
}

/** Loads (once) and returns the native addon. */
export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let addon: NativeAddon;
  const override = process.env.LOWBIT_ADDON_PATH;
  try {
    if (override) {
      addon = require(resolve(override)) as NativeAddon;
    } else {
      const load = require('node-gyp-build') as (dir: string) => unknown;
      addon = load(packageRoot()) as NativeAddon;
    }
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    // The prebuilt binary needs glibc >= 2.34; on an older system the install script builds from
    // source, but an install with --ignore-scripts lands here.
    const glibcHint = /GLIBC_[0-9.]+' not found/.test(why)
      ? 'The prebuilt binary needs glibc >= 2.34 (this system has an older one): rebuild from source with ' +
        '`LOWBIT_FORCE_BUILD=1 npm rebuild lowbit`.\n'
      : '';
    throw new LowbitError(
      `Could not load the lowbit native addon${override ? ` from LOWBIT_ADDON_PATH=${override}` : ''}: ${why}\n` +
        glibcHint +
        'Build it with `npm install` (or `npx cmake-js compile`) in the lowbit package folder; ' +
        'it needs cmake >= 3.18 and a C++17 compiler, and uses nvcc when one is on PATH.',
      'LOWBIT_E_NATIVE',
    );
  }
  addon.setErrorConstructor(LowbitError);
  warnRetiredEnv();
  cached = addon;
  return addon;
}
