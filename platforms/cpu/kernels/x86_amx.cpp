// AMX-INT8 inner loops for row-grouped Q8_0 / Q4_0 / Q2_1 weights in batches (prefill, batched
// expert FFNs), and the "amx" ops: the AVX-512 ops with these loops in the grouped slots.
//
// Why the row-group layout needs no repacking: a group block of Q8_0 (kernels/quant.h, "Row
// groups") is 8 chunks of 64 bytes where chunk k, lane r holds q[r][4k..4k+3]; that is exactly an
// AMX B tile of 8 rows x 64 bytes in the VNNI order TDPBSSD expects (B row k = columns 4k..4k+3 of
// each of the 16 output rows). Q4_0 and Q2_1 codes are unpacked per group block into the same
// order (signed: nibble - 8; Q2_1 codes 0..3) once per row group and call, then reused by every
// token tile. The A tile is 16 tokens' ActBlock::q of one block, loaded in place with the stride
// of a token's activation row (nb * 40 bytes).
//
// One TDPBSSD per (block, 16 tokens, 16 rows) gives the exact int32 dots the AVX-512 VNNI loops
// compute (x86_grouped_avx512.cpp: there the offsets -128 * sum / -8 * sum are folded in, here
// the weights are signed; the integer result is the same). The float epilogue repeats that file's
// operations in its order: s = d_w * d_a, acc = fma(s, float(dot), acc), even and odd blocks in
// two accumulators, Q2_1's minimum term in a third, summed at the end. So results are bit-identical
// to the AVX-512 table whatever the batch, and the tokens left over after whole 16-token tiles go
// through the AVX-512 loop itself.
//
// Tile state is per thread: every call configures the tiles (LDTILECFG) and releases them
// (TILERELEASE) before it returns, so no AMX state outlives a call. The process must have asked
// the kernel for AMX state first (cpu_supports("amx") does, isa.cpp). Thread-safe; no allocation
// (the unpacked weights and tile results live in a bounded stack buffer).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

// No std template is instantiated below the target pragma: an AMX/AVX-512 instance could be the
// one the linker keeps for the whole program (as in x86_avx512.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,amx-tile,amx-int8")

namespace mote::cpu {
namespace {

#define MOTE_UNROLL _Pragma("GCC unroll 16")

constexpr int kTileRows = 16;       // tokens per A/C tile, rows (weights) per B/C tile
constexpr int kBTileBytes = 512;    // 8 rows x 64 bytes: one group block's codes in VNNI order
// Group blocks whose B tiles are unpacked at once (Q4_0 / Q2_1): 128 x 512 B = 64 KiB of stack,
// 4096 columns; wider rows are done in column slices of this many blocks.
constexpr int64_t kBlocksPerSlice = 128;
// Token tiles per pass over a slice: the C tiles of kMTiles token tiles are computed per block,
// then the epilogue runs over them.
constexpr int kMTiles = 2;

// The 64-byte tile configuration (palette 1): tiles 0..1 A (16 x 32 bytes), tile 2 B (8 x 64
// bytes), tiles 3..4 C (16 x 16 int32).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

constexpr TileConfig make_config() {
  TileConfig c;
  for (int i = 0; i < kMTiles; ++i) c.rows[i] = kTileRows, c.colsb[i] = 32;
  c.rows[2] = 8, c.colsb[2] = 64;
  for (int i = 3; i < 3 + kMTiles; ++i) c.rows[i] = kTileRows, c.colsb[i] = 64;
  return c;
}

// One group block's codes as a signed int8 B tile (8 rows of 64 bytes) at `out`.
template <WeightType kType>
inline void unpack_block(const uint8_t* gb, int8_t* out) {
  const uint8_t* chunks = gb + kChunksAt<kType>;
  if constexpr (kType == WeightType::Q4_0) {
    // Chunk j lane r byte i: q[r][4j + i] low nibble, q[r][16 + 4j + i] high: B rows j and 4 + j.
    const __m512i low = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    MOTE_UNROLL
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_loadu_si512(chunks + 64 * j);
      const __m512i lo = _mm512_sub_epi8(_mm512_and_si512(v, low), eight);
      const __m512i hi = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), low), eight);
      _mm512_storeu_si512(out + 64 * j, lo);
      _mm512_storeu_si512(out + 64 * (4 + j), hi);
    }
  } else {  // Q2_1: chunk j, code plane s holds columns 16j + 4s .. +3: B row 4j + s.
    const __m512i three = _mm512_set1_epi8(3);
    MOTE_UNROLL
    for (int j = 0; j < 2; ++j) {
      const __m512i v = _mm512_loadu_si512(chunks + 64 * j);
      MOTE_UNROLL
      for (int s = 0; s < 4; ++s)
        _mm512_storeu_si512(out + 64 * (4 * j + s), _mm512_and_si512(_mm512_srli_epi16(v, 2 * s), three));
    }
  }
}

