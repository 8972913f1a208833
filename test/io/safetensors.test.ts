import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LowbitError,
  SafetensorsCheckpoint,
  Tensor,
  openSafetensors,
  openSafetensorsAsync,
  readSafetensors,
  readSafetensorsAsync,
  safetensorInt64Values,
  safetensorToTensor,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsTensor,
} from '../../lib/index.js';
import { expectLowbitError } from '../helpers/errors.js';
import { BNB_DIR, hasBnbData } from './golden.js';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const enc = new TextEncoder();

/** A safetensors file assembled by hand from a header string and data bytes (independent of the writer). */
function handMade(header: string, data: number[] | Uint8Array, declaredLength?: bigint): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

describe('safetensors reader', () => {
  it('reads a hand-assembled file with every dtype, a 0-dim and an empty tensor', () => {
    const f32 = new Float32Array([1.5, -2]);
    const i64 = new BigInt64Array([-3n, 2n ** 40n]);
    const parts: [string, string, number[], Uint8Array][] = [
      ['a_f32', 'F32', [2], bytesOf(f32)],
      ['b_f16', 'F16', [1], new Uint8Array([0x00, 0x3c])], // 1.0
      ['c_bf16', 'BF16', [1], new Uint8Array([0xc0, 0x3f])], // 1.5
      ['d_i8', 'I8', [2], new Uint8Array([0xff, 0x7f])],
      ['e_u8', 'U8', [], new Uint8Array([7])],
      ['f_i32', 'I32', [1, 1], bytesOf(new Int32Array([-123456]))],
      ['g_i64', 'I64', [2], bytesOf(i64)],
      ['h_bool', 'BOOL', [3], new Uint8Array([1, 0, 1])],
      ['i_empty', 'F32', [0, 4], new Uint8Array(0)],
    ];
    let off = 0;
    const hdr: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    const data: number[] = [];
    for (const [n, d, s, b] of parts) {
      hdr[n] = { dtype: d, shape: s, data_offsets: [off, off + b.length] };
      off += b.length;
      data.push(...b);
    }
    const file = handMade(JSON.stringify(hdr), data);
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect(Object.keys(tensors)).toEqual(parts.map((p) => p[0]));
    expect(Array.from(safetensorToTensor(tensors.a_f32!).toFloat32Array())).toEqual([1.5, -2]);
    expect(Array.from(safetensorToTensor(tensors.b_f16!).toFloat32Array())).toEqual([1]);
    expect(Array.from(safetensorToTensor(tensors.c_bf16!).toFloat32Array())).toEqual([1.5]);
    expect(Array.from(safetensorToTensor(tensors.d_i8!).data)).toEqual([-1, 127]);
    const u8 = safetensorToTensor(tensors.e_u8!);
    expect(u8.shape).toEqual([]);
    expect(Array.from(u8.data)).toEqual([7]);
    expect(Array.from(safetensorToTensor(tensors.f_i32!).data)).toEqual([-123456]);
    expect(Array.from(safetensorInt64Values(tensors.g_i64!))).toEqual([-3n, 2n ** 40n]);
    expect(Array.from(tensors.h_bool!.data)).toEqual([1, 0, 1]);
    expect(tensors.i_empty!.shape).toEqual([0, 4]);
    expectLowbitError(() => safetensorToTensor(tensors.g_i64!, 'g_i64'), 'LOWBIT_E_DTYPE', /I64/);
    expectLowbitError(() => safetensorToTensor(tensors.h_bool!, 'h_bool'), 'LOWBIT_E_DTYPE', /BOOL/);
  });

  it('writes the layout of the reference writer: dtype order then name, metadata first, header padded to 8 with spaces', () => {
    const bytes = serializeSafetensors({ z: Tensor.from(new Uint8Array([9]), [], 'uint8'), a: Tensor.from(new Float32Array([2])), m: Tensor.from(new Uint16Array([0x3c00]), [1], 'float16') }, { format: 'pt' });
    const header = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"m":{"dtype":"F16","shape":[1],"data_offsets":[4,6]},"z":{"dtype":"U8","shape":[],"data_offsets":[6,7]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    const expected = handMade(padded, [0, 0, 0, 0x40, 0x00, 0x3c, 9]);
    expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
  });

  it('round-trips through a file and reads each tensor at its offset', () => {
    const p = join(dir, 'rt.safetensors');
    const w = Tensor.from(new Float32Array(Array.from({ length: 300 }, (_, i) => i / 7)), [3, 100]);
    const odd = { dtype: 'U8' as const, shape: [3], data: new Uint8Array([1, 2, 3]) };
    const i64: SafetensorsTensor = { dtype: 'I64', shape: [], data: bytesOf(new BigInt64Array([5n])) };
    writeSafetensors(p, { w, odd, i64 }, { note: 'x' });
    const r = openSafetensors(p);
    try {
      expect(r.keys()).toEqual(['i64', 'w', 'odd']); // I64 before F32 before U8, as the reference writer
      expect(r.entry('w')).toMatchObject({ dtype: 'F32', shape: [3, 100] });
      const back = safetensorToTensor(r.read('w'));
      expect(Array.from(back.toFloat32Array())).toEqual(Array.from(w.toFloat32Array()));
      expect(Array.from(r.read('odd').data)).toEqual([1, 2, 3]);
      expect(Array.from(safetensorInt64Values(r.read('i64')))).toEqual([5n]);
      expect(r.metadata).toEqual({ note: 'x' });
      expectLowbitError(() => r.read('nope'), 'LOWBIT_E_ARGUMENT', /nope/);
    } finally {
      r.close();
    }
    const all = readSafetensors(p);
    expect(Buffer.from(serializeSafetensors(all.tensors, all.metadata)).equals(readFileSync(p))).toBe(true);
  });

  it('async reads (libuv pool) give the same tensors', async () => {
    const p = join(dir, 'async.safetensors');
    writeSafetensors(p, { w: Tensor.from(new Float32Array([1, -2, 3]), [3]), b: { dtype: 'BOOL', shape: [], data: new Uint8Array([1]) } }, { k: 'v' });
    const a = await readSafetensorsAsync(p);
    expect(a).toEqual(readSafetensors(p));
    const r = await openSafetensorsAsync(p);
    try {
      expect(Array.from((await r.readAsync('w')).data)).toEqual(Array.from(r.read('w').data));
    } finally {
      r.close();
    }
    await expect(r.readAsync('w')).rejects.toMatchObject({ code: 'LOWBIT_E_DISPOSED' });
    await expect(readSafetensorsAsync(join(dir, 'missing.safetensors'))).rejects.toMatchObject({ code: 'LOWBIT_E_ARGUMENT' });
  });

  it('rejects bad writer input with typed errors', () => {
    expectLowbitError(() => serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Uint8Array(4) } }), 'LOWBIT_E_SHAPE', /needs 8 bytes/);
    expectLowbitError(() => serializeSafetensors({ x: { dtype: 'F64' as never, shape: [1], data: new Uint8Array(8) } }), 'LOWBIT_E_ARGUMENT');
    expectLowbitError(() => serializeSafetensors({ __metadata__: Tensor.from(new Float32Array(1)) }), 'LOWBIT_E_ARGUMENT', /reserved/);
    expectLowbitError(() => serializeSafetensors({}, { a: 1 as never }), 'LOWBIT_E_ARGUMENT', /metadata/);
  });

  it('opens sharded checkpoints through model.safetensors.index.json', () => {
    const d = mkdtempSync(join(dir, 'shards-'));
    writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), { a: Tensor.from(new Float32Array([1, 2])) });
    writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), { b: Tensor.from(new Int8Array([-4])) });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 9 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
    const ck = SafetensorsCheckpoint.open(d);
    try {
      expect(ck.keys().sort()).toEqual(['a', 'b']);
      expect(Array.from(ck.tensor('a').toFloat32Array())).toEqual([1, 2]);
      expect(Array.from(ck.tensor('b').data)).toEqual([-4]);
    } finally {
      ck.close();
    }
    writeFileSync(join(d, 'bad.index.json'), JSON.stringify({ weight_map: { a: 'model-00002-of-00002.safetensors' } }));
    expectLowbitError(() => SafetensorsCheckpoint.open(join(d, 'bad.index.json')), 'LOWBIT_E_FORMAT', /has no such tensor/);
    writeFileSync(join(d, 'escape.index.json'), JSON.stringify({ weight_map: { a: '../x.safetensors' } }));
    expectLowbitError(() => SafetensorsCheckpoint.open(join(d, 'escape.index.json')), 'LOWBIT_E_FORMAT', /shard file name/);
    expectLowbitError(() => SafetensorsCheckpoint.open(join(d, 'nothing-here')), 'LOWBIT_E_ARGUMENT');
  });
});

