#!/usr/bin/env bash
# For a machine WITH an NVIDIA GPU: checks the emulation against the hardware and the CUDA
# backend on the device.
#   1. builds the golden warp-op probe (test/emu/probe) for the local arch with nvcc, runs it,
#      and diffs its per-lane registers with the SIMT emulator's dump of the same arch path:
#      any difference means an emulated twin in test/emu/simt/tensor_ops.h disagrees with the
#      hardware (or the PTX ISA tables it was written from);
#   2. builds the addon with real CUDA for the local arch and runs the vitest suite on the
#      device (test/cuda compares every CUDA result with the CPU backend bit for bit);
#      This includes the int8 parity spec (test/int8/backend-parity.test.ts) and Linear8bitLt on
#      the device (test/cuda/int8-linear.test.ts), the 4-bit matmul parity spec
#      (test/quant/backend-parity-4bit.test.ts: the GEMV and the M >= 2 kernels within the bounds
#      derived from K, exact on identity and +-1 weights) and Linear4bit on the device
#      (test/cuda/linear-4bit.test.ts), run again on their own so their counts get a line;
#   3. times the quantization kernels (test/emu/probe/kernel_timing.cu);
#   4. runs the cuda benchmark family (bench/cuda.ts: the int8 GEMM and the fused LLM.int8()
#      forward on the Llama-7B shapes, with % of DRAM bandwidth and of the int8 tensor peak).
# Results go to build-gpu/ (probe-hw.txt, probe-emu.txt, probe.diff, timings.txt, vitest.log,
# bench-cuda.log).
# Commit build-gpu/probe-hw.txt as test/emu/probe/golden-sm<arch>.txt once it matches, and
# update the README's "verified in emulation only" note.
#
#   scripts/gpu-check.sh            # all steps
#   scripts/gpu-check.sh --no-tests # probe + timings only
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build-gpu
mkdir -p "$OUT"
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
RUN_TESTS=1
[[ "${1:-}" == "--no-tests" ]] && RUN_TESTS=0
status=0

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi >/dev/null 2>&1; then
  echo "gpu-check: no usable NVIDIA GPU (nvidia-smi failed); run test/emu/run.sh for the emulated checks" >&2
  exit 2
fi
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' ')
arch=${cc/./}
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "gpu-check: $name, compute capability $cc (sm_$arch)"
if (( arch < 75 )); then echo "gpu-check: lowbit needs sm_75 or newer" >&2; exit 2; fi
simt_arch=$(( arch >= 80 ? 800 : 750 ))

# 1. golden probe: hardware vs emulation ---------------------------------------------------------
echo "== probe: nvcc sm_$arch vs SIMT_ARCH=$simt_arch"
if "$NVCC" -std=c++17 -O2 -arch="sm_$arch" -Icuda -Itest/emu -Inative/include -x cu test/emu/probe/probe_main.cu \
    -o "$OUT/probe-hw" && "$OUT/probe-hw" >"$OUT/probe-hw.txt"; then
  make -s -C test/emu -j2 ARCH="$simt_arch" >/dev/null && "build-emu/sm$simt_arch/probe" >"$OUT/probe-emu.txt"
  if diff -u "$OUT/probe-emu.txt" "$OUT/probe-hw.txt" >"$OUT/probe.diff"; then
    echo "  ok: $(wc -l <"$OUT/probe-hw.txt") per-lane register lines identical (mma, ldmatrix, cp.async)"
  else
    echo "  MISMATCH: emulated warp ops differ from the hardware, see $OUT/probe.diff" >&2
    head -40 "$OUT/probe.diff" >&2
    status=1
  fi
else
  echo "  probe failed to build or run on the device" >&2
  status=1
fi

# 2. the test suite on the device ----------------------------------------------------------------
if (( RUN_TESTS )); then
  echo "== addon with CUDA for sm_$arch, vitest on the device"
  if npx cmake-js compile -O "$OUT/addon" --CDLOWBIT_CUDA=ON --CDCMAKE_CUDA_ARCHITECTURES="$arch" >"$OUT/build.log" 2>&1; then
    if LOWBIT_ADDON_PATH="$OUT/addon/Release/lowbit.node" npx vitest run >"$OUT/vitest.log" 2>&1; then
      echo "  ok: $(grep -E 'Tests ' "$OUT/vitest.log" | tail -1)"
      if LOWBIT_ADDON_PATH="$OUT/addon/Release/lowbit.node" npx vitest run test/quant/backend-parity-4bit.test.ts \
          test/cuda/linear-4bit.test.ts >"$OUT/vitest-4bit.log" 2>&1; then
        echo "  4-bit parity + Linear4bit on the device: $(grep -E 'Tests ' "$OUT/vitest-4bit.log" | tail -1)"
      else
        echo "  4-bit parity failed on the device, see $OUT/vitest-4bit.log" >&2
        status=1
      fi
    else
      echo "  vitest failed on the device, see $OUT/vitest.log" >&2
      status=1
    fi
  else
    echo "  addon build failed, see $OUT/build.log" >&2
    status=1
  fi
fi

# 3. kernel timings ---------------------------------------------------------------------------------
echo "== kernel timings (sm_$arch)"
if "$NVCC" -std=c++17 -O2 -arch="sm_$arch" -Icuda -Inative/include test/emu/probe/kernel_timing.cu cuda/launch/*.cu \
    -o "$OUT/kernel-timing" && "$OUT/kernel-timing" | tee "$OUT/timings.txt"; then :; else
  echo "  timing run failed" >&2
  status=1
fi

# 4. int8 benchmark on the device ------------------------------------------------------------------
if [[ -f "$OUT/addon/Release/lowbit.node" ]]; then
  echo "== npm run bench -- --filter cuda"
  if LOWBIT_ADDON_PATH="$OUT/addon/Release/lowbit.node" npm run -s bench -- --filter cuda 2>&1 | tee "$OUT/bench-cuda.log"; then :; else
    echo "  cuda benchmark failed, see $OUT/bench-cuda.log" >&2
    status=1
  fi
fi

echo "gpu-check: $([[ $status == 0 ]] && echo PASSED || echo FAILED) (results in $OUT)"
exit $status
