/**
 * `out`: the layers' forward / forwardAsync and the fused functional ops write into a tensor the
 * caller owns instead of allocating one (ForwardOptions.out, Matmul4bitOptions.out,
 * Int8LinearForwardOptions.out). The result must be that tensor, hold exactly the bits of the
 * allocating call (which the numerics specs check against references), overwrite every element
 * (no stale values, no accumulation into what was there), and every misuse must be a typed error
 * that leaves `out` untouched. Runs on the CPU and, when a CUDA device is usable (CI: the
 * emulated-CUDA addon), on cuda:0.
 */
import { describe, expect, it } from 'vitest';
import {
  Linear8bitLt, LinearNF4, Tensor, backendInfo, int8LinearForward, matmul4bit, type Device, type FloatDType,
} from '../../lib/index.js';
import { expectLowbitError } from '../helpers/errors.js';
import { bytesOf } from '../int8/backends.js';
import { encode, randn } from '../reference/int8-ref.js';

const DEVICES: Device[] = ['cpu', ...(backendInfo().cuda.available ? (['cuda:0'] as Device[]) : [])];
const IN = 128, OUT = 96;

function floats(shape: number[], seed: number, dtype: FloatDType = 'float32', device: Device = 'cpu', scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.from(encode(dtype, randn(n, seed, scale)), shape, dtype);
  return device === 'cpu' ? t : t.to(device);
}

/** A tensor of `shape` whose every element is NaN (float dtypes) on `device`: any element not written stays NaN. */
function poisoned(shape: number[], dtype: FloatDType, device: Device): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.from(encode(dtype, new Float32Array(n).fill(Number.NaN)), shape, dtype);
  return device === 'cpu' ? t : t.to(device);
}

function expectSameBits(a: Tensor, b: Tensor, what: string): void {
  expect(a.shape, what).toEqual(b.shape);
  expect(a.dtype, what).toBe(b.dtype);
  expect(bytesOf(a).equals(bytesOf(b)), `${what}: bytes differ`).toBe(true);
}

function nf4Layer(device: Device, opts: { activations?: 'float32' | 'int8'; computeDtype?: FloatDType } = {}): LinearNF4 {
  const layer = LinearNF4.fromFloat(floats([OUT, IN], 1, 'float32', 'cpu', 0.1), floats([OUT], 2), opts);
  return device === 'cpu' ? layer : layer.to(device);
}

function int8Layer(device: Device, threshold: number): Linear8bitLt {
  const layer = Linear8bitLt.fromFloat(floats([OUT, IN], 3, 'float32', 'cpu', 0.1), floats([OUT], 4), { threshold, hasFp16Weights: false });
  return device === 'cpu' ? layer : layer.to(device);
}

/** Activations with a few columns past the outlier threshold 6 (the mixed-precision path). */
function withOutliers(rows: number, seed: number, device: Device): Tensor {
  const x = randn(rows * IN, seed);
  for (let r = 0; r < rows; r++) x[r * IN + 5] = 9;
  x[IN - 3] = -7.5;
  const t = Tensor.from(x, [rows, IN]);
  return device === 'cpu' ? t : t.to(device);
}

type Layer = { forward(x: Tensor, o?: { out?: Tensor | null }): Tensor; forwardAsync(x: Tensor, o?: { out?: Tensor | null }): Promise<Tensor> };

