/**
 * One parity spec for the fused 4-bit matmul (matmul4bit / gemv4bit), run on every backend of
 * test/int8/backends.ts: the CPU at every kernel path (bit-identical to the CPU scalar oracle,
 * the CPU's contract) and CUDA when a device is usable (in CI the emulated-CUDA addon).
 *
 * CUDA sums in its own fixed order (cuda/kernels/gemv_4bit.cuh), so it is held to bounds derived
 * from K and the float32 unit roundoff u = 2^-24, with gamma(n) = n u / (1 - n u) and
 * S = sum_k |x_k w_k| + |bias| (w the dequantized float32 weight, dequantize4bit):
 *   |cuda - cpu|  <= 2 gamma(K + 1) S + ulp_out     (two orders, each within gamma(K + 1) S of the exact sum)
 *   |cuda - f64|  <= gamma(K + 1) S + ulp_out / 2   (f64 = the float64 sum over the same weights)
 * where ulp_out is one unit in the last place of the output dtype at the result (0 for float32:
 * there is no further rounding); CUDA's tensor-core kernels (M >= 2, 16-bit activations) round the
 * weight to the activation dtype and are held to the bounds over that weight (bounds-4bit.ts).
 * Identity and +-1 weights with integer activations have exact
 * sums, so there CUDA must carry exactly the CPU's bits; and CUDA must give the same bits on
 * every run and, where a batch runs the per-row kernel (the CPU; CUDA with float32 activations),
 * the same bits for a row alone as in a batch.
 *
 * Cases: all 54 shapes of M in {1, 2, 7, 16, 17, 130} x K in {64, 100, 4160} x N in {1, 33, 256}.
 * Each shape takes one of the 12 (quant type, double quant, activation dtype) combinations in
 * turn, ordered so that every K meets all 12; the blocksize alternates between one that divides
 * K and one that does not (blocks straddling weight rows; K = 100 has none that divides); bias on
 * every other shape. Taking the combinations in turn keeps the emulated run short (the emulator
 * runs every GPU thread on the CPU) while every value of every axis, and every combination per K,
 * is covered.
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  Tensor,
  dequantize4bit,
  gemv4bit,
  gemv4bitAsync,
  matmul4bit,
  matmul4bitAsync,
  quantize4bit,
  QuantState,
  type FloatDType,
} from '../../lib/index.js';
import { decode, encode, randn } from '../reference/int8-ref.js';
import { countOutOfBounds, tensorCoreWeight, valuesOf } from './bounds-4bit.js';
import { ORACLE, bytesOf, int8Backends, onBackend, restoreDefaults } from '../int8/backends.js';

afterAll(restoreDefaults);

const BACKENDS = int8Backends().filter((b) => b !== ORACLE);
const MS = [1, 2, 7, 16, 17, 130];
const KS = [64, 100, 4160];
const NS = [1, 33, 256];
const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];
const BLOCKSIZES: Record<number, [number, number]> = { 64: [64, 128], 100: [32, 64], 4160: [64, 4096] };

interface Case {
  M: number;
  K: number;
  N: number;
  quantType: 'nf4' | 'fp4';
  nested: boolean;
  dtype: FloatDType;
  blocksize: number;
  bias: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const K of KS) {
    let i = 0;
    for (const M of MS) {
      for (const N of NS) {
        const combo = i % 12;
        out.push({
          M, K, N,
          quantType: combo % 2 ? 'nf4' : 'fp4',
          nested: Math.floor(combo / 2) % 2 === 1,
          dtype: DTYPES[Math.floor(combo / 4)]!,
          blocksize: BLOCKSIZES[K]![i % 2]!,
          bias: i % 2 === 0,
        });
        i++;
      }
    }
  }
  return out;
}

const label = (c: Case): string =>
  `M ${c.M} K ${c.K} N ${c.N} ${c.quantType} bs ${c.blocksize}${c.nested ? ' nested' : ''} ${c.dtype}${c.bias ? ' bias' : ''}`;

interface Inputs {
  x: Tensor;
  xv: number[];
  packed: Tensor;
  state: QuantState;
  w: Float32Array;
  bias: Tensor | null;
  bv: number[] | null;
}

function inputs(c: Case, seed: number, kind: 'random' | 'pm1' | 'identity' = 'random'): Inputs {
  const wv = new Float32Array(c.N * c.K);
  const r = randn(c.N * c.K, seed);
  for (let i = 0; i < wv.length; i++) {
    const n = Math.floor(i / c.K);
    const k = i % c.K;
    wv[i] = kind === 'pm1' ? (r[i]! < 0 ? -1 : 1) : kind === 'identity' ? (n === k ? 1 : 0) : r[i]! * 2 ** ((Math.floor(i / c.blocksize) % 7) - 3);
  }
  const [packed, state] = quantize4bit(Tensor.from(wv, [c.N, c.K], 'float32'), { quantType: c.quantType, blocksize: c.blocksize, compressStatistics: c.nested });
  const xr = randn(c.M * c.K, seed + 1);
  const xs = kind === 'random' ? Array.from(xr) : Array.from(xr, (v) => Math.round(v * 3) + 0); // + 0: no -0 (x * 1 + 0 is +0)
  const x = Tensor.from(encode(c.dtype, xs), [c.M, c.K], c.dtype);
  const xv = decode(c.dtype, encode(c.dtype, xs));
  const bv = c.bias ? decode(c.dtype, encode(c.dtype, Array.from(randn(c.N, seed + 2)))) : null;
  const bias = bv ? Tensor.from(encode(c.dtype, bv), [c.N], c.dtype) : null;
  const w = dequantize4bit(packed, state, { outDtype: 'float32' }).toFloat32Array();
  return { x, xv, packed, state, w, bias, bv };
}


function runOn(device: string, inp: Inputs, oneRow: boolean): Tensor {
  const move = (t: Tensor): Tensor => (t.device === device ? t : t.to(device as 'cpu'));
  const state = device === 'cpu' ? inp.state : cloneStateTo(inp.state, device);
  const x = move(inp.x);
  const y = oneRow ? gemv4bit(x.reshape([x.numel]), move(inp.packed), state, inp.bias ? move(inp.bias) : null) : matmul4bit(x, move(inp.packed), state, inp.bias ? move(inp.bias) : null);
  return y;
}

/** A copy of `state` on `device` (the test keeps the CPU original). */
function cloneStateTo(state: QuantState, device: string): QuantState {
  const s2 = state.state2
    ? new QuantState({ absmax: state.state2.absmax.to(device as 'cpu'), shape: state.state2.shape, dtype: state.state2.dtype, blocksize: state.state2.blocksize, code: state.state2.code, quantType: null })
    : null;
  return new QuantState({
    absmax: state.absmax.to(device as 'cpu'), shape: state.shape, dtype: state.dtype, blocksize: state.blocksize, code: state.code,
    quantType: state.quantType, offset: state.offset, state2: s2,
  });
}

