#!/usr/bin/env python3
"""Paper performance model of the CUDA 4-bit matmul kernels (cuda/kernels/gemm_4bit_mma.md).

For each GPU of ../shared/design/performance-anchors.md (section 1.1 peaks) and each Llama-7B
linear shape (N x K = 4096 x 4096, 11008 x 4096, 4096 x 11008), at M = 1, 4, 16, 128, 2048, it
prints the predicted time of
  gemv        the M = 1 kernel (issue 13's GEMV, one pass over the weight per row of A),
  small       gemm_4bit_small_batch_kernel (this file's kernel; one weight pass per 16 rows),
  prefill     gemm_4bit_prefill_kernel (dequantized weight tiles in shared memory, 128 x 128
              CTA tiles: one weight pass per 128 rows),
as max(memory, dequantize ALU, tensor) per pass, and the bound that applies. Inputs:
  - weight bytes per element 0.5 + 4 / 64 (NF4, blocksize 64, float32 absmax); activations and
    output 2 bytes (f16/bf16); DRAM at 85 % of the spec (the GEMV design target, 1.2 of the
    anchors: 83-89 % copy efficiency);
  - dequantization: 5 instructions per weight and pass (nibble extract, shared LUT load, fmul,
    half a cvt.f16x2, operand move) at one instruction per FP32 lane per clock
    (SMs x FP32 lanes x boost clock), overlapped with the memory stream; the GEMV needs 3
    (no operand conversion: the scale is applied once per block);
  - tensor: 16-row mma tiles (M padded to 16) at 60 % of the dense f16 (f32-accumulate) peak
    (35 % on H100: mma.sync without wgmma, anchors 1.2); sm_75 bf16 runs the SIMT twin
    (not modelled: it is the fallback for a case bitsandbytes does not run on Turing at all).
Usage: scripts/gemm4-perf-model.py   (prints markdown tables)
"""
import math

# name, f16 tensor TFLOPS with f32 accumulate (dense), DRAM GB/s, SMs, FP32 lanes/SM, boost GHz
GPUS = [
    ("T4", 65, 320, 40, 64, 1.59),
    ("A100-40GB", 312, 1555, 108, 64, 1.41),
    ("RTX 4090", 165.2, 1008, 128, 128, 2.52),
    ("H100 SXM", 989, 3350, 132, 128, 1.98),
]
SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]  # (N, K)
MS = [1, 4, 16, 128, 2048]
BW_EFF = 0.85
SMALL_BATCH_MAX_M = 32  # the rule of gemm_4bit_mma.md (from the crossover table below)
INSTR_PER_WEIGHT = 5.0
GEMV_INSTR_PER_WEIGHT = 3.0  # nibble extract, LUT load, fma (the scale applied once per block)
W_BYTES = 0.5 + 4.0 / 64


def tensor_eff(name):
    return 0.35 if name.startswith("H100") else 0.60


def pass_time(gpu, rows_tile, M, N, K, passes):
    """Seconds for `passes` sweeps over the weight, each covering `rows_tile` rows of A."""
    name, tflops, bw, sms, lanes, ghz = gpu
    mem = (N * K * W_BYTES * passes + M * K * 2 + M * N * 2) / (BW_EFF * bw * 1e9)
    alu = N * K * passes * INSTR_PER_WEIGHT / (sms * lanes * ghz * 1e9)
    mp = math.ceil(M / rows_tile) * rows_tile  # rows padded to the CTA tile
    tc = 2.0 * mp * N * K / (tensor_eff(name) * tflops * 1e12)
    parts = {"DRAM": mem, "dequant": alu, "tensor": tc}
    bound = max(parts, key=parts.get)
    return parts[bound], bound


def predict(gpu, kernel, M, N, K):
    if kernel == "gemv":  # one pass per row, scalar FMAs (no tensor term)
        name, tflops, bw, sms, lanes, ghz = gpu
        mem = M * (N * K * W_BYTES + K * 2 + N * 2) / (BW_EFF * bw * 1e9)
        alu = M * N * K * GEMV_INSTR_PER_WEIGHT / (sms * lanes * ghz * 1e9)
        return (mem, "DRAM") if mem >= alu else (alu, "dequant")
    if kernel == "small":
        return pass_time(gpu, 16, M, N, K, math.ceil(M / 16))
    return pass_time(gpu, 128, M, N, K, math.ceil(M / 128))


def main():
    for gpu in GPUS:
        print(f"\n{gpu[0]}: predicted microseconds (bound) per kernel\n")
        print("| N x K | M | gemv | small batch | prefill | rule picks |")
        print("|---|---|---|---|---|---|")
        for N, K in SHAPES:
            for M in MS:
                cells, best = [], None
                for kern in ("gemv", "small", "prefill"):
                    t, b = predict(gpu, kern, M, N, K)
                    cells.append(f"{t * 1e6:.1f} ({b})")
                pick = "gemv" if M == 1 else ("small batch" if M <= SMALL_BATCH_MAX_M else "prefill")
                print(f"| {N} x {K} | {M} | " + " | ".join(cells) + f" | {pick} |")
    print("\nCrossover: the smallest M (multiple of 16) where the prefill model beats the small-batch one\n")
    print("| GPU | " + " | ".join(f"{N} x {K}" for N, K in SHAPES) + " |")
    print("|---|" + "---|" * len(SHAPES))
    for gpu in GPUS:
        row = []
        for N, K in SHAPES:
            M = 16
            while M <= 4096 and predict(gpu, "prefill", M, N, K)[0] >= predict(gpu, "small", M, N, K)[0]:
                M += 16
            row.append(str(M))
        print(f"| {gpu[0]} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