for (const device of DEVICES) {
  type Case = [string, () => Layer, (rows: number, seed: number) => Tensor];
  // The int8 activation mode is CPU-only.
  const cpuOnly: Case[] = device === 'cpu'
    ? [['LinearNF4 int8 activations', () => nf4Layer(device, { activations: 'int8' }), (r, s) => floats([r, IN], s, 'float32', device)]]
    : [];
  const layers: Case[] = [
    ['LinearNF4 float32 activations', () => nf4Layer(device), (r, s) => floats([r, IN], s, 'float32', device)],
    ...cpuOnly,
    ['LinearNF4 bfloat16 input', () => nf4Layer(device), (r, s) => floats([r, IN], s, 'bfloat16', device)],
    ['Linear8bitLt threshold 0', () => int8Layer(device, 0), (r, s) => floats([r, IN], s, 'float32', device)],
    ['Linear8bitLt threshold 6 (outliers)', () => int8Layer(device, 6), (r, s) => withOutliers(r, s, device)],
  ];

  describe(`forward into out on ${device}`, () => {
    for (const [name, make, input] of layers) {
      it(`${name}: returns out, every element written, the allocating forward's bits, token after token`, async () => {
        const layer = make();
        for (const rows of [1, 3]) {
          const x0 = input(rows, 10 + rows);
          const out = poisoned([rows, OUT], x0.dtype as FloatDType, device);
          for (let token = 0; token < 3; token++) {
            const x = token === 0 ? x0 : input(rows, 20 + token);
            const y = layer.forward(x, { out });
            expect(y).toBe(out);
            expectSameBits(out, layer.forward(x), `${name}, ${rows} rows, token ${token}`);
          }
          const x = input(rows, 30);
          expect(await layer.forwardAsync(x, { out })).toBe(out);
          expectSameBits(out, await layer.forwardAsync(x), `${name}, ${rows} rows, forwardAsync`);
          // null and undefined mean "allocate", as without options.
          expect(layer.forward(x, { out: null })).not.toBe(out);
        }
      });
    }

    it('the product rounded through a narrower compute dtype (bfloat16 for float32 input) lands in out', async () => {
      const layer = nf4Layer(device, { computeDtype: 'bfloat16' });
      const x = floats([2, IN], 40, 'float32', device);
      const out = poisoned([2, OUT], 'float32', device);
      expect(layer.forward(x, { out })).toBe(out);
      expectSameBits(out, layer.forward(x), 'compute bfloat16');
      const again = poisoned([2, OUT], 'float32', device);
      expect(await layer.forwardAsync(x, { out: again })).toBe(again);
      expectSameBits(again, layer.forward(x), 'compute bfloat16, forwardAsync');
      expectLowbitError(() => layer.forward(x, { out: poisoned([2, OUT], 'bfloat16', device) }), 'LOWBIT_E_DTYPE', /`out` of dtype float32/);
    });

    it('matmul4bit and int8LinearForward take out too', () => {
      const nf4 = nf4Layer(device);
      const x = floats([2, IN], 50, 'float32', device);
      const out = poisoned([2, OUT], 'float32', device);
      expect(matmul4bit(x, nf4.weight.data, nf4.weight.quantState, nf4.bias, { out })).toBe(out);
      expectSameBits(out, matmul4bit(x, nf4.weight.data, nf4.weight.quantState, nf4.bias), 'matmul4bit');
      const i8 = int8Layer(device, 6);
      const xo = withOutliers(2, 51, device);
      const r = int8LinearForward(xo, i8.weight.CB, i8.weight.SCB, { threshold: 6, out });
      expect(r.out).toBe(out);
      const fresh = int8LinearForward(xo, i8.weight.CB, i8.weight.SCB, { threshold: 6 });
      expect(r.outlierColumns).toBe(fresh.outlierColumns);
      expect(r.outlierColumns).toBe(2);
      expectSameBits(out, fresh.out, 'int8LinearForward');
      expect(int8LinearForward(x, i8.weight.CB, i8.weight.SCB, { out }).outlierColumns).toBe(0);
    });

    it('a wrong out is a typed error that names the problem and leaves out untouched', () => {
      for (const layer of [nf4Layer(device), int8Layer(device, 0)] as Layer[]) {
        const x = floats([2, IN], 60, 'float32', device);
        const check = (out: unknown, code: Parameters<typeof expectLowbitError>[1], message: RegExp) => {
          const before = out instanceof Tensor && !out.disposed ? bytesOf(out) : null;
          expectLowbitError(() => layer.forward(x, { out: out as Tensor }), code, message);
          if (before) expect(bytesOf(out as Tensor).equals(before)).toBe(true);
        };
        check(poisoned([2, OUT + 1], 'float32', device), 'LOWBIT_E_SHAPE', /`out` of shape \[2, 96\]/);
        check(poisoned([2 * OUT], 'float32', device), 'LOWBIT_E_SHAPE', /received \[192\]/);
        check(poisoned([2, OUT], 'float16', device), 'LOWBIT_E_DTYPE', /dtype float32/);
        check(new Float32Array(2 * OUT), 'LOWBIT_E_ARGUMENT', /Expected a Tensor for `out`/);
        const gone = poisoned([2, OUT], 'float32', device);
        gone.dispose();
        check(gone, 'LOWBIT_E_DISPOSED', /`out`.*was disposed/);
        if (device !== 'cpu') check(poisoned([2, OUT], 'float32', 'cpu'), 'LOWBIT_E_DEVICE', /`out` on cuda:0/);
      }
    });
  });
}

describe('out may not share memory with what the op reads', () => {
  const square = () => LinearNF4.fromFloat(floats([IN, IN], 70, 'float32', 'cpu', 0.1), floats([IN], 71));

  it('x itself, a view of x, or an overlapping slice of its buffer: LOWBIT_E_ARGUMENT', () => {
    for (const layer of [square(), Linear8bitLt.fromFloat(floats([IN, IN], 72, 'float32', 'cpu', 0.1), null)] as Layer[]) {
      const buf = new Float32Array(3 * IN).fill(0.5);
      const x = Tensor.from(buf.subarray(0, 2 * IN), [2, IN]);
      expectLowbitError(() => layer.forward(x, { out: x }), 'LOWBIT_E_ARGUMENT', /shares memory with `(x|A)`/);
      expectLowbitError(() => layer.forward(x, { out: x.reshape([2, IN]) }), 'LOWBIT_E_ARGUMENT', /shares memory with `(x|A)`/);
      // Overlaps x's second row by one row: still refused.
      const overlapping = Tensor.from(buf.subarray(IN, 3 * IN), [2, IN]);
      expectLowbitError(() => layer.forward(x, { out: overlapping }), 'LOWBIT_E_ARGUMENT', /shares memory with `(x|A)`/);
      expect(Array.from(buf).every((v) => v === 0.5)).toBe(true);
    }
  });

  it('the bias: LOWBIT_E_ARGUMENT', () => {
    const layer = square();
    const x = floats([1, IN], 73);
    expectLowbitError(() => layer.forward(x, { out: layer.bias!.reshape([1, IN]) }), 'LOWBIT_E_ARGUMENT', /shares memory with `bias`/);
  });

  it('separate ranges of one buffer are fine', () => {
    const layer = square();
    const buf = new Float32Array(2 * IN);
    buf.set(randn(IN, 74));
    const x = Tensor.from(buf.subarray(0, IN), [1, IN]);
    const out = Tensor.from(buf.subarray(IN), [1, IN]);
    expect(layer.forward(x, { out })).toBe(out);
    expectSameBits(out, layer.forward(Tensor.from(buf.slice(0, IN), [1, IN])), 'adjacent ranges');
  });
});
