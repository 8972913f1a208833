#!/usr/bin/env python3
"""Paper performance model of the CUDA 4-bit GEMV at M = 1 (cuda/kernels/gemv_4bit.cuh).

For T4, A100-40GB, RTX 4090 and H100 SXM (DRAM bandwidth from ../shared/design/performance-anchors.md,
section 1.1) and the Llama-7B shapes (N x K) 4096 x 4096, 11008 x 4096, 4096 x 11008, it prints the
predicted kernel time for NF4/FP4 at blocksize 64, with float32 absmax and with double quantization,
as the larger of two bounds:

  memory: DRAM bytes / (0.85 * spec bandwidth). 0.85 is the issue's design target and is close to what
          a copy kernel reaches (89 % on an A800, performance-anchors.md 1.2). Bytes: the packed weight
          N*K/2, the scales (4 bytes per block, or 1 per block plus 4 per 256 blocks with double quant),
          the activation row once (2 bytes per element; the other CTAs read it from L2) and the output.
  issue:  per weight the kernel issues about 4.6 lane-instructions: a shift-and-mask to extract the
          nibble (the compiler emits one BFE or a SHF+LOP pair; we count 1.5), the LUT read from shared
          memory (1 LDS), the f32 product with the scale (FMUL), the fma into the accumulator (FFMA),
          plus per-chunk work spread over its 32 weights (the 128-bit load, the scale, 8 LDS.128 of the
          activation shared by 4 weight rows, the loop: about 0.6 per weight). An SM issues 4 warp
          instructions, 128 lane-instructions, per cycle. The shared-memory LUT reads (one 32-lane
          LDS per 32 weights) fit within the 1 LDS per cycle per SM that this bound already allows.
          Clocks and SM counts are vendor boost specs (UNVERIFIED, not in performance-anchors.md).
  in flight: each CTA has 8 warps x 32 lanes x 4 weight rows x 16 bytes = 16 KiB of weight loads
          issued before it decodes any; by Little's law the grid sustains at most
          min(CTAs, 2 per SM x SMs) x 16 KiB / latency, with a DRAM latency of about 600 ns
          (UNVERIFIED round number). With N = 4096 the grid has only 128 CTAs, fewer than H100's 132 SMs,
          so this bound is printed too; it does not bind for these shapes.
A launch costs about 3-5 us on the host side. That is not counted here: graphs or a persistent kernel hide it.
The kernel is the same on every GPU (8 warps, 4 weight rows per warp, 128-bit loads). Nothing here was
measured: scripts/gpu-check.sh times the kernel when a GPU is lent.

Usage: scripts/gemv-4bit-perf-model.py  (prints a markdown table)
"""

GPUS = [  # name, DRAM GB/s (performance-anchors 1.1), SMs, boost GHz (unverified spec)
    ("T4", 320, 40, 1.59),
    ("A100-40GB", 1555, 108, 1.41),
    ("RTX 4090", 1008, 128, 2.52),
    ("H100 SXM", 3350, 132, 1.98),
]
SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]  # (N, K)
BW_EFF = 0.85
INSTR_PER_WEIGHT = 1.5 + 1 + 1 + 1 + 0.6
LANE_INSTR_PER_CYCLE = 128
BLOCKSIZE = 64


def weight_bytes(N, K, nested):
    blocks = N * K / BLOCKSIZE
    scales = blocks * 1 + blocks / 256 * 4 if nested else blocks * 4
    return N * K / 2 + scales + 2 * K + 2 * N


CTA_INFLIGHT_BYTES = 8 * 32 * 4 * 16
LATENCY_S = 600e-9


def predict(gpu, N, K, nested):
    name, bw, sms, ghz = gpu
    ctas = -(-N // 32)
    inflight_bw = min(ctas, 2 * sms) * CTA_INFLIGHT_BYTES / LATENCY_S
    t_mem = weight_bytes(N, K, nested) / min(BW_EFF * bw * 1e9, inflight_bw)
    t_issue = N * K * INSTR_PER_WEIGHT / (LANE_INSTR_PER_CYCLE * sms * ghz * 1e9)
    return max(t_mem, t_issue), t_mem, t_issue


def main():
    print("| GPU | N x K | scales | predicted us | memory bound us | issue bound us | bound | % of DRAM BW on weight bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for gpu in GPUS:
        for N, K in SHAPES:
            for nested in (False, True):
                t, t_mem, t_issue = predict(gpu, N, K, nested)
                pct = weight_bytes(N, K, nested) / t / (gpu[1] * 1e9) * 100
                print(f"| {gpu[0]} | {N} x {K} | {'double quant' if nested else 'f32 absmax'} | {t * 1e6:.1f} | "
                      f"{t_mem * 1e6:.1f} | {t_issue * 1e6:.1f} | {'DRAM' if t_mem >= t_issue else 'issue'} | {pct:.0f} % |")


if __name__ == "__main__":
    main()
