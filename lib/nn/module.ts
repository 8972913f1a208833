/**
 * Minimal base class of lowbit's layers: a forward pass, its async twin, and explicit
 * disposal of the native memory a layer owns.
 */
import type { Tensor } from '../core/tensor.js';
import type { TensorInput } from '../core/validate.js';

/** Options of every layer's forward. */
export interface ForwardOptions {
  /**
   * Writes the result into this tensor instead of allocating one, and returns it: a Tensor with
   * the result's shape `[..., out_features]`, dtype (the input's) and device, sharing no memory with
   * the input or the layer's tensors. A decode loop that keeps one output per layer allocates
   * nothing per token. forwardAsync writes it on the libuv pool: leave it alone until the promise
   * settles. null or undefined: allocate.
   */
  out?: Tensor | null;
}

export abstract class Module {
  /** Runs the layer on the calling thread. */
  abstract forward(x: TensorInput, options?: ForwardOptions): Tensor;

  /** Runs the layer off the event loop where the backend supports it. */
  forwardAsync(x: TensorInput, options?: ForwardOptions): Promise<Tensor> {
    try {
      return Promise.resolve(this.forward(x, options));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Frees the layer's tensors now. Using the layer afterwards throws LOWBIT_E_DISPOSED. */
  abstract dispose(): void;
}
