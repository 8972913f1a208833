/**
 * lowbit quantizing a real model the way transformers + bitsandbytes did: the 35 linear weights of
 * stories260K-hf, quantized by lowbit (NF4, blocksize 64, double quantization), against the
 * checkpoint bitsandbytes wrote (stories260K-nf4-dq), and lowbit's LLM.int8() weights against
 * stories260K-int8.
 */
import { describe, expect, it } from 'vitest';
import { BnbCheckpoint, Linear8bitLt, linear4bitToStateDict, Linear4bit } from '../../lib/index.js';
import { BNB_DIR, SKIP_MESSAGE, differingBytes, hasBnbData } from './golden.js';

const MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

describe.skipIf(!hasBnbData)('quantizing stories260K like transformers + bitsandbytes', () => {
  if (!hasBnbData) {
    console.warn(SKIP_MESSAGE);
    return;
  }

  it('NF4 + double quant: packed weights byte-identical in all 35 layers; the saved state dicts too where the offset (torch mean) agrees', () => {
    const hf = BnbCheckpoint.open(`${BNB_DIR}/stories260K-hf`);
    const nf4 = BnbCheckpoint.open(`${BNB_DIR}/stories260K-nf4-dq`);
    let layers = 0, packedBytes = 0, identicalDicts = 0, offsetsEqual = 0, scaleCodes = 0, scaleCodeDiffs = 0;
    try {
      for (let l = 0; l < 5; l++) {
        for (const m of MODULES) {
          const prefix = `model.layers.${l}.${m}.`;
          const W = hf.tensor(`${prefix}weight`);
          const layer = Linear4bit.fromFloat(W, null, { quantType: 'nf4', blocksize: 64, compressStatistics: true, bias: false });
          const ours = linear4bitToStateDict(layer, prefix);
          expect(differingBytes(ours[`${prefix}weight`]!.data, nf4.tensor(`${prefix}weight`).data)).toBe(0);
          packedBytes += ours[`${prefix}weight`]!.byteLength;
          const theirsJson = JSON.parse(new TextDecoder().decode(nf4.tensor(`${prefix}weight.quant_state.bitsandbytes__nf4`).data as Uint8Array));
          const sameOffset = Math.fround(theirsJson.nested_offset) === layer.weight.quantState.offset;
          if (sameOffset) offsetsEqual++;
          const differing = Object.keys(ours).filter((k) => !Buffer.from(ours[k]!.data.buffer, ours[k]!.data.byteOffset, ours[k]!.byteLength).equals(Buffer.from(nf4.tensor(k).data.buffer, nf4.tensor(k).data.byteOffset, nf4.tensor(k).byteLength)));
          if (differing.length === 0) identicalDicts++;
          // Where the offset agrees, only the scale codes can differ, by one code: bitsandbytes' CPU
          // picks them through its 65,536-bin lookup table, lowbit (as CUDA) the exact nearest code.
          if (sameOffset) {
            expect(differing.filter((k) => k !== `${prefix}weight.absmax`), prefix).toEqual([]);
            const a = ours[`${prefix}weight.absmax`]!.data as Uint8Array;
            const b = nf4.tensor(`${prefix}weight.absmax`).data as Uint8Array;
            for (let i = 0; i < a.length; i++) {
              if (a[i] === b[i]) continue;
              expect(Math.abs(a[i]! - b[i]!), `${prefix} scale ${i}`).toBe(1);
              scaleCodeDiffs++;
            }
            scaleCodes += a.length;
          }
          layers++;
          layer.dispose();
        }
      }
    } finally {
      hf.close();
      nf4.close();
    }
    console.log(`| stories260K NF4-dq: lowbit quantizing the 35 float weights | 35 | ${packedBytes} packed bytes | 0 | - |\n` +
      `| ... their double-quantized scale codes (layers whose offset agrees) | ${offsetsEqual} | ${scaleCodes} codes | ${scaleCodeDiffs} | bnb CPU's 65,536-bin LUT vs exact nearest, each ±1 code; offset (torch float32 mean() vs correctly rounded) equal in ${offsetsEqual}/35; whole state dicts byte-identical in ${identicalDicts}/35 |`);
    expect(layers).toBe(35);
  });

  it('LLM.int8(): SCB byte-identical in all 35 layers, CB except at exact .5 ties (bnb CPU scales by 127·(1/absmax), two roundings)', () => {
    const hf = BnbCheckpoint.open(`${BNB_DIR}/stories260K-hf`);
    const i8 = BnbCheckpoint.open(`${BNB_DIR}/stories260K-int8`);
    let bytes = 0, ties = 0;
    try {
      for (let l = 0; l < 5; l++) {
        for (const m of MODULES) {
          const prefix = `model.layers.${l}.${m}.`;
          const W = hf.tensor(`${prefix}weight`);
          const layer = Linear8bitLt.fromFloat(W.toDType('float16'), null, { hasFp16Weights: false, threshold: 6 });
          expect(differingBytes(layer.weight.SCB.data, i8.tensor(`${prefix}SCB`).data), prefix).toBe(0);
          const ours = layer.weight.CB.data as Int8Array;
          const theirs = i8.tensor(`${prefix}weight`).data as Int8Array;
          const w = W.toDType('float16').toFloat32Array();
          const scb = layer.weight.SCB.toFloat32Array();
          const K = W.shape[1]!;
          const f = Math.fround;
          for (let i = 0; i < ours.length; i++) {
            if (ours[i] === theirs[i]) continue;
            // The exact product is a .5 tie; lowbit's f32(127/absmax) and bnb's f32(127·f32(1/absmax)) land on its two sides.
            const a = scb[Math.floor(i / K)]!;
            expect(Math.abs((w[i]! * 127) / a) % 1, `${prefix} ${i}`).toBe(0.5);
            const cpu = f(w[i]! * f(127 * f(1 / a)));
            expect(Math.round(cpu), `${prefix} ${i}`).toBe(theirs[i]); // cpu is just off the tie, so rounding is unambiguous
            ties++;
          }
          bytes += layer.weight.CB.byteLength + layer.weight.SCB.byteLength;
          layer.dispose();
        }
      }
    } finally {
      hf.close();
      i8.close();
    }
    console.log(`| stories260K int8: lowbit quantizing the 35 float weights (CB + SCB) | 35 | ${bytes} | ${ties} | exact .5 ties: bnb CPU scales by f32(127·f32(1/absmax)), lowbit (CUDA) by f32(127/absmax) |`);
  });
});
