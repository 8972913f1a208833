/**
 * The one backend interface, implemented by the CPU and the CUDA backends.
 *
 * Ops are declared once, natively (native/binding/bind_*.cc register them on the `cpu`
 * and `cuda` namespaces of the addon with the same option names), so a functional op
 * in lib/functional/ builds one options object and runs it on whichever backend owns
 * its tensors. `run` swaps Tensor values for their storage (TypedArray on the CPU,
 * DeviceBuffer on CUDA); native code re-checks every byte length.
 */
import { LowbitError } from '../errors.js';
import { assertCudaUsable, Tensor } from '../core/tensor.js';
import { parseDevice, deviceIndex, type Device, type DeviceLike } from '../core/device.js';
import type { DType } from '../core/dtype.js';
import { nativeAddon, type CpuIsa, type NativeBackendInfo, type NativeOp, type NativeAsyncOp } from './native.js';

export interface Backend {
  readonly kind: 'cpu' | 'cuda';
  readonly device: Device;
  /**
   * Whether this backend implements the native op `op` and, given `shape` (the op's own numeric
   * options: M, N, K, rows, activations, ...), whether its kernels can run that shape.
   */
  supports(op: string, shape?: ShapeParams): boolean;
  /**
   * Throws LOWBIT_E_UNSUPPORTED unless this backend implements `op` and (given `shape`) its
   * kernels accept that shape; the message is the backend's own reason. Ops call it before they
   * allocate their outputs, so an unsupported call allocates nothing on the device. The limits
   * themselves are written once, natively, where the launchers check them (cuda.supports).
   */
  require(op: string, shape?: ShapeParams): void;
  /** Runs `op` synchronously. Tensor values in `args` are passed as their storage. */
  run(op: string, args: Record<string, unknown>): void;
  /** Runs `op` off the event loop (libuv pool); inputs stay alive until it settles. */
  runAsync(op: string, args: Record<string, unknown>): Promise<void>;
  /** Allocates a tensor on this backend's device. */
  empty(shape: readonly number[], dtype: DType): Tensor;
}

/** The numeric options of an op that decide whether a backend's kernels can run it. */
export type ShapeParams = Readonly<Record<string, number>>;

function unwrapArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) out[k] = v instanceof Tensor ? v.storage : v;
  return out;
}

class NativeBackend implements Backend {
  readonly kind: 'cpu' | 'cuda';
  readonly device: Device;

  constructor(device: Device) {
    this.device = device;
    this.kind = device === 'cpu' ? 'cpu' : 'cuda';
  }

  #ops(): Record<string, NativeOp | NativeAsyncOp> {
    const addon = nativeAddon();
    return this.kind === 'cpu' ? addon.cpu : addon.cuda;
  }

  supports(op: string, shape?: ShapeParams): boolean {
    return typeof this.#ops()[op] === 'function' && (shape === undefined || this.#limitReason(op, shape) === null);
  }

  require(op: string, shape?: ShapeParams): void {
    this.#lookup(op);
    const reason = shape === undefined ? null : this.#limitReason(op, shape);
    if (reason !== null) {
      throw new LowbitError(`${reason}; run it on the CPU backend (tensor.to('cpu')) or split the call`, 'LOWBIT_E_UNSUPPORTED');
    }
  }

  // The CPU backend has no limits beyond the shared validators every backend runs; CUDA asks
  // its launchers' own checks (native cuda.supports).
  #limitReason(op: string, shape: ShapeParams): string | null {
    if (this.kind === 'cpu') return null;
    return nativeAddon().cuda.supports(op, { ...shape });
  }

  #lookup(op: string): (options: Record<string, unknown>) => unknown {
    const fn = this.#ops()[op];
    if (typeof fn !== 'function') {
      throw new LowbitError(
        `${op} is not implemented on the ${this.kind} backend of this build` +
          (this.kind === 'cuda' ? "; run it on the CPU backend (tensor.to('cpu'))" : ''),
        'LOWBIT_E_UNSUPPORTED',
      );
    }
    return fn as (options: Record<string, unknown>) => unknown;
  }

  run(op: string, args: Record<string, unknown>): void {
    const fn = this.#lookup(op);
    fn(this.#withDevice(unwrapArgs(args)));
  }

  async runAsync(op: string, args: Record<string, unknown>): Promise<void> {
    const fn = this.#lookup(`${op}Async`);
    await fn(this.#withDevice(unwrapArgs(args)));
  }

  empty(shape: readonly number[], dtype: DType): Tensor {
    return Tensor.empty(shape, dtype, this.device);
  }

  #withDevice(args: Record<string, unknown>): Record<string, unknown> {
    if (this.kind === 'cuda' && args.device === undefined) args.device = deviceIndex(this.device);
    return args;
  }
}

