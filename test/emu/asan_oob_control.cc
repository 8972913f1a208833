// Negative control for the sanitizer build: a kernel that reads one element past the end of a
// cudaMalloc'd buffer. Under -fsanitize=address this process must die with a
// heap-buffer-overflow report naming oob_read_kernel (run.sh checks that); without ASan the
// read goes unnoticed, which is why the harness runs under ASan in CI.
#include <cstdio>

#include "simt/simt.h"

__global__ void oob_read_kernel(const int* in, int* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = in[i + 1];  // the last thread reads in[n]: one past the end
  (void)n;
}

int main() {
  const int n = 64;
  int *in = nullptr, *out = nullptr;
  cudaMalloc((void**)&in, n * sizeof(int));
  cudaMalloc((void**)&out, n * sizeof(int));
  cudaMemset(in, 0, n * sizeof(int));
  simt::launch_or_throw(oob_read_kernel, dim3(2), dim3(32), 0, in, out, n);
  std::printf("no error detected\n");
  return 0;
}
