/**
 * lowbit: bitsandbytes-compatible k-bit quantization for Node.js.
 *
 * Public surface: tensors, backend information, functional ops, nn layers and errors.
 */
export { LowbitError, LOWBIT_ERROR_CODES, type LowbitErrorCode } from './errors.js';
export { Tensor, type TensorLike, type Device, type DeviceLike } from './core/tensor.js';
export { DTYPES, FLOAT_DTYPES, dtypeSize, type DType, type FloatDType, type TypedArray } from './core/dtype.js';
export type { TensorInput } from './core/validate.js';
export { backendInfo, backendFor, setNumThreads, setCpuIsa, type Backend, type BackendInfo } from './backend/backend.js';
export type { CpuIsa } from './backend/native.js';
export { Module, type ForwardOptions } from './nn/module.js';
export { tensor } from './core/factory.js';

export * from './core/quant-state.js';
export * from './functional/quant.js';
// int8.ts also holds internals of Linear8bitLt's packed weight: the public ops are listed.
export {
  INT8_MAX_K, int8VectorwiseQuant, int8LinearMatmul, int8LinearMatmulAsync, int8MmDequant, int8ScaledMm, int8MixedScaledMm,
  int8LinearForward, int8LinearForwardAsync,
  type Int8VectorwiseQuantResult, type Int8Options, type Int8MmDequantOptions, type Int8LinearForwardOptions, type Int8LinearForwardResult,
} from './functional/int8.js';
export * from './nn/linear-4bit.js';
export * from './nn/linear-8bit-lt.js';
export * from './io/state-dict-4bit.js';
export * from './io/state-dict-8bit.js';
export * from './io/safetensors.js';
export * from './io/checkpoint.js';
