// AVX-512 VNNI int8 GEMM tiles for the packed LLM.int8() path (see int8_gemm_vnni.cc). Only
// called when int8_vnni_available() says the CPU and OS support AVX-512 F/BW/VL + VNNI and the
// ISA ladder is at 'avx512' or above.
#pragma once

#include <cstdint>

namespace lb::cpu::avx2 {

// CPUID + XGETBV check only.
bool int8_vnni_cpu();
// The VNNI kernels run now: the CPU has them and the ISA ladder (LOWBIT_CPU_ISA / setCpuIsa,
// cpu_features.h) is at 'avx512' or above; 'avx2' runs the AVX2 int8 kernels instead.
bool int8_vnni_available();

// Packed weight layout for one K chunk [k0, k1) of `rows` weight rows (u8 = int8 + 128):
// tiles of kVnniCols rows; per 4-wide K group g, kVnniCols x 4 bytes (row-major within the
// group), zero-extended (value 128, i.e. weight 0) past k1 and past `rows`.
inline constexpr int kVnniCols = 32;
inline constexpr int kVnniRows = 8;
void int8_vnni_pack_b(const int8_t* b, int64_t ldb, int64_t rows, int64_t k0, int64_t k1, uint8_t* dst);

// c[r*ldc + j] (+)= Σ_g Σ_i a[r*lda + 4g + i] · (bp[...] - 128), exact modulo 2^32, for r < rows,
// j < cols, over `groups` K groups. `a` must hold 4·groups readable bytes per row (zero
// padded). The caller subtracts nothing: the -128 offset is removed here per tile with
// the row sums of a (row_sums[r] = Σ_k a[r, k] over the same K range).
void int8_vnni_gemm(const int8_t* a, int64_t lda, int64_t rows, const uint8_t* bp, int64_t cols, int64_t groups,
                    const int32_t* row_sums, int32_t* c, int64_t ldc, bool accumulate);

// Decode path (small M, weight read in place): c[r*ldc + j] = Σ_k a[r*lda + k]·b[j*ldb + k], exact,
// for r < rows, j < cols, k < K, given row_sums[r] = Σ_k a[r*lda + k] (the kernel offsets the
// weight to unsigned and removes 128·row_sums[r]).
void int8_vnni_gemv(const int8_t* a, int64_t lda, int64_t rows, const int32_t* row_sums, const int8_t* b, int64_t ldb,
                    int64_t cols, int64_t K, int32_t* c, int64_t ldc);

}  // namespace lb::cpu::avx2
