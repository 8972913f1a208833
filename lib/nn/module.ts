/**
 * Minimal base class of lowbit's layers: a forward pass, its async twin, and explicit
 * disposal of the native memory a layer owns.
 */
import type { Tensor } from '../core/tensor.js';
import type { TensorInput } from '../core/validate.js';

export abstract class Module {
  /** Runs the layer on the calling thread. */
  abstract forward(x: TensorInput): Tensor;

  /** Runs the layer off the event loop where the backend supports it. */
  forwardAsync(x: TensorInput): Promise<Tensor> {
    try {
      return Promise.resolve(this.forward(x));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Frees the layer's tensors now. Using the layer afterwards throws LOWBIT_E_DISPOSED. */
  abstract dispose(): void;
}
