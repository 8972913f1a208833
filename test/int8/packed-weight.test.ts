/**
 * Linear8bitLt keeps CB packed once in the tile layout of the int8 GEMM the active ISA runs at
 * M >= 8 (AVX-512 VNNI or AMX, cpu/int8_packed.h). Checked on every ISA of this machine (the AMX
 * tiles on their twins everywhere): the same bits as the independent reference and as the
 * per-call packing of int8LinearForward; the copy is really read (overwriting it changes the
 * output), made once, counted in weightBytes(), remade when setCpuIsa changes the layout, and
 * dropped with the weight. Decode rows (M < 8) never make the copy, but the VNNI decode streams
 * it once a forward of 8 or more rows has made it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Linear8bitLt, LowbitError, Tensor, backendInfo, int8LinearForward, setCpuIsa, setNumThreads } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';
import { linear8bitRef, quantizeWeightRef, randn } from '../reference/int8-ref.js';

type Isa = 'scalar' | 'avx2' | 'avx512' | 'amx' | 'amx-emulated';
const info = backendInfo().cpu;
const ISAS: Isa[] = [
  'scalar',
  ...(info.avx2 ? (['avx2'] as const) : []),
  ...(info.avx512 ? (['avx512'] as const) : []),
  'amx-emulated',
  ...(info.amx ? (['amx'] as const) : []),
];
afterAll(() => {
  setCpuIsa('auto');
  setNumThreads(0);
});

const up = (v: number, a: number) => Math.ceil(v / a) * a;
// The packed sizes the header (cpu/int8_packed.h) promises: N rounded up to 32 weight rows,
// K to the kernel's K step (VNNI 4, AMX 64).
function expectedPackedBytes(layout: string, N: number, K: number): number {
  if (layout === 'vnni') return up(N, 32) * up(K, 4);
  if (layout === 'amx') return up(N, 32) * up(K, 64);
  return 0;
}

// K = 2100: two K chunks (2048 + 52, not a multiple of 4 or 64); N = 203: three weight blocks of
// 96 rows and a partial fourth (not a multiple of 32).
const [N, K] = [203, 2100];
const wv = randn(N * K, 11, 0.05);
const { CB, SCB } = quantizeWeightRef(wv, N, K);
const biasv = randn(N, 12);

function layer(threshold: number): Linear8bitLt {
  const l = new Linear8bitLt(K, N, { threshold, hasFp16Weights: false });
  l.weight.setQuantized(Tensor.from(CB.slice(), [N, K]), Tensor.from(SCB.slice(), [N]));
  l.bias = Tensor.from(biasv.slice(), [N]);
  return l;
}

function input(M: number, seed: number, outliers: boolean): Float32Array {
  const x = randn(M * K, seed);
  if (outliers) [0, 700, K - 1].forEach((k, i) => (x[(i % M) * K + k] = i % 2 ? -9 : 9));
  return x;
}

describe.each(ISAS)('Linear8bitLt with the weight packed once (%s)', (isa) => {
  for (const [M, thr] of [[8, 0], [13, 6], [40, 6]] as const) {
    it(`M=${M} threshold ${thr}: reference bits, per-call packing bits, one pack counted in weightBytes()`, async () => {
      setCpuIsa(isa);
      const l = layer(thr);
      const base = CB.byteLength + SCB.byteLength;
      expect(l.weightBytes()).toBe(base);
      const xv = input(M, 100 + M, thr > 0);
      const x = Tensor.from(xv, [M, K]);
      const ref = linear8bitRef(xv, M, K, CB, SCB, N, { threshold: thr, dtype: 'float32', bias: biasv, biasDtype: 'float32' });
      const first = Array.from(l.forward(x).data);
      expect(first).toEqual(ref.out);
      const layout = backendInfo().cpu.int8WeightLayout;
      expect(l.weightBytes()).toBe(base + expectedPackedBytes(layout, N, K));
      const packed = l.weight.packedWeight(M);
      if (layout === 'row-major') expect(packed).toBeNull();
      // Made once: later forwards (sync and async) reuse the same copy.
      expect(Array.from(l.forward(x).data)).toEqual(first);
      expect(Array.from((await l.forwardAsync(x)).data)).toEqual(first);
      expect(l.weight.packedWeight(M)).toBe(packed);
      // The unpacked op (packs per call) gives the same bits.
      const perCall = int8LinearForward(x, l.weight.CB, l.weight.SCB, { bias: l.bias, threshold: thr });
      expect(Array.from(perCall.out.data)).toEqual(first);
      l.dispose();
      if (packed) expect(packed.data.disposed).toBe(true);
    });
  }

  it('decode rows (M < 8) read CB as it is: no packed copy is made', () => {
    setCpuIsa(isa);
    const l = layer(0);
    const xv = input(3, 7, false);
    const ref = linear8bitRef(xv, 3, K, CB, SCB, N, { threshold: 0, dtype: 'float32', bias: biasv, biasDtype: 'float32' });
    expect(Array.from(l.forward(Tensor.from(xv, [3, K])).data)).toEqual(ref.out);
    expect(l.weightBytes()).toBe(CB.byteLength + SCB.byteLength);
    l.dispose();
  });

  it('after a forward of 8 rows, decode rows (M = 1..7) get the reference bits from the held copy, and make no other', async () => {
    setCpuIsa(isa);
    const layout = backendInfo().cpu.int8WeightLayout;
    for (const thr of [0, 6]) {
      const l = layer(thr);
      l.forward(Tensor.from(input(8, 30, false), [8, K])).dispose();
      const bytes = l.weightBytes();
      expect(bytes).toBe(CB.byteLength + SCB.byteLength + expectedPackedBytes(layout, N, K));
      for (let M = 1; M < 8; M++) {
        const xv = input(M, 40 + M, thr > 0);
        const ref = linear8bitRef(xv, M, K, CB, SCB, N, { threshold: thr, dtype: 'float32', bias: biasv, biasDtype: 'float32' });
        expect(Array.from(l.forward(Tensor.from(xv, [M, K])).data), `M=${M} threshold ${thr}`).toEqual(ref.out);
        expect(Array.from((await l.forwardAsync(Tensor.from(xv, [M, K]))).data), `M=${M} threshold ${thr} async`).toEqual(ref.out);
      }
      expect(l.weightBytes()).toBe(bytes);
      // The VNNI decode streams the copy (zeroing it leaves x · 0 + bias); the AMX decode reads CB.
      if (layout === 'vnni') {
        (l.weight.packedWeight(1)!.data.data as Uint8Array).fill(0x80);
        expect(Array.from(l.forward(Tensor.from(input(1, 50, false), [1, K])).data)).toEqual(Array.from(biasv));
      }
      l.dispose();
    }
  });

  it('forwardAsync packs off the event loop, concurrent calls share one copy, same bits', async () => {
    setCpuIsa(isa);
    const l = layer(6);
    const xv = input(16, 21, true);
    const x = Tensor.from(xv, [16, K]);
    const ref = linear8bitRef(xv, 16, K, CB, SCB, N, { threshold: 6, dtype: 'float32', bias: biasv, biasDtype: 'float32' });
    const [a, b] = await Promise.all([l.forwardAsync(x), l.forwardAsync(x)]);
    expect(Array.from(a.data)).toEqual(ref.out);
    expect(Array.from(b.data)).toEqual(ref.out);
    expect(l.weightBytes()).toBe(CB.byteLength + SCB.byteLength + expectedPackedBytes(backendInfo().cpu.int8WeightLayout, N, K));
    l.dispose();
  });
});

describe('the packed copy follows the weight and the ISA', () => {
  const tiled = ISAS.filter((i) => i === 'avx512' || i === 'amx-emulated' || i === 'amx');

  it('is really what the GEMM reads: overwriting it changes the output (then a new weight drops it)', () => {
    for (const isa of tiled) {
      setCpuIsa(isa);
      if (backendInfo().cpu.int8WeightLayout === 'row-major') continue; // avx512 without VNNI
      const l = layer(0);
      const x = Tensor.from(input(8, 3, false), [8, K]);
      const good = Array.from(l.forward(x).data);
      const packed = l.weight.packedWeight(8)!;
      // VNNI stores u8 = w + 128: 0x80 everywhere is weight 0; AMX stores int8: 0 is weight 0.
      (packed.data.data as Uint8Array).fill(backendInfo().cpu.int8WeightLayout === 'vnni' ? 0x80 : 0);
      const zeroW = Array.from(l.forward(x).data);
      expect(zeroW).not.toEqual(good);
      expect(zeroW.slice(0, N)).toEqual(Array.from(biasv)); // x · 0 + bias
      // setQuantized installs a new weight: the stale copy is dropped and disposed.
      l.weight.setQuantized(Tensor.from(CB.slice(), [N, K]), Tensor.from(SCB.slice(), [N]));
      expect(packed.data.disposed).toBe(true);
      expect(Array.from(l.forward(x).data)).toEqual(good);
      l.dispose();
    }
  });

  it('a CB replaced while a packing is in flight: every forwardAsync reads the CB current when it runs', async () => {
    for (const isa of tiled) {
      setCpuIsa(isa);
      if (backendInfo().cpu.int8WeightLayout === 'row-major') continue;
      const l = layer(0);
      const x = Tensor.from(input(8, 13, false), [8, K]);
      // The new weight: CB negated (every code stays in [-127, 127]).
      const negCB = CB.map((v) => -v);
      const first = l.forwardAsync(x), second = l.forwardAsync(x); // both wait on one packing of the old CB
      l.weight.setQuantized(Tensor.from(negCB.slice(), [N, K]), Tensor.from(SCB.slice(), [N]));
      const third = l.forwardAsync(x);
      const want = linear8bitRef(input(8, 13, false), 8, K, negCB, SCB, N, { threshold: 0, dtype: 'float32', bias: biasv, biasDtype: 'float32' }).out;
      for (const [i, y] of (await Promise.all([first, second, third])).entries()) expect(Array.from(y.data), `${isa} call ${i}`).toEqual(want);
      expect(Array.from(l.forward(x).data), isa).toEqual(want);
      l.dispose();
    }
  });

  it('setCpuIsa to a GEMM with another layout repacks (or drops the copy), with the same bits', () => {
    const l = layer(6);
    const xv = input(24, 5, true);
    const x = Tensor.from(xv, [24, K]);
    const ref = linear8bitRef(xv, 24, K, CB, SCB, N, { threshold: 6, dtype: 'float32', bias: biasv, biasDtype: 'float32' });
    for (const isa of [...ISAS, ...ISAS.slice().reverse()]) {
      setCpuIsa(isa);
      expect(Array.from(l.forward(x).data), isa).toEqual(ref.out);
      const layout = backendInfo().cpu.int8WeightLayout;
      expect(l.weightBytes(), isa).toBe(CB.byteLength + SCB.byteLength + expectedPackedBytes(layout, N, K));
    }
    l.dispose();
  });

  it('the native op checks the packed operand against its layout and size', () => {
    setCpuIsa('amx-emulated');
    const addon = nativeAddon();
    const args = (packed: Uint8Array, packedLayout: number) => ({
      x: new Float32Array(8 * 64), xDtype: 0, cb: new Int8Array(40 * 64), scb: new Float32Array(40).fill(1), M: 8, N: 40, K: 64,
      threshold: 0, bnbCompat: false, out: new Float32Array(8 * 40), packed, packedLayout,
    });
    const amxBytes = addon.int8WeightLayout({ N: 40, K: 64 }).bytes;
    expect(amxBytes).toBe(expectedPackedBytes('amx', 40, 64));
    expect(() => addon.cpu.int8LinearForward!(args(new Uint8Array(amxBytes - 1), 2))).toThrow(LowbitError);
    expect(() => addon.cpu.int8LinearForward!(args(new Uint8Array(amxBytes), 3))).toThrow(LowbitError);
    expect(() => addon.cpu.int8PackWeight!({ cb: new Int8Array(40 * 64), N: 40, K: 64, layout: 2, out: new Uint8Array(16) })).toThrow(LowbitError);
    setCpuIsa('auto');
    // Without VNNI (auto picks the best level) the 'vnni' layout cannot be packed: a clear error, not a crash.
    if (!backendInfo().cpu.int8Vnni) {
      expect(() => addon.cpu.int8PackWeight!({ cb: new Int8Array(64), N: 1, K: 64, layout: 1, out: new Uint8Array(4096) })).toThrow(/VNNI/);
    }
  });
});
