// The AMX tile operations lowbit uses, behind one small interface with two implementations:
//
//   AmxHardware  the AMX-TILE / AMX-INT8 intrinsics (only called after run-time detection,
//                see cpu_features.cc: CPUID, XCR0 tile state and the Linux permission request);
//   AmxTwin      a plain C++ twin that follows Intel's pseudo-code for the same instructions
//                (LDTILECFG, TILELOADD, TILESTORED, TILEZERO, TDPBSSD, TILERELEASE), so the AMX
//                kernels run on every CPU and are tested everywhere (LOWBIT_CPU_ISA=amx-emulated).
//
// The kernels (int8_gemm_amx.cc) are templates over one of the two; no other file uses AMX.
// Tile numbers are template arguments because the instructions encode them as immediates.
//
// Palette 1: 8 tiles, each up to 16 rows of up to 64 bytes. TDPBSSD (signed x signed int8):
//   for m < rows(C), n < colsb(C)/4, k < colsb(A)/4:
//     C[m].dword[n] += sum_{i<4} int32(A[m].byte[4k+i]) * int32(B[k].byte[4n+i])
// i.e. B holds four consecutive K values of one output column per dword ("VNNI" layout):
//   B tile row k = K values 4k..4k+3 of 16 columns, column n at bytes 4n..4n+3.
// The sums are exact integers (wrapping int32 adds, which the K limit keeps from overflowing),
// so the order of the products never matters: the twin and the hardware give the same bits.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LB_AMX_INTRINSICS 1
#endif

namespace lb::cpu::amx {

constexpr int kTiles = 8;
constexpr int kTileRows = 16;
constexpr int kTileBytesPerRow = 64;

// LDTILECFG's 64-byte memory operand (Intel SDM, "Tile configuration").
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// Every tile 16 rows x 64 bytes: the only shape the kernels use.
inline TileConfig full_tiles_config() {
  TileConfig c;
  std::memset(&c, 0, sizeof(c));
  c.palette_id = 1;
  for (int t = 0; t < kTiles; ++t) {
    c.colsb[t] = kTileBytesPerRow;
    c.rows[t] = kTileRows;
  }
  return c;
}

#ifdef LB_AMX_INTRINSICS
#pragma GCC push_options
#pragma GCC target("amx-tile,amx-int8")
struct AmxHardware {
  static constexpr bool kEmulated = false;
  static void load_config(const TileConfig& c) { _tile_loadconfig(&c); }
  static void release() { _tile_release(); }
  // GCC's _tile_* macros paste the tile number into the instruction text, so each tile number
  // (and each TDPBSSD register triple the kernels use) is its own specialization below.
  template <int T> static void zero();
  template <int T> static void load(const void* base, int64_t stride);
  template <int T> static void store(void* base, int64_t stride);
  template <int C, int A, int B> static void dpbssd();
};
#define LB_AMX_TILE_OPS(T)                                                                                   \
  template <> inline void AmxHardware::zero<T>() { _tile_zero(T); }                                          \
  template <> inline void AmxHardware::load<T>(const void* base, int64_t stride) { _tile_loadd(T, base, stride); } \
  template <> inline void AmxHardware::store<T>(void* base, int64_t stride) { _tile_stored(T, base, stride); }
LB_AMX_TILE_OPS(0)
LB_AMX_TILE_OPS(1)
LB_AMX_TILE_OPS(2)
LB_AMX_TILE_OPS(3)
LB_AMX_TILE_OPS(4)
LB_AMX_TILE_OPS(5)
LB_AMX_TILE_OPS(6)
LB_AMX_TILE_OPS(7)
#undef LB_AMX_TILE_OPS
#define LB_AMX_DPBSSD(C, A, B) \
  template <> inline void AmxHardware::dpbssd<C, A, B>() { _tile_dpbssd(C, A, B); }
LB_AMX_DPBSSD(0, 4, 6)
LB_AMX_DPBSSD(1, 4, 7)
LB_AMX_DPBSSD(2, 5, 6)
LB_AMX_DPBSSD(3, 5, 7)
#undef LB_AMX_DPBSSD
#pragma GCC pop_options
#endif

// The twin: the tile registers and the configuration are per thread, as on the hardware.
struct AmxTwin {
  static constexpr bool kEmulated = true;
  struct State {
    TileConfig config;
    bool configured = false;
    alignas(64) uint8_t tile[kTiles][kTileRows][kTileBytesPerRow];
  };
  static State& state() {
    static thread_local State s;
    return s;
  }
  static void load_config(const TileConfig& c) {
    State& s = state();
    s.config = c;
    s.configured = true;
    std::memset(s.tile, 0, sizeof(s.tile));  // LDTILECFG zeroes the tile data
  }
  static void release() {
    State& s = state();
    s.configured = false;
    std::memset(s.tile, 0, sizeof(s.tile));
  }
  template <int T> static void zero() { std::memset(state().tile[T], 0, sizeof(state().tile[T])); }
  // TILELOADD: rows(T) rows of colsb(T) bytes, row r from base + r * stride; the rest of the tile zeroed.
  template <int T> static void load(const void* base, int64_t stride) {
    State& s = state();
    zero<T>();
    for (int r = 0; r < s.config.rows[T]; ++r)
      std::memcpy(s.tile[T][r], static_cast<const uint8_t*>(base) + r * stride, s.config.colsb[T]);
  }
  // TILESTORED: rows(T) rows of colsb(T) bytes to base + r * stride.
  template <int T> static void store(void* base, int64_t stride) {
    State& s = state();
    for (int r = 0; r < s.config.rows[T]; ++r)
      std::memcpy(static_cast<uint8_t*>(base) + r * stride, s.tile[T][r], s.config.colsb[T]);
  }
  // TDPBSSD, per Intel's pseudo-code (see the header comment).
  template <int C, int A, int B> static void dpbssd() {
    State& s = state();
    const int rows = s.config.rows[C], cols = s.config.colsb[C] / 4, ks = s.config.colsb[A] / 4;
    for (int m = 0; m < rows; ++m) {
      for (int n = 0; n < cols; ++n) {
        int32_t acc;
        std::memcpy(&acc, &s.tile[C][m][4 * n], 4);
        for (int k = 0; k < ks; ++k) {
          int32_t dot = 0;
          for (int i = 0; i < 4; ++i)
            dot += int32_t(int8_t(s.tile[A][m][4 * k + i])) * int32_t(int8_t(s.tile[B][k][4 * n + i]));
          acc = int32_t(uint32_t(acc) + uint32_t(dot));  // wrapping add, as the instruction
        }
        std::memcpy(&s.tile[C][m][4 * n], &acc, 4);
      }
    }
  }
};

}  // namespace lb::cpu::amx
