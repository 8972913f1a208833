/**
 * Public functional ops of the 4-bit / 8-bit blockwise family (re-exported by lib/index.ts).
 */
export {
  BLOCKSIZES_4BIT,
  NESTED_BLOCKSIZE_4BIT,
  QUANT_STORAGE_DTYPES,
  dequantize4bit,
  dequantize4bitAsync,
  quantize4bit,
  quantize4bitAsync,
  type Quantize4bitOptions,
} from './quantize-4bit.js';
export { BLOCKSIZES_8BIT, dequantizeBlockwise, dequantizeBlockwiseAsync, quantizeBlockwise, quantizeBlockwiseAsync, type QuantizeBlockwiseOptions } from './quantize-blockwise.js';
export { MATMUL_ACTIVATIONS, gemv4bit, gemv4bitAsync, matmul4bit, matmul4bitAsync, type MatmulActivations, type Matmul4bitOptions } from './matmul-4bit.js';
