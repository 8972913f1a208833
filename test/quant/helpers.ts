// Shared helpers of the quant tests: run a body under both CPU kernel paths.
import { setCpuIsa, backendInfo } from '../../lib/index.js';

export const HAS_AVX2 = backendInfo().cpu.avx2;
export const ISAS: ('scalar' | 'avx2')[] = HAS_AVX2 ? ['scalar', 'avx2'] : ['scalar'];

export function withIsa<T>(isa: 'scalar' | 'avx2' | 'auto', fn: () => T): T {
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