describe('safetensors: malformed files', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, Uint8Array, RegExp][] = [
    ['a header longer than the file', handMade(ok, new Uint8Array(8), 10_000n), /exceeds/],
    ['a file shorter than 8 bytes', new Uint8Array([1, 0, 0]), /fewer than the 8-byte/],
    ['a huge header length', handMade(ok, new Uint8Array(8), 2n ** 63n), /exceeds/],
    ['offsets past the data', handMade('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}', new Uint8Array(8)), /outside/],
    ['begin after end', handMade('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', new Uint8Array(8)), /outside/],
    ['overlapping tensors', handMade('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)), /overlaps/],
    ['a hole in the data', handMade('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)), /hole/],
    ['trailing bytes', handMade('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(8)), /trailing/],
    ['size disagreeing with shape × dtype', handMade('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)), /needs 12 bytes/],
    ['an unknown dtype', handMade('{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}', new Uint8Array(8)), /dtype "F8_E4M3"/],
    ['a JSON array header', handMade('[1,2]', new Uint8Array(0)), /JSON object/],
    ['JSON null', handMade('null', new Uint8Array(0)), /JSON object/],
    ['not JSON', handMade('{"a":', new Uint8Array(0)), /not JSON/],
    ['invalid UTF-8', handMade('{"\u00ff":1}', new Uint8Array(0)).map((b, i) => (i === 10 ? 0xff : b)), /UTF-8/],
    ['a truncated file', handMade(ok, new Uint8Array(8)).subarray(0, 8 + ok.length + 5), /outside/],
    ['a negative shape', handMade('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', new Uint8Array(8)), /shape/],
    ['fractional offsets', handMade('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}}', new Uint8Array(8)), /data_offsets/],
    ['metadata with a number', handMade('{"__metadata__":{"a":1}}', new Uint8Array(0)), /__metadata__\.a/],
    ['a tensor entry that is a string', handMade('{"a":"x"}', new Uint8Array(0)), /tensor `a`/],
    ['a shape overflowing', handMade('{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', new Uint8Array(8)), /too large/],
  ];
  for (const [what, bytes, msg] of cases) {
    it(`rejects ${what} with LOWBIT_E_FORMAT`, () => {
      expectLowbitError(() => readSafetensors(bytes), 'LOWBIT_E_FORMAT', msg);
      const p = join(dir, 'bad.safetensors');
      writeFileSync(p, bytes);
      expectLowbitError(() => readSafetensors(p), 'LOWBIT_E_FORMAT', msg);
    });
  }

  it('the async reader rejects every malformed case with LOWBIT_E_FORMAT too', async () => {
    for (const [what, bytes, msg] of cases) {
      const p = join(dir, 'bad-async.safetensors');
      writeFileSync(p, bytes);
      const err = await readSafetensorsAsync(p).then(() => null, (e: unknown) => e);
      expect(err, what).toBeInstanceOf(LowbitError);
      expect((err as LowbitError).code, what).toBe('LOWBIT_E_FORMAT');
      expect((err as LowbitError).message, what).toMatch(msg);
    }
  });

  it('fuzz: random corruptions of a valid file either read or throw LOWBIT_E_FORMAT, never anything else', () => {
    const base = serializeSafetensors({
      w: Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
      q: Tensor.from(new Uint8Array([1, 2, 3]), [3, 1], 'uint8'),
      s: { dtype: 'BOOL', shape: [], data: new Uint8Array([1]) },
    }, { format: 'pt' });
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const headerEnd = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
    const interesting = enc.encode('0123456789[]{},:"-.eE ');
    let rejected = 0;
    for (let iter = 0; iter < 3000; iter++) {
      let b: Uint8Array = base.slice();
      const kind = rand(4);
      if (kind === 0) {
        for (let k = 1 + rand(3); k > 0; k--) b[8 + rand(headerEnd - 8)] = interesting[rand(interesting.length)]!;
      } else if (kind === 1) {
        b = b.subarray(0, rand(b.length));
      } else if (kind === 2) {
        for (let k = 1 + rand(2); k > 0; k--) b[rand(8)] = rand(256);
      } else {
        const at = 8 + rand(headerEnd - 8);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + rand(4))]);
      }
      try {
        readSafetensors(b);
      } catch (e) {
        expect(e, `iteration ${iter}`).toBeInstanceOf(LowbitError);
        expect((e as LowbitError).code).toBe('LOWBIT_E_FORMAT');
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(2000);
  });
});

describe.skipIf(!hasBnbData)('safetensors: files written by Python (../shared/data/bnb)', () => {
  if (!hasBnbData) console.warn(`skipping: ${BNB_DIR} is absent`);
  const files = ['linear4bit-fp4.state_dict.safetensors', 'linear4bit-nf4-dq.state_dict.safetensors', 'linear8bitlt-t6.state_dict.safetensors', 'ops-4bit.safetensors', 'ops-int8.safetensors', 'layers.safetensors', 'stories260K-nf4-dq/model.safetensors', 'stories260K-int8/model.safetensors'];
  for (const f of files) {
    it(`${f}: read, then written back byte-identical`, () => {
      const p = join(BNB_DIR, f);
      const st = readSafetensors(p);
      expect(Object.keys(st.tensors).length).toBeGreaterThan(0);
      const again = serializeSafetensors(st.tensors, st.metadata);
      expect(Buffer.from(again).equals(readFileSync(p))).toBe(true);
    });
  }
  it('exists check', () => expect(existsSync(BNB_DIR)).toBe(true));
});
