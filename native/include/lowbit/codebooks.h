// The single home of lowbit's numeric code tables (bitsandbytes-compatible).
//
// Used by the CPU backend, the CUDA kernels, the SIMT emulation harness and (through
// the addon's `constants()` export) the TypeScript tests. Values are stored as IEEE-754
// float32 bit patterns so no decimal parsing can perturb them; the SHA-256 of each
// table's little-endian float32 bytes is recorded next to it and checked by tests.
//
// Sources of truth: ../shared/spec/bitsandbytes-numerics.md section 1.1 (NF4), 1.2 (FP4,
// the bitsandbytes E2M1 variant in code order) and 4.1 (signed 8-bit dynamic map).
//
// Nibble packing (spec 1.3): flat element 2i goes in the HIGH nibble of byte i,
// element 2i+1 in the LOW nibble.
#pragma once

#include <cstdint>

namespace lb {

// Same numbering as onnxruntime's MatMulBnb4 `quant_type` attribute.
enum class QuantType : int32_t { FP4 = 0, NF4 = 1 };

// Bit-pattern lists are macros so CUDA code can also place them in __constant__ memory
// without a second copy of the numbers.

// NF4, index = 4-bit code. SHA-256 8501941daa1b8a90ad1bbfeb632e5101b5dddbc4bb52d6e55abcfd777e60c06a
#define LB_NF4_TABLE_BITS \
    0xbf800000u, 0xbf3239b1u, 0xbf066b30u, 0xbeca32a0u, 0xbe91a24du, 0xbe3d353fu, 0xbdba7871u, 0x00000000u, \
    0x3da2faffu, 0x3e24cae3u, 0x3e7c04ddu, 0x3ead033au, 0x3ee1a4b8u, 0x3f1007abu, 0x3f3913b3u, 0x3f800000u,

// FP4 (bitsandbytes variant), index = 4-bit code, code 8 = -0.0.
// SHA-256 39af60562e49a4f14fa01b864d62e6cbf0693a3ecf51e7861fc54259abb16237
#define LB_FP4_TABLE_BITS \
    0x00000000u, 0x3baaaaabu, 0x3f2aaaabu, 0x3f800000u, 0x3eaaaaabu, 0x3f000000u, 0x3e2aaaabu, 0x3e800000u, \
    0x80000000u, 0xbbaaaaabu, 0xbf2aaaabu, 0xbf800000u, 0xbeaaaaabu, 0xbf000000u, 0xbe2aaaabu, 0xbe800000u,

// Signed 8-bit dynamic map (create_dynamic_map(signed=True)), sorted ascending.
// SHA-256 e732639a65f497b4ad684bb166a4467708255edd5207757de8b8f0c7e1fda89c
#define LB_DYNAMIC_MAP_BITS \
    0xbf7e3333u, 0xbf7a999au, 0xbf770000u, 0xbf736666u, 0xbf6fcccdu, 0xbf6c3333u, 0xbf68999au, 0xbf650000u, \
    0xbf616666u, 0xbf5dcccdu, 0xbf5a3333u, 0xbf56999au, 0xbf530000u, 0xbf4f6666u, 0xbf4bcccdu, 0xbf483333u, \
    0xbf44999au, 0xbf410000u, 0xbf3d6666u, 0xbf39cccdu, 0xbf363334u, 0xbf32999au, 0xbf2f0000u, 0xbf2b6666u, \
    0xbf27cccdu, 0xbf243334u, 0xbf20999au, 0xbf1d0000u, 0xbf196666u, 0xbf15cccdu, 0xbf123334u, 0xbf0e999au, \
    0xbf0b0000u, 0xbf076666u, 0xbf03ccccu, 0xbf003333u, 0xbef93332u, 0xbef20000u, 0xbeeaccccu, 0xbee3999au, \
    0xbedc6666u, 0xbed53333u, 0xbece0000u, 0xbec6ccccu, 0xbebf999au, 0xbeb86666u, 0xbeb13333u, 0xbeaa0000u, \
    0xbea2ccccu, 0xbe9b999au, 0xbe946666u, 0xbe8d3334u, 0xbe860000u, 0xbe7d9999u, 0xbe6f3333u, 0xbe60cccdu, \
    0xbe526666u, 0xbe440000u, 0xbe35999au, 0xbe273333u, 0xbe18cccdu, 0xbe0a6666u, 0xbdf80000u, 0xbddb3334u, \
    0xbdc9eb85u, 0xbdc428f7u, 0xbdbe6667u, 0xbdb8a3d7u, 0xbdb2e148u, 0xbdad1eb8u, 0xbda75c2au, 0xbda1999au, \
    0xbd9bd70au, 0xbd96147bu, 0xbd9051ebu, 0xbd8a8f5du, 0xbd84cccdu, 0xbd7e147bu, 0xbd728f5du, 0xbd670a3du, \
    0xbd5b851fu, 0xbd500000u, 0xbd447ae1u, 0xbd38f5c3u, 0xbd2d70a3u, 0xbd21eb85u, 0xbd166667u, 0xbd0ae148u, \
    0xbcfeb852u, 0xbce7ae15u, 0xbcd0a3d7u, 0xbcb9999au, 0xbca28f5du, 0xbc8b851fu, 0xbc68f5c3u, 0xbc3ae148u, \
    0xbc1f3b64u, 0xbc160418u, 0xbc0ccccdu, 0xbc039581u, 0xbbf4bc6au, 0xbbe24dd3u, 0xbbcfdf3bu, 0xbbbd70a4u, \
    0xbbab020du, 0xbb989374u, 0xbb8624ddu, 0xbb676c8au, 0xbb428f5cu, 0xbb1db22du, 0xbaf1a9fcu, 0xbaa7ef9du, \
    0xba7765ffu, 0xba59e83eu, 0xba3c6a80u, 0xba1eecc1u, 0xba016f01u, 0xb9c7e283u, 0xb98ce705u, 0xb923d70bu, \
    0xb8ba1f4bu, 0xb88aefb3u, 0xb8378034u, 0xb7b24206u, 0xb70205ffu, 0xb65a1a94u, 0xb513a3b7u, 0x00000000u, \
    0x3513a3b7u, 0x365a1a94u, 0x370205ffu, 0x37b24206u, 0x38378034u, 0x388aefb3u, 0x38ba1f4bu, 0x3923d70bu, \
    0x398ce705u, 0x39c7e283u, 0x3a016f01u, 0x3a1eecc1u, 0x3a3c6a80u, 0x3a59e83eu, 0x3a7765ffu, 0x3aa7ef9du, \
    0x3af1a9fcu, 0x3b1db22du, 0x3b428f5cu, 0x3b676c8au, 0x3b8624ddu, 0x3b989374u, 0x3bab020du, 0x3bbd70a4u, \
    0x3bcfdf3bu, 0x3be24dd3u, 0x3bf4bc6au, 0x3c039581u, 0x3c0ccccdu, 0x3c160418u, 0x3c1f3b64u, 0x3c3ae148u, \
    0x3c68f5c3u, 0x3c8b851fu, 0x3ca28f5du, 0x3cb9999au, 0x3cd0a3d7u, 0x3ce7ae15u, 0x3cfeb852u, 0x3d0ae148u, \
    0x3d166667u, 0x3d21eb85u, 0x3d2d70a3u, 0x3d38f5c3u, 0x3d447ae1u, 0x3d500000u, 0x3d5b851fu, 0x3d670a3du, \
    0x3d728f5du, 0x3d7e147bu, 0x3d84cccdu, 0x3d8a8f5du, 0x3d9051ebu, 0x3d96147bu, 0x3d9bd70au, 0x3da1999au, \
    0x3da75c2au, 0x3dad1eb8u, 0x3db2e148u, 0x3db8a3d7u, 0x3dbe6667u, 0x3dc428f7u, 0x3dc9eb85u, 0x3ddb3334u, \
    0x3df80000u, 0x3e0a6666u, 0x3e18cccdu, 0x3e273333u, 0x3e35999au, 0x3e440000u, 0x3e526666u, 0x3e60cccdu, \
    0x3e6f3333u, 0x3e7d9999u, 0x3e860000u, 0x3e8d3334u, 0x3e946666u, 0x3e9b999au, 0x3ea2ccccu, 0x3eaa0000u, \
    0x3eb13333u, 0x3eb86666u, 0x3ebf999au, 0x3ec6ccccu, 0x3ece0000u, 0x3ed53333u, 0x3edc6666u, 0x3ee3999au, \
    0x3eeaccccu, 0x3ef20000u, 0x3ef93332u, 0x3f003333u, 0x3f03ccccu, 0x3f076666u, 0x3f0b0000u, 0x3f0e999au, \
    0x3f123334u, 0x3f15cccdu, 0x3f196666u, 0x3f1d0000u, 0x3f20999au, 0x3f243334u, 0x3f27cccdu, 0x3f2b6666u, \
    0x3f2f0000u, 0x3f32999au, 0x3f363334u, 0x3f39cccdu, 0x3f3d6666u, 0x3f410000u, 0x3f44999au, 0x3f483333u, \
    0x3f4bcccdu, 0x3f4f6666u, 0x3f530000u, 0x3f56999au, 0x3f5a3333u, 0x3f5dcccdu, 0x3f616666u, 0x3f650000u, \
    0x3f68999au, 0x3f6c3333u, 0x3f6fcccdu, 0x3f736666u, 0x3f770000u, 0x3f7a999au, 0x3f7e3333u, 0x3f800000u,

// bitsandbytes' FP4 magnitude decision literals (spec 2.3 step 4), ascending: the magnitude
// code of |s| is chosen by strict `>` against these. Two of them (0x3b2aaab9, 0x3ed55556,
// 0x3f155550) are NOT exact midpoints of the table, so they cannot be derived from it.
#define LB_FP4_THRESHOLD_BITS \
    0x3b2aaab9u, 0x3db00000u, 0x3e555555u, 0x3e955555u, 0x3ed55556u, 0x3f155550u, 0x3f555555u,

inline constexpr uint32_t kNF4Bits[16] = {LB_NF4_TABLE_BITS};
inline constexpr uint32_t kFP4Bits[16] = {LB_FP4_TABLE_BITS};
inline constexpr uint32_t kDynamicMapBits[256] = {LB_DYNAMIC_MAP_BITS};
inline constexpr uint32_t kFP4ThresholdBits[7] = {LB_FP4_THRESHOLD_BITS};

// LLM.int8() scale constants (spec 5.3), as float32 bit patterns:
// f32(1/16129) = f32(1/(127*127)), bitsandbytes' MM_DEQUANT_CONST (the CUDA value; the PyTorch
// CPU backend's 0x388206aa is a digit typo), and f32(1/127) for weight dequantization CB*SCB/127.
inline constexpr uint32_t kInt8MmDequantScaleBits = 0x38820610u;
inline constexpr uint32_t kInt8InvRowScaleBits = 0x3c010204u;

// Structural invariants the quantizers rely on.
static_assert(kNF4Bits[0] == 0xbf800000u && kNF4Bits[15] == 0x3f800000u, "NF4 spans [-1, 1]");
static_assert(kNF4Bits[7] == 0u, "NF4 code 7 is exactly zero");
static_assert(kFP4Bits[3] == 0x3f800000u && kFP4Bits[8] == 0x80000000u, "FP4: code 3 is 1.0, code 8 is -0.0");
static_assert(kDynamicMapBits[127] == 0u && kDynamicMapBits[255] == 0x3f800000u, "dynamic map: 127 -> 0, 255 -> 1");

}  // namespace lb
