// Shared helpers of the quant tests: run a body under every CPU kernel path this machine has.
import { setCpuIsa, backendInfo, type CpuIsa } from '../../lib/index.js';

export const HAS_AVX2 = backendInfo().cpu.avx2;
export const HAS_AVX512 = backendInfo().cpu.avx512;
export const ISAS: CpuIsa[] = HAS_AVX512 ? ['scalar', 'avx2', 'avx512'] : HAS_AVX2 ? ['scalar', 'avx2'] : ['scalar'];

export function withIsa<T>(isa: CpuIsa | 'auto', fn: () => T): T {
  setCpuIsa(isa);
  try {
    return fn();
  } finally {
    setCpuIsa('auto');
  }
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function hex(a: ArrayBufferView): string {
  return Buffer.from(bytesOf(a)).toString('hex');
}
