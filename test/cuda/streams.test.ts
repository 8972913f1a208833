// CUDA ops run on the device's lowbit stream (lowbit/cuda_api.h: device_stream), not on the legacy
// default stream and not with a device-wide sync: several forwardAsync calls in flight at once on
// Linear8bitLt and LinearNF4 layers give the bits of the same calls run one at a time, and (where
// the addon can count, the emulated flavour) every kernel went on the lowbit stream and none is
// left pending when an op returns. The emulator queues a created stream's work until something
// waits for it (test/emu/simt/host_api.cc), so an op that synchronised another stream would leave
// work pending and fail the `idle` checks below; the C++ twin of this check covers every launcher
// (simt_test::stream_contract_violation). Skipped where no CUDA backend is usable.
import { describe, expect, it } from 'vitest';

import { Linear8bitLt, LinearNF4, Tensor, backendInfo, type FloatDType } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';
import { encode, randn } from '../reference/int8-ref.js';
import { bytesOf } from '../int8/backends.js';

const cudaAvailable = backendInfo().cuda.available;

function floatTensor(shape: number[], dtype: FloatDType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = randn(n, seed, 1.2);
  for (let i = 0; i < n; i += 37) v[i] = 7.5; // outliers for threshold 6
  return Tensor.from(encode(dtype, v), shape, dtype);
}

function streamInfo() {
  return nativeAddon().cuda.streamInfo({ device: 0 });
}

describe.skipIf(!cudaAvailable)('CUDA ops on the per-device lowbit stream', () => {
  const layers = () => {
    // A layer owns the tensors handed to it: one weight and bias each.
    const W = () => floatTensor([24, 64], 'float32', 1);
    const bias = () => floatTensor([24], 'float32', 2);
    return [
      ['Linear8bitLt threshold 0', Linear8bitLt.fromFloat(W(), bias(), { hasFp16Weights: false, threshold: 0 }).to('cuda')],
      ['Linear8bitLt threshold 6', Linear8bitLt.fromFloat(W(), bias(), { hasFp16Weights: false, threshold: 6 }).to('cuda')],
      ['LinearNF4', LinearNF4.fromFloat(W(), bias()).to('cuda')],
    ] as const;
  };

  it('concurrent forwardAsync calls give the bits of the same calls run one at a time', async () => {
    for (const [name, layer] of layers()) {
      const inputs = [1, 3, 5, 2, 7, 4].map((rows, i) => floatTensor([rows, 64], i % 2 ? 'float16' : 'float32', 10 + i).to('cuda'));
      const sequential = inputs.map((x) => bytesOf(layer.forward(x)));
      const concurrent = await Promise.all(inputs.map((x) => layer.forwardAsync(x)));
      concurrent.forEach((out, i) => {
        expect(out.device, `${name} #${i}`).toBe('cuda:0');
        expect(bytesOf(out).equals(sequential[i]!), `${name} #${i}: concurrent bytes differ from sequential`).toBe(true);
      });
      // Several rounds interleaved with sync calls: still the same bits.
      const mixed = await Promise.all(inputs.map((x, i) => (i % 2 ? Promise.resolve(layer.forward(x)) : layer.forwardAsync(x))));
      mixed.forEach((out, i) => expect(bytesOf(out).equals(sequential[i]!), `${name} mixed #${i}`).toBe(true));
      layer.dispose();
    }
  });

  it('the ops launch on the lowbit stream, never on the legacy stream, and leave it idle', async () => {
    const before = streamInfo();
    if (before.launches === null) return; // real CUDA cannot count launches per stream; the emulated flavour can
    for (const [name, layer] of layers()) {
      const x = floatTensor([3, 64], 'float32', 20).to('cuda');
      const s0 = streamInfo();
      const sync = layer.forward(x);
      const s1 = streamInfo();
      expect(s1.created, name).toBe(true);
      expect(s1.launches! - s0.launches!, `${name}: kernels on the lowbit stream`).toBeGreaterThan(0);
      expect(s1.legacyLaunches, `${name}: kernels on the legacy stream`).toBe(s0.legacyLaunches);
      expect(s1.idle, `${name}: work left pending after forward`).toBe(true);
      const out = await layer.forwardAsync(x);
      const s2 = streamInfo();
      expect(s2.launches! - s1.launches!, `${name}: async kernels on the lowbit stream`).toBeGreaterThan(0);
      expect(s2.legacyLaunches, `${name}: async kernels on the legacy stream`).toBe(s0.legacyLaunches);
      expect(s2.idle, `${name}: work left pending after forwardAsync`).toBe(true);
      expect(bytesOf(out).equals(bytesOf(sync)), name).toBe(true);
      layer.dispose();
    }
  });
  it("keeps one workspace per device between calls, grown in 1 MiB steps only when a call needs more", () => {
    // Linear8bitLt's fused forward takes a workspace holding the int8 activations [M, K] (and the
    // outlier mask and row statistics): about 4 KiB at M = 1, past 1 MiB at M = 300 with K = 4096.
    const MiB = 2 ** 20;
    const layer = Linear8bitLt.fromFloat(floatTensor([8, 4096], 'float32', 3), null, { hasFp16Weights: false, threshold: 6 }).to('cuda');
    const x1 = floatTensor([1, 4096], 'float16', 4).to('cuda');
    const first = bytesOf(layer.forward(x1));
    const held = streamInfo().workspaceBytes;
    expect(held).toBeGreaterThan(0);
    expect(held % MiB).toBe(0);
    for (let i = 0; i < 4; i++) expect(bytesOf(layer.forward(x1)).equals(first), `call ${i}`).toBe(true);
    expect(streamInfo().workspaceBytes, 'the same calls reuse the workspace').toBe(held);
    const x300 = floatTensor([300, 4096], 'float16', 5).to('cuda');
    layer.forward(x300);
    const grown = streamInfo().workspaceBytes;
    expect(grown, 'a call needing more than it holds grows it').toBeGreaterThan(Math.max(held, 300 * 4096));
    expect(grown % MiB).toBe(0);
    // Back to a small call: it keeps the larger buffer, and a reused (dirty) workspace changes no bit.
    expect(bytesOf(layer.forward(x1)).equals(first)).toBe(true);
    expect(streamInfo().workspaceBytes).toBe(grown);
    layer.dispose();
  });
});
