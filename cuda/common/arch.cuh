// Architecture selection shared by every kernel (the one place that reads __CUDA_ARCH__
// outside warp_ops.cuh).
//
// LB_ARCH is the compute capability of the code path being compiled: __CUDA_ARCH__ under
// nvcc's device pass, SIMT_ARCH (750 or 800) in the g++ SIMT emulation, 0 in nvcc's host
// pass (where device bodies are parsed but never run). Kernels branch on LB_ARCH only, so
// the emulator exercises both the sm_75 and the sm_80 paths of the very same source.
#pragma once

#if defined(__CUDA_ARCH__)
#define LB_ARCH __CUDA_ARCH__
#elif defined(SIMT_ARCH)
#define LB_ARCH SIMT_ARCH
#else
#define LB_ARCH 0
#endif

// Tensor-core int8 m16n8k32, f16 m16n8k16, cp.async and __reduce_*_sync need sm_80.
#define LB_HAS_SM80_FEATURES (LB_ARCH >= 800)

#define LB_DEVICE __device__ __forceinline__

// Loop unrolling hint for nvcc (g++ in the emulation ignores it silently).
#if defined(__CUDACC__)
#define LB_UNROLL _Pragma("unroll")
#else
#define LB_UNROLL
#endif

// Dynamic shared memory (the launch's smem bytes), 16-byte aligned, as a typed pointer:
//   LB_DYNAMIC_SHARED(float, tile);   // float* tile
// nvcc: the usual `extern __shared__` array; emulation: the block's buffer from the harness.
#if defined(LOWBIT_SIMT_EMULATION)
#define LB_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::simt::dynamic_shared_memory())
#else
#define LB_DYNAMIC_SHARED(T, name)                                   \
  extern __shared__ __align__(16) unsigned char lb_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(lb_dynamic_smem_)
#endif