// The float epilogue of one block for one token tile: c[t] (16 int32 dots of token t) into
// acc[t] += d_w * d_a * float(dot) (and Q2_1's accm), exactly as x86_grouped_avx512.cpp.
template <WeightType kType>
inline void epilogue(const int32_t* c, const uint8_t* gb, const ActBlock* a, int64_t a_stride, float* acc,
                     float* accm) {
  const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb)));
  MOTE_UNROLL
  for (int t = 0; t < kTileRows; ++t) {
    const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(a[t * a_stride].d));
    const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * t));
    _mm512_store_ps(acc + 16 * t, _mm512_fmadd_ps(s, dot, _mm512_load_ps(acc + 16 * t)));
  }
  if constexpr (kType == WeightType::Q2_1) {
    const __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb + 32)));
    MOTE_UNROLL
    for (int t = 0; t < kTileRows; ++t) {
      const ActBlock& at = a[t * a_stride];
      _mm512_store_ps(accm + 16 * t,
                      _mm512_fmadd_ps(m, _mm512_set1_ps(at.d * float(at.sum)), _mm512_load_ps(accm + 16 * t)));
    }
  }
}

// Per token tile: even-block, odd-block and (Q2_1) minimum accumulators, 16 tokens x 16 rows.
struct alignas(64) TileAcc {
  float even[kTileRows * 16], odd[kTileRows * 16], min[kTileRows * 16];
};

// One row group's blocks [j0, j0 + nbs) (B tiles at `btiles`, or in place for Q8_0) against
// n_mt token tiles starting at token tile `acts` (acts[t * nb + j] = block j of token t). j0's
// parity decides which accumulator a block goes to, as in the AVX-512 loop.
template <WeightType kType>
void slice_tiles(const uint8_t* gb0, const int8_t* btiles, int64_t j0, int64_t nbs, int64_t nb,
                 const ActBlock* acts, int n_mt, TileAcc* accs, int32_t* cbuf) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  const int64_t a_stride_bytes = nb * int64_t(sizeof(ActBlock));
  for (int64_t j = j0; j < j0 + nbs; ++j) {
    const uint8_t* gb = gb0 + j * kGB;
    if constexpr (kType == WeightType::Q8_0) _tile_loadd(2, gb + kChunksAt<kType>, 64);
    else _tile_loadd(2, btiles + (j - j0) * kBTileBytes, 64);
    const ActBlock* a = acts + j;
    // Tile numbers are immediates: the token tiles are unrolled by hand (kMTiles == 2).
    _tile_loadd(0, a->q, a_stride_bytes);
    _tile_zero(3);
    _tile_dpbssd(3, 0, 2);
    if (n_mt > 1) {
      _tile_loadd(1, (a + kTileRows * nb)->q, a_stride_bytes);
      _tile_zero(4);
      _tile_dpbssd(4, 1, 2);
    }
    _tile_stored(3, cbuf, 64);
    if (n_mt > 1) _tile_stored(4, cbuf + kTileRows * 16, 64);
    for (int i = 0; i < n_mt; ++i) {
      TileAcc& acc = accs[i];
      epilogue<kType>(cbuf + i * kTileRows * 16, gb, a + int64_t(i) * kTileRows * nb, nb,
                      (j & 1) ? acc.odd : acc.even, acc.min);
    }
  }
}

