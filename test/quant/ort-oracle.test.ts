// Independent oracle: onnxruntime-node's com.microsoft MatMulBnb4 (bitsandbytes NF4/FP4 layout,
// its own dequantization and MLAS SGEMM) on the very same packed bytes and absmax.
import { describe, expect, it } from 'vitest';
import { Tensor, matmul4bit, quantize4bit } from '../../lib/index.js';
import { buildSingleNodeModel, createSession, runOnce } from '../../bench/ort.js';
import { randn, refMatmulT } from '../reference/quant-ref.js';

async function ortBnb4(x: Float32Array, packed: Uint8Array, absmax: Float32Array, M: number, N: number, K: number, bs: number, quantType: number): Promise<Float32Array> {
  const model = buildSingleNodeModel({
    opType: 'MatMulBnb4',
    domain: 'com.microsoft',
    attributes: { K, N, block_size: bs, quant_type: quantType },
    inputs: [
      { name: 'A', type: 'float32', dims: [M, K] },
      { name: 'B', type: 'uint8', dims: [packed.length] },
      { name: 'absmax', type: 'float32', dims: [absmax.length] },
    ],
    outputs: [{ name: 'Y', type: 'float32', dims: [M, N] }],
  });
  const session = await createSession(model, 1);
  const out = await runOnce(session, {
    A: { type: 'float32', data: x, dims: [M, K] },
    B: { type: 'uint8', data: packed, dims: [packed.length] },
    absmax: { type: 'float32', data: absmax, dims: [absmax.length] },
  });
  await session.release();
  return out.Y!.data as Float32Array;
}

describe('matmul4bit agrees with onnxruntime MatMulBnb4 on the same packed weights', () => {
  const cases: [number, number, number, number][] = [
    // M, N, K, blocksize: square-ish, odd N, K not a multiple of the block (blocks straddle rows), odd N*K
    [1, 64, 128, 64],
    [3, 37, 256, 32],
    [8, 100, 512, 128],
    [2, 45, 1024, 256],
    [5, 29, 100, 64],
    [4, 7, 33, 32],
    [2, 16, 2048, 256], // MatMulBnb4 supports block sizes 16..256 only
  ];
  for (const [M, N, K, bs] of cases) {
    for (const [qt, code] of [['nf4', 1], ['fp4', 0]] as const) {
      it(`${qt} M ${M} N ${N} K ${K} blocksize ${bs}`, async () => {
        const w = randn(N * K, N * 3 + K).map((v) => v / Math.sqrt(K));
        const x = randn(M * K, M + K * 5);
        const [packed, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: bs });
        const ours = matmul4bit(Tensor.from(x, [M, K]), packed, st).data as Float32Array;
        const theirs = await ortBnb4(x, (packed.data as Uint8Array).slice(), st.absmax.data as Float32Array, M, N, K, bs, code);
        expect(theirs.length).toBe(M * N);
        // Both are float32 sums of the same products in different orders: allow K ulp-scale error
        // relative to sum |x w|, where w is the dequantized weight (bounded by |w| <= absmax).
        const wAbs = new Float32Array(N * K);
        for (let i = 0; i < N * K; i++) wAbs[i] = (st.absmax.data as Float32Array)[Math.floor(i / bs)]!;
        const scale = refMatmulT(x.map(Math.abs), wAbs, M, N, K);
        let worst = 0;
        for (let i = 0; i < M * N; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!) / (scale[i]! * K * 2 ** -24 + 1e-30));
        expect(worst).toBeLessThan(1);
        // and the comparison is not vacuous: the outputs are far from zero
        expect(Math.max(...Array.from(theirs, Math.abs))).toBeGreaterThan(0.1);
      });
    }
  }
});
