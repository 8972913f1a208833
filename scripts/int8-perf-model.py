#!/usr/bin/env python3
"""Paper performance model of the CUDA LLM.int8() forward (cuda/kernels/int8_gemm.md).

For each GPU of ../shared/design/performance-anchors.md (section 1 peaks) and each Llama-7B
linear shape, at M = 1, 8, 128, 512, 4096, it prints the predicted time of int8_linear_forward
(threshold 0) as max(bytes / (eff_bw * DRAM BW), padded MACs * 2 / (eff_tc * int8 peak)) and
which bound applies. Design targets used as efficiencies (issue 12): 85 % of DRAM bandwidth for
M <= 16, 70 % of the dense int8 tensor peak on sm_80/86/89; 35 % on H100 (mma.sync without
wgmma reaches about a third of Hopper's peak, performance-anchors.md) and 60 % on T4 (one 48 KiB
prefill CTA per SM, so less latency hiding). Bytes: the int8 weight once, the activations read
twice (quantize: absmax pass + quantize pass, fp16), CA written and read, fp16 output, SCB.
Tiles are padded as the kernels pad them (decode 16 x 32; prefill 128 x 128).
Usage: scripts/int8-perf-model.py  (prints a markdown table)
"""
import math

GPUS = [  # name, int8 dense TOPS, DRAM GB/s, SMs, tensor efficiency for prefill
    ("T4", 130, 320, 40, 0.60),
    ("A100-40GB", 624, 1555, 108, 0.70),
    ("RTX 4090", 660.6, 1008, 128, 0.70),
    ("H100 SXM", 1979, 3350, 132, 0.35),
]
SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]  # (N, K): q/k/v/o, gate/up, down
MS = [1, 8, 128, 512, 4096]
BW_EFF = 0.85


def predict(gpu, M, N, K):
    name, tops, bw, sms, tc_eff = gpu
    decode = M <= 16
    bm, bn = (16, 32) if decode else (128, 128)
    mp, np_ = math.ceil(M / bm) * bm, math.ceil(N / bn) * bn
    ops = 2.0 * mp * np_ * K
    bytes_ = N * K + 4 * N + M * K * (2 + 2 + 1 + 1) + 2 * M * N
    t_mem = bytes_ / (BW_EFF * bw * 1e9)
    # Occupancy limit: CTAs per SM (cuda/kernels/int8_gemm.md: prefill with cp.async uses
    # 144-150 registers x 256 threads on sm_80+ -> 1 CTA, and 1 on T4, whose 64 KiB of shared
    # memory holds one 48 KiB CTA; decode is limited by its 24 KiB of shared memory). The tensor
    # time counts whole waves of CTAs, each SM delivering 1/sms of the peak.
    decode_per_sm = {"T4": 2, "A100-40GB": 6, "RTX 4090": 4, "H100 SXM": 9}[name]
    per_sm = decode_per_sm if decode else 1
    ctas = math.ceil(M / bm) * math.ceil(N / bn)
    waves = math.ceil(ctas / (sms * per_sm))
    ops_per_wave_per_sm = ops / ctas * per_sm
    t_tc = waves * ops_per_wave_per_sm / ((tc_eff if not decode else 0.7) * tops * 1e12 / sms)
    t = max(t_mem, t_tc)
    return t, ("DRAM" if t_mem >= t_tc else "int8 TC"), ctas, waves


def main():
    print("| GPU | N x K | M | config | CTAs | waves | bound | predicted µs | TOPS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for gpu in GPUS:
        for (N, K) in SHAPES:
            for M in MS:
                t, bound, ctas, waves = predict(gpu, M, N, K)
                cfg = "decode" if M <= 16 else "prefill"
                print(f"| {gpu[0]} | {N}x{K} | {M} | {cfg} | {ctas} | {waves} | {bound} | {t * 1e6:.1f} | {2 * M * N * K / t / 1e12:.1f} |")


if __name__ == "__main__":
    main()