// The sums of token tile acc into out[t * y_stride + r] (or added to it when accumulate).
template <WeightType kType>
void store_tile(const TileAcc& acc, float* out, int64_t y_stride, bool accumulate) {
  MOTE_UNROLL
  for (int t = 0; t < kTileRows; ++t) {
    __m512 s = _mm512_add_ps(_mm512_load_ps(acc.even + 16 * t), _mm512_load_ps(acc.odd + 16 * t));
    if constexpr (kType == WeightType::Q2_1) s = _mm512_add_ps(s, _mm512_load_ps(acc.min + 16 * t));
    float* o = out + t * y_stride;
    if (accumulate) s = _mm512_add_ps(_mm512_loadu_ps(o), s);
    _mm512_storeu_ps(o, s);
  }
}

template <WeightType kType>
void qdot_grouped_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                      int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  const int64_t n_full = n_tokens / kTileRows * kTileRows;
  if (n_full > 0) {
    static constexpr TileConfig kConfig = make_config();
    _tile_loadconfig(&kConfig);
    alignas(64) int8_t btiles[kType == WeightType::Q8_0 ? 64 : kBlocksPerSlice * kBTileBytes];
    alignas(64) int32_t cbuf[kMTiles * kTileRows * 16];
    TileAcc accs[kMTiles];
    for (int64_t g = r0 / kRowGroup; g < r1 / kRowGroup; ++g) {
      const uint8_t* gb0 = w.group(g) + b0 * kGB;
      float* out = y + g * kRowGroup;
      // Column slices (Q4_0 / Q2_1 unpack one slice of B tiles at a time); the token tiles run
      // inside a slice so its unpacked tiles are reused by every token.
      const int64_t slice = kType == WeightType::Q8_0 ? nb : kBlocksPerSlice;
      for (int64_t t0 = 0; t0 < n_full; t0 += kMTiles * kTileRows) {
        const int n_mt = (n_full - t0) / kTileRows >= kMTiles ? kMTiles : 1;
        std::memset(accs, 0, sizeof accs);
        for (int64_t j0 = 0; j0 < nb; j0 += slice) {
          const int64_t nbs = nb - j0 < slice ? nb - j0 : slice;
          if constexpr (kType != WeightType::Q8_0)
            for (int64_t j = 0; j < nbs; ++j) unpack_block<kType>(gb0 + (j0 + j) * kGB, btiles + j * kBTileBytes);
          slice_tiles<kType>(gb0, btiles, j0, nbs, nb, acts + t0 * nb, n_mt, accs, cbuf);
        }
        for (int i = 0; i < n_mt; ++i)
          store_tile<kType>(accs[i], out + (t0 + i * kTileRows) * y_stride, y_stride, accumulate);
      }
    }
    _tile_release();
  }
  if (n_full < n_tokens) {
    QDotRowsFn rest = kType == WeightType::Q8_0   ? qdot_grouped_q8_0_avx512
                      : kType == WeightType::Q4_0 ? qdot_grouped_q4_0_avx512
                                                  : qdot_grouped_q2_1_avx512;
    rest(w, r0, r1, b0, nb, acts + n_full * nb, n_tokens - n_full, y + n_full * y_stride, y_stride, accumulate);
  }
}

}  // namespace

void qdot_grouped_q8_0_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                           int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped_amx<WeightType::Q8_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q4_0_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                           int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped_amx<WeightType::Q4_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q2_1_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                           int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped_amx<WeightType::Q2_1>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}

}  // namespace mote::cpu

#pragma GCC pop_options

namespace mote::cpu {
namespace {

IsaOps with_amx_loops(IsaOps ops) {
  ops.name = "avx512-amx";
  ops.qdot_grouped_q8_0 = qdot_grouped_q8_0_amx;
  ops.qdot_grouped_q4_0 = qdot_grouped_q4_0_amx;
  ops.qdot_grouped_q2_1 = qdot_grouped_q2_1_amx;
  ops.quantise_batches_once = true;
  return ops;
}

}  // namespace

// Dynamic initialisation from kAvx512Ops, which is constant-initialised (only addresses), so it
// is complete before this runs.
const IsaOps kAmxOps = with_amx_loops(kAvx512Ops);

}  // namespace mote::cpu
#endif  // __x86_64__