const backends = new Map<Device, Backend>();

/** The backend owning `target` (a device or a tensor's device). */
export function backendFor(target: DeviceLike | Tensor): Backend {
  const device = target instanceof Tensor ? target.device : parseDevice(target, 'backendFor');
  let be = backends.get(device);
  if (!be) {
    assertCudaUsable(device);
    be = new NativeBackend(device);
    backends.set(device, be);
  }
  return be;
}

export interface BackendInfo {
  /** The device layers and tensors use when none is given: 'cuda:0' when usable, else 'cpu'. */
  defaultDevice: Device;
  cpu: NativeBackendInfo['cpu'];
  cuda: NativeBackendInfo['cuda'];
  build: { cudaFlavor: 'none' | 'cuda' | 'emulated'; avx2Kernels: boolean };
}

/**
 * What is available and, when CUDA is not, exactly why ("built without CUDA", "no NVIDIA
 * driver found", "NVIDIA driver too old ...", "no CUDA device visible"). Setting
 * LOWBIT_DEVICE=cpu forces the CPU backend; CUDA is then never probed.
 */
export function backendInfo(): BackendInfo {
  const addon = nativeAddon();
  const forcedCpu = process.env.LOWBIT_DEVICE === 'cpu';
  const info = addon.backendInfo(!forcedCpu);
  return {
    defaultDevice: info.cuda.available ? 'cuda:0' : 'cpu',
    cpu: info.cpu,
    cuda: info.cuda,
    build: { cudaFlavor: addon.buildInfo.cudaFlavor, avx2Kernels: addon.buildInfo.avx2Kernels },
  };
}

/** Sets the CPU backend's thread count (0 restores the default); returns the count in effect. */
export function setNumThreads(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 256) {
    throw new LowbitError(`Expected an integer in [0, 256] for \`n\` in setNumThreads but received ${n}`, 'LOWBIT_E_ARGUMENT');
  }
  return nativeAddon().setNumThreads(n);
}

const CPU_ISAS: readonly CpuIsa[] = ['scalar', 'avx2', 'avx512', 'amx', 'amx-emulated'];

/**
 * Chooses the CPU kernel path: 'auto' (the best the CPU has), 'scalar', 'avx2' (needs
 * AVX2+FMA+F16C), 'avx512' (also AVX512F+AVX512VL; it adds its own kernels where they pay off,
 * the AVX-512 VNNI int8 kernels when the CPU has VNNI, and runs the AVX2 ones elsewhere) or
 * 'amx' (also AMX-TILE+AMX-INT8 enabled by the OS: the int8 GEMM on tiles). 'amx-emulated' runs the AMX kernels on their C++ twins, on any CPU, with the best
 * other level for everything else. Every path gives identical results; this exists for testing
 * and benchmarking. Returns the path now active. This one ladder (also LOWBIT_CPU_ISA) is the only
 * switch: the old LOWBIT_INT8_VNNI is no longer read (use 'avx2' for the int8 GEMM without VNNI).
 */
export function setCpuIsa(isa: 'auto' | CpuIsa): CpuIsa {
  if (isa !== 'auto' && !CPU_ISAS.includes(isa)) {
    throw new LowbitError(
      `Expected 'auto', ${CPU_ISAS.map((i) => `'${i}'`).join(', ')} for \`isa\` in setCpuIsa but received ${String(isa)}`,
      'LOWBIT_E_ARGUMENT',
    );
  }
  return nativeAddon().setCpuIsa(isa);
}