const CASES = cases();
/** Inputs and the oracle's result per case, computed once and shared by every backend. */
const oracle = new Map<number, { inp: Inputs; want: Tensor }>();
function oracleCase(i: number): { inp: Inputs; want: Tensor } {
  let hit = oracle.get(i);
  if (!hit) {
    const inp = inputs(CASES[i]!, 100 + i);
    ORACLE.use();
    hit = { inp, want: runOn('cpu', inp, false) };
    oracle.set(i, hit);
  }
  return hit;
}

for (const be of BACKENDS) {
  describe(`4-bit matmul on ${be.name} against the cpu scalar oracle`, () => {
    for (const K of KS) {
      it(`K = ${K}: its shapes of M x N, all 12 type/double-quant/dtype combinations`, () => {
        for (const [i, c] of CASES.entries()) {
          if (c.K !== K) continue;
          const { inp, want } = oracleCase(i);
          be.use();
          const got = runOn(be.device, inp, false);
          expect(got.dtype, label(c)).toBe(c.dtype);
          expect(got.shape, label(c)).toEqual([c.M, c.N]);
          if (be.device === 'cpu') {
            expect(bytesOf(got).equals(bytesOf(want)), `${label(c)}: bytes differ from the scalar path`).toBe(true);
          } else {
            const errors: string[] = [];
            const wr = tensorCoreWeight(c.M, c.dtype, inp.packed, inp.state);
            expect(countOutOfBounds({ ...c, ...inp, wr }, valuesOf(got), valuesOf(want), errors), `${label(c)}: ${errors.join('; ')}`).toBe(0);
          }
        }
      });
    }

    it('identity and +-1 weights (integer activations) carry exactly the oracle bits, every dtype and type', () => {
      for (const dtype of DTYPES) {
        for (const quantType of ['nf4', 'fp4'] as const) {
          for (const nested of [false, true]) {
            const pm: Case = { M: 3, K: 4160, N: 33, quantType, nested, dtype, blocksize: 4096, bias: false };
            const id: Case = { M: 2, K: 100, N: 100, quantType, nested, dtype, blocksize: 64, bias: false };
            // Identity only without double quantization: an all-zero block is stored as code 0 with
            // absmax 0, and its nested rebuild is not 0, so its weights are not zeros there.
            const kinds = nested ? ([[pm, 'pm1']] as const) : ([[pm, 'pm1'], [id, 'identity']] as const);
            for (const [c, kind] of kinds) {
              const inp = inputs(c, 7, kind);
              ORACLE.use();
              const want = runOn('cpu', inp, false);
              be.use();
              const got = runOn(be.device, inp, false);
              expect(bytesOf(got).equals(bytesOf(want)), `${kind} ${label(c)}`).toBe(true);
              if (kind === 'identity') expect(bytesOf(got).equals(bytesOf(inp.x)), `identity gives x: ${label(c)}`).toBe(true);
            }
          }
        }
      }
    });

    // On CUDA a bfloat16 batch runs the tensor-core kernel and a row alone the GEMV (different
    // orders, cuda/kernels/gemm_4bit.md), so there the row-alone bits are checked with float32
    // activations, whose batches run the GEMV per row.
    const rowDtypes: FloatDType[] = be.device === 'cpu' ? ['bfloat16'] : ['bfloat16', 'float32'];
    const rowsToo = (dtype: FloatDType): boolean => be.device === 'cpu' || dtype === 'float32';
    for (const dtype of rowDtypes) {
      it(`${dtype}: same bits on every run, sync and async${rowsToo(dtype) ? ', for a row alone (gemv4bit) and in a batch' : ''}`, async () => {
        be.use();
        const c: Case = { M: 7, K: 4160, N: 33, quantType: 'nf4', nested: true, dtype, blocksize: 4096, bias: true };
        const inp = inputs(c, 3);
        const first = runOn(be.device, inp, false);
        expect(bytesOf(runOn(be.device, inp, false)).equals(bytesOf(first))).toBe(true);
        const state = be.device === 'cpu' ? inp.state : cloneStateTo(inp.state, be.device);
        const dev = (t: Tensor): Tensor => onBackend(be, t);
        const batchAsync = await matmul4bitAsync(dev(inp.x), dev(inp.packed), state, dev(inp.bias!));
        expect(bytesOf(batchAsync).equals(bytesOf(first))).toBe(true);
        if (!rowsToo(dtype)) return;
        const rowBytes = c.N * (dtype === 'float32' ? 4 : 2);
        for (let m = 0; m < c.M; m++) {
          const row = Tensor.from(encode(c.dtype, inp.xv.slice(m * c.K, (m + 1) * c.K)), [c.K], c.dtype);
          const y = m % 2 ? gemv4bit(dev(row), dev(inp.packed), state, dev(inp.bias!)) : await gemv4bitAsync(dev(row), dev(inp.packed), state, dev(inp.bias!));
          expect(bytesOf(y).equals(bytesOf(first).subarray(m * rowBytes, (m + 1) * rowBytes)), `row ${m}`).toBe(true);
        }
      });
    }
  });
}
