/**
 * The one file of the example that touches lowbit: it wraps `Linear8bitLt` and `Linear4bit` as the
 * example's `LinearLayer`. This is also the pattern for putting lowbit into your own model code:
 * build each layer once from its float weight with `fromFloat`, call `forward` with [rows, in] input.
 *
 * Kinds (bitsandbytes' names and defaults as transformers sets them):
 *   int8     Linear8bitLt, threshold 0: every activation column goes through the int8 matmul
 *   int8-t6  Linear8bitLt, threshold 6, has_fp16_weights false: columns holding |x| ≥ 6 go through
 *            a float matmul with the dequantized weight (LLM.int8()'s mixed-precision decomposition)
 *   nf4/fp4  Linear4bit with that 4-bit code, blocksize 64, float32 compute
 *   *-dq     the same with double quantization (compress_statistics: the absmax are themselves
 *            8-bit quantized in blocks of 256)
 */
import { Linear4bit, Linear8bitLt, Tensor, backendInfo } from '../../lib/index.js';

import { ExampleError } from './errors.js';
import { BLOCKSIZE_4BIT, type LinearFactory, type LinearLayer, type QuantKind } from './linear.js';

type LowbitLayer = Linear4bit | Linear8bitLt;

/** Where the 4-bit layers (nf4, fp4 and their -dq kinds) run: `--device cuda` puts them on the GPU. */
let device4bit: 'cpu' | 'cuda' = 'cpu';

/**
 * Selects the device of the 4-bit layers built from now on. 'cuda' needs a usable CUDA device
 * (E_BAD_ARGUMENT with lowbit's reason otherwise). The int8 kinds stay on the CPU.
 */
export function setLowbit4bitDevice(device: 'cpu' | 'cuda'): void {
  if (device === 'cuda') {
    const info = backendInfo().cuda;
    if (!info.available) throw new ExampleError('E_BAD_ARGUMENT', `--device cuda: CUDA is not usable here (${info.reason}); expected a machine with an NVIDIA GPU`);
  }
  device4bit = device;
}

/** lowbit's tensor inputs accept this ONNX-Runtime-style plain object. */
function asInput(data: Float32Array, dims: number[]) {
  return { data, dims, type: 'float32' };
}

/** A lowbit layer (already built, e.g. loaded from a checkpoint) as the example's LinearLayer. */
export class LowbitLinear implements LinearLayer {
  constructor(
    private readonly layer: LowbitLayer,
    readonly outFeatures: number,
    readonly inFeatures: number,
  ) {}

  forward(x: Float32Array, rows: number): Float32Array {
    if (x.length !== rows * this.inFeatures) {
      throw new ExampleError('E_BAD_ARGUMENT',
        `input has ${x.length} values; expected rows × inFeatures = ${rows} × ${this.inFeatures}`);
    }
    const device = this.layer instanceof Linear4bit ? this.layer.device : 'cpu';
    const input = device === 'cpu' ? asInput(x, [rows, this.inFeatures]) : Tensor.from(x, [rows, this.inFeatures], 'float32').to(device);
    const y = this.layer.forward(input);
    if (input instanceof Tensor) input.dispose();
    try {
      const out = y.toFloat32Array(); // a host copy, so the native tensor can be freed right away
      if (out.length !== rows * this.outFeatures) {
        throw new ExampleError('E_LAYERS_UNAVAILABLE',
          `lowbit layer returned ${out.length} values; expected rows × outFeatures = ${rows} × ${this.outFeatures}`);
      }
      return out;
    } finally {
      y.dispose();
    }
  }

  weightBytes(): number {
    return this.layer.weightBytes();
  }

  outlierStats(): { calls: number; totalOutlierColumns: number } | undefined {
    if (!(this.layer instanceof Linear8bitLt)) return undefined;
    const { calls, totalOutlierColumns } = this.layer.outlierStats;
    return { calls, totalOutlierColumns };
  }

  dispose(): void {
    this.layer.dispose();
  }
}

function buildLayer(kind: Exclude<QuantKind, 'fp32'>, weight: Float32Array, out: number, inp: number): LowbitLayer {
  const w = asInput(weight, [out, inp]);
  switch (kind) {
    case 'int8':
      return Linear8bitLt.fromFloat(w, null, { bias: false, hasFp16Weights: false, threshold: 0 });
    case 'int8-t6':
      return Linear8bitLt.fromFloat(w, null, { bias: false, hasFp16Weights: false, threshold: 6 });
    case 'nf4':
    case 'fp4':
    case 'nf4-dq':
    case 'fp4-dq':
      return Linear4bit.fromFloat(device4bit === 'cpu' ? w : Tensor.from(weight, [out, inp], 'float32').to('cuda'), null, {
        bias: false,
        computeDtype: 'float32',
        quantType: kind.startsWith('nf4') ? 'nf4' : 'fp4',
        compressStatistics: kind.endsWith('-dq'),
        blocksize: BLOCKSIZE_4BIT,
      });
  }
}

export function lowbitFactory(kind: Exclude<QuantKind, 'fp32'>): LinearFactory {
  // Checked here because some loaders (vite, bundlers) give undefined for a missing export instead of failing.
  if (typeof Linear4bit !== 'function' || typeof Linear8bitLt !== 'function') {
    throw new ExampleError('E_LAYERS_UNAVAILABLE',
      `quantization ${kind} needs lowbit's layers, but lib/index.js does not export Linear4bit and Linear8bitLt; ` +
      'expected a lowbit build that includes them');
  }
  return (weight, out, inp) => new LowbitLinear(buildLayer(kind, weight, out, inp), out, inp);
}

let probed: { available: boolean; reason: string } | undefined;

/** Whether the layers work here: builds and runs one tiny layer of each class (once per process). */
export function probeLowbit(): { available: boolean; reason: string } {
  probed ??= runProbe();
  return probed;
}

function runProbe(): { available: boolean; reason: string } {
  try {
    const weight = new Float32Array(2 * 64).map((_, i) => Math.sin(i));
    for (const kind of ['int8', 'nf4'] as const) {
      const layer = lowbitFactory(kind)(weight, 2, 64);
      layer.forward(new Float32Array(64).fill(0.5), 1);
      layer.dispose();
    }
    return { available: true, reason: 'ok' };
  } catch (cause) {
    return { available: false, reason: (cause as Error).message };
  }
}
