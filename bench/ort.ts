/**
 * onnxruntime-node helpers: single-operator ONNX models built in JS (onnx-proto), run on
 * the CPU execution provider. Used by the benchmarks (the peer to beat) and by the tests
 * (an independent implementation of MatMulBnb4 / MatMulInteger to check lowbit against).
 */
import { createRequire } from 'node:module';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';

const require = createRequire(import.meta.url);

export type OnnxType = 'float32' | 'float16' | 'int8' | 'uint8' | 'int32' | 'int64';

export interface ValueSpec {
  name: string;
  type: OnnxType;
  /** A string dimension is symbolic (e.g. 'M'). */
  dims: (number | string)[];
}

export interface InitSpec {
  name: string;
  type: OnnxType;
  dims: number[];
  data: ArrayBufferView;
}

/** Integer-valued numbers become INT attributes; wrap as { __float: x } to force FLOAT. */
export type AttrValue = number | number[] | string | { __float: number };

export interface SingleNodeSpec {
  opType: string;
  domain?: '' | 'com.microsoft';
  attributes?: Record<string, AttrValue>;
  inputs: ValueSpec[];
  initializers?: InitSpec[];
  outputs: ValueSpec[];
  /**
   * Build R copies of the node, each with its own copy of every initializer (renamed
   * `<name>_r<i>`) and its own outputs (`<name>_r<i>`), all fed by the same graph inputs.
   * Used to stream distinct weights from DRAM in one session.run ("rot" mode).
   */
  repeat?: number;
}

const TYPE_CODE: Record<OnnxType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10 };
const TYPE_SIZE: Record<OnnxType, number> = { float32: 4, uint8: 1, int8: 1, int32: 4, int64: 8, float16: 2 };

// onnx-proto is CommonJS (protobufjs static module); load it lazily so importing this
// file costs nothing when no ONNX model is built.
function onnx(): any {
  return (require('onnx-proto') as { onnx: unknown }).onnx;
}

function valueInfo(v: ValueSpec): unknown {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: TYPE_CODE[v.type],
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): unknown {
  const A = onnx().AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, s: new TextEncoder().encode(v), type: A.STRING };
  if (Array.isArray(v)) return { name, ints: v, type: A.INTS };
  if (typeof v === 'object') return { name, f: v.__float, type: A.FLOAT };
  if (Number.isInteger(v)) return { name, i: v, type: A.INT };
  return { name, f: v, type: A.FLOAT };
}

function tensorProto(t: InitSpec, name: string): unknown {
  return {
    name,
    dataType: TYPE_CODE[t.type],
    dims: t.dims,
    rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

/** A copy of an initializer whose elements are rotated by `r` positions (same values, new data). */
function rotated(init: InitSpec, r: number): InitSpec {
  const bytes = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
  const elem = TYPE_SIZE[init.type];
  const count = bytes.length / elem;
  if (count < 2) return init;
  const shift = ((r * 7919) % count) * elem; // a prime stride so copies differ even for small tensors
  const out = new Uint8Array(bytes.length);
  out.set(bytes.subarray(shift));
  out.set(bytes.subarray(0, shift), bytes.length - shift);
  return { ...init, data: out };
}

/** Serialises a one-operator model (IR 8, opset 17 + com.microsoft 1). */
export function buildSingleNodeModel(spec: SingleNodeSpec): Uint8Array {
  const o = onnx();
  const repeat = spec.repeat ?? 1;
  const nodes: unknown[] = [];
  const initializers: unknown[] = [];
  const outputs: unknown[] = [];
  for (let r = 0; r < repeat; r++) {
    const rename = (n: string) => (repeat === 1 ? n : `${n}_r${r}`);
    // Every copy gets its own data (the original rotated by r elements), so ORT can neither
    // dedupe the initializers nor keep one copy hot in cache: each copy streams from DRAM.
    for (const init of spec.initializers ?? []) initializers.push(tensorProto(r === 0 ? init : rotated(init, r), rename(init.name)));
    const nodeInputs = spec.inputs.map((i) => i.name);
    // Initializers that are op inputs are listed after the graph inputs, in spec order.
    for (const init of spec.initializers ?? []) nodeInputs.push(rename(init.name));
    nodes.push({
      opType: spec.opType,
      domain: spec.domain ?? '',
      name: rename(`${spec.opType}_node`),
      input: nodeInputs.filter((n, idx, all) => all.indexOf(n) === idx),
      output: spec.outputs.map((x) => rename(x.name)),
      attribute: Object.entries(spec.attributes ?? {}).map(([k, v]) => attribute(k, v)),
    });
    for (const out of spec.outputs) outputs.push(valueInfo({ ...out, name: rename(out.name) }));
  }
  const model = o.ModelProto.create({
    irVersion: 8,
    producerName: 'lowbit',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: `${spec.opType}_graph`,
      node: nodes,
      input: spec.inputs.map(valueInfo),
      initializer: initializers,
      output: outputs,
    },
  });
  return o.ModelProto.encode(model).finish() as Uint8Array;
}

/**
 * Builds a node whose inputs are given explicitly in order (names of graph inputs or
 * initializers, '' for an omitted optional input). Use this when the operator's input
 * order interleaves activations and weights.
 */
export function buildNodeModel(spec: SingleNodeSpec & { nodeInputs: string[] }): Uint8Array {
  const o = onnx();
  const model = o.ModelProto.create({
    irVersion: 8,
    producerName: 'lowbit',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: `${spec.opType}_graph`,
      node: [
        {
          opType: spec.opType,
          domain: spec.domain ?? '',
          name: `${spec.opType}_node`,
          input: spec.nodeInputs,
          output: spec.outputs.map((x) => x.name),
          attribute: Object.entries(spec.attributes ?? {}).map(([k, v]) => attribute(k, v)),
        },
      ],
      input: spec.inputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map((i) => tensorProto(i, i.name)),
      output: spec.outputs.map(valueInfo),
    },
  });
  return o.ModelProto.encode(model).finish() as Uint8Array;
}

/** A CPU session with `threads` intra-op threads (default 2), sequential execution. */
export async function createSession(model: Uint8Array, threads = 2): Promise<OrtSession> {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

export interface Feed {
  type: OnnxType;
  data: ArrayBufferView;
  dims: number[];
}

/** Runs a session once; returns every output as { data, dims }. */
export async function runOnce(session: OrtSession, feeds: Record<string, Feed>): Promise<Record<string, { data: ArrayBufferView; dims: number[] }>> {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const f: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [k, v] of Object.entries(feeds)) {
    f[k] = new ort.Tensor(v.type, v.data as any, v.dims);
  }
  const out = await session.run(f);
  const res: Record<string, { data: ArrayBufferView; dims: number[] }> = {};
  for (const [k, v] of Object.entries(out)) res[k] = { data: v.data as ArrayBufferView, dims: [...v.dims] };
  return res;
}
