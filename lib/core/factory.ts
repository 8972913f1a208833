import type { DType, TypedArray } from './dtype.js';
import { Tensor, type TensorLike } from './tensor.js';

/**
 * Makes a CPU tensor: `tensor([1, 2, 3, 4], [2, 2])`, `tensor(float32Array, [n, k])`,
 * `tensor(ortTensor)`. TypedArrays and foreign tensors are shared, not copied.
 */
export function tensor(data: TypedArray | TensorLike | readonly number[], shape?: readonly number[], dtype?: DType): Tensor {
  return Tensor.from(data, shape, dtype, { op: 'tensor', arg: 'data' });
}
