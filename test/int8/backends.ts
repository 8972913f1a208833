/**
 * The backends every int8 parity spec runs on: the CPU at every kernel path this machine has
 * (scalar; AVX2; AVX-512, with the VNNI tiles where the CPU has VNNI; the AMX tiles, on their twins
 * everywhere)
 * and CUDA when a device is usable (in
 * CI: the emulated-CUDA addon, LOWBIT_ADDON_PATH=build-emuaddon/...; on a GPU machine: the real
 * one). The CPU scalar path is the oracle the others must match bit for bit.
 */
import { Tensor, backendInfo, setCpuIsa } from '../../lib/index.js';

export interface Int8Backend {
  readonly name: string;
  readonly device: 'cpu' | 'cuda:0';
  /** Selects this backend's kernel path (CPU ISA); call before every op. */
  use(): void;
}

function cpuPath(name: string, isa: 'scalar' | 'avx2' | 'avx512' | 'amx' | 'amx-emulated'): Int8Backend {
  return {
    name,
    device: 'cpu',
    use() {
      setCpuIsa(isa);
    },
  };
}

export const ORACLE: Int8Backend = cpuPath('cpu scalar', 'scalar');

export function int8Backends(): Int8Backend[] {
  const info = backendInfo();
  const list: Int8Backend[] = [ORACLE];
  if (info.cpu.avx2) list.push(cpuPath('cpu avx2', 'avx2'));
  if (info.cpu.avx512) list.push(cpuPath('cpu avx512', 'avx512'));
  // The AMX-INT8 tiles (M >= 8) on their C++ twins everywhere, and on the tiles where the CPU has them.
  list.push(cpuPath('cpu amx-emulated', 'amx-emulated'));
  if (info.cpu.amx) list.push(cpuPath('cpu amx', 'amx'));
  if (info.cuda.available) {
    list.push({
      name: `cuda (${info.cuda.flavor})`,
      device: 'cuda:0',
      use() {
        setCpuIsa('auto');
      },
    });
  }
  return list;
}

export function restoreDefaults(): void {
  setCpuIsa('auto');
}

/** `t` on the backend's device (a copy when it is not already there). */
export function onBackend(be: Int8Backend, t: Tensor): Tensor {
  return t.device === be.device ? t : t.to(be.device);
}

/** The bytes of a tensor, wherever it lives. */
export function bytesOf(t: Tensor): Buffer {
  const a = t.device === 'cpu' ? t.toTypedArray() : t.to('cpu').toTypedArray();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
