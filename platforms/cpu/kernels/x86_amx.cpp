// AMX-INT8 inner loops for row-grouped Q8_0 / Q4_0 / Q2_1 weights in batches (prefill, batched
// expert FFNs), and the "avx512-amx" ops: the AVX-512 ops with these loops in the grouped slots.
//
// Why the row-group layout needs no repacking: a group block of Q8_0 (kernels/quant.h, "Row
// groups") is 8 chunks of 64 bytes where chunk k, lane r holds q[r][4k..4k+3]; that is exactly an
// AMX B tile of 8 rows x 64 bytes in the VNNI order TDPBSSD expects (B row k = columns 4k..4k+3 of
// each of the 16 output rows). Q4_0 and Q2_1 codes are unpacked per group block into the same
// order (signed: nibble - 8; Q2_1 codes 0..3) once per row group and call, then reused by every
// token tile. The A tile is 16 tokens' ActBlock::q of one block, repacked once per call into a
// contiguous 512-byte tile with the 16 scales beside it (PackedActs): loading the 16 rows in
// place, one token's whole activation row apart, left the tile loads waiting on memory (perf).
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
// the kernel for AMX state first (cpu_supports("avx512-amx") does, isa.cpp). Thread-safe. The
// unpacked weights (64 KiB) and tile results live on the stack; the packed activations in a
// per-thread buffer that grows to the largest batch seen (only batches of 16+ tokens get here,
// never decode).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <new>

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
// Group blocks whose B tiles are unpacked at once (Q4_0 / Q2_1), per row group of a pair:
// 2 x 64 x 512 B = 64 KiB of stack, 2048 columns; wider rows are done in column slices.
constexpr int64_t kBlocksPerSlice = 64;

// Register blocking: 2 token tiles x 2 row groups per block, so each A tile (16 tokens' int8
// activations of one block) and each B tile (one group block) is loaded once for two products.
// The tile products of block j + 1 are issued before the float epilogue of block j (a ring of two
// sets of four 1 KiB C results), so the tile unit's work overlaps the vector epilogue.
// Tiles: 0, 1 = A (16 x 32 bytes), 2, 3 = B (8 x 64 bytes), 4..7 = C (16 x 16 int32), C of token
// tile m and group n at 4 + 2m + n.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

constexpr TileConfig make_config() {
  TileConfig c;
  for (int i = 0; i < 2; ++i) c.rows[i] = kTileRows, c.colsb[i] = 32;
  for (int i = 2; i < 4; ++i) c.rows[i] = 8, c.colsb[i] = 64;
  for (int i = 4; i < 8; ++i) c.rows[i] = kTileRows, c.colsb[i] = 64;
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

// One block of one 16-token tile, repacked for the tile unit: the A tile's 16 x 32 int8 codes
// contiguous (one 512-byte load instead of 16 rows strided by a token's whole activation row),
// the 16 scales, and (Q2_1) the 16 products d * sum(q) the minimum term uses.
struct alignas(64) PackedActs {
  int8_t q[kTileRows][32];
  float d[kTileRows];
  float dsum[kTileRows];
};
static_assert(sizeof(PackedActs) == 640);

// The float epilogue of one block for one token tile: c[t] (16 int32 dots of token t) into
// acc[t] += d_w * d_a * float(dot) (and Q2_1's accm), exactly as x86_grouped_avx512.cpp.
template <WeightType kType>
inline void epilogue(const int32_t* c, const uint8_t* gb, const PackedActs& a, float* acc, float* accm) {
  const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb)));
  MOTE_UNROLL
  for (int t = 0; t < kTileRows; ++t) {
    const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(a.d[t]));
    const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * t));
    _mm512_store_ps(acc + 16 * t, _mm512_fmadd_ps(s, dot, _mm512_load_ps(acc + 16 * t)));
  }
  if constexpr (kType == WeightType::Q2_1) {
    const __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb + 32)));
    MOTE_UNROLL
    for (int t = 0; t < kTileRows; ++t)
      _mm512_store_ps(accm + 16 * t, _mm512_fmadd_ps(m, _mm512_set1_ps(a.dsum[t]), _mm512_load_ps(accm + 16 * t)));
  }
}

// Per (token tile, row group): even-block, odd-block and (Q2_1) minimum accumulators, 16 tokens
// x 16 rows.
struct alignas(64) TileAcc {
  float even[kTileRows * 16], odd[kTileRows * 16], min[kTileRows * 16];
};

// The four int32 products of one block: A tiles a0 / a1 (16 tokens each), B tiles at b0 / b1;
// results into c[2m + n] (16 x 16 each, row t = token t).
inline void quad_product(const PackedActs& a0, const PackedActs& a1, const void* b0, const void* b1,
                         int32_t (*c)[kTileRows * 16]) {
  _tile_loadd(0, a0.q, 32);
  _tile_loadd(1, a1.q, 32);
  _tile_loadd(2, b0, 64);
  _tile_loadd(3, b1, 64);
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  _tile_dpbssd(4, 0, 2);
  _tile_dpbssd(5, 0, 3);
  _tile_dpbssd(6, 1, 2);
  _tile_dpbssd(7, 1, 3);
  _tile_stored(4, c[0], 64);
  _tile_stored(5, c[1], 64);
  _tile_stored(6, c[2], 64);
  _tile_stored(7, c[3], 64);
}

// Where one pair of row groups and pair of token tiles are. A missing second group or token tile
// repeats the first (its products are computed and ignored: n_groups / n_tiles say which
// results are real).
struct QuadJob {
  const uint8_t* gb[2];      // the groups' first group blocks (block 0 of the call)
  const int8_t* btiles[2];   // the groups' unpacked B tiles of the current slice (Q4_0 / Q2_1)
  const PackedActs* acts[2]; // the token tiles' packed blocks, [nb] each
  int n_groups, n_tiles;
};

// Blocks [j0, j0 + nbs) of a quad into acc[2m + n]. Block j's parity picks the accumulator, as in
// the AVX-512 loop.
template <WeightType kType>
void quad_slice(const QuadJob& q, int64_t j0, int64_t nbs, TileAcc* acc, int32_t (*ring)[4][kTileRows * 16]) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  auto issue = [&](int64_t i) {  // block j0 + i into ring[i & 1]
    const int64_t j = j0 + i;
    const void* b[2];
    for (int n = 0; n < 2; ++n)
      b[n] = kType == WeightType::Q8_0 ? static_cast<const void*>(q.gb[n] + j * kGB + kChunksAt<kType>)
                                       : static_cast<const void*>(q.btiles[n] + i * kBTileBytes);
    quad_product(q.acts[0][j], q.acts[1][j], b[0], b[1], ring[i & 1]);
  };
  if (nbs > 0) issue(0);
  for (int64_t i = 0; i < nbs; ++i) {
    if (i + 1 < nbs) issue(i + 1);
    const int64_t j = j0 + i;
    for (int m = 0; m < q.n_tiles; ++m)
      for (int n = 0; n < q.n_groups; ++n) {
        TileAcc& a = acc[2 * m + n];
        epilogue<kType>(ring[i & 1][2 * m + n], q.gb[n] + j * kGB, q.acts[m][j], (j & 1) ? a.odd : a.even, a.min);
      }
  }
}

// The sums of acc into out[t * y_stride + r] (or added to it when accumulate).
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

// Row groups [g0, g0 + n_groups) (1 or 2) against the token tiles [0, n_tiles) of `packed`
// (tile m's blocks at packed + m * nb), whose outputs start at y.
template <WeightType kType>
void group_pair(const WeightView& w, int64_t g0, int n_groups, int64_t b0, int64_t nb, const PackedActs* packed,
                int64_t n_tiles, float* y, int64_t y_stride, bool accumulate, int8_t* btiles,
                int32_t (*ring)[4][kTileRows * 16]) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  QuadJob q;
  q.n_groups = n_groups;
  for (int n = 0; n < 2; ++n) {
    q.gb[n] = w.group(g0 + (n < n_groups ? n : 0)) + b0 * kGB;
    q.btiles[n] = btiles + (n < n_groups ? n : 0) * kBlocksPerSlice * kBTileBytes;
  }
  const int64_t slice = kType == WeightType::Q8_0 ? nb : kBlocksPerSlice;
  auto unpack = [&](int64_t j0, int64_t nbs) {
    if constexpr (kType != WeightType::Q8_0)
      for (int n = 0; n < n_groups; ++n)
        for (int64_t j = 0; j < nbs; ++j)
          unpack_block<kType>(q.gb[n] + (j0 + j) * kGB, btiles + (n * kBlocksPerSlice + j) * kBTileBytes);
  };
  if (nb <= slice) unpack(0, nb);  // once for every token tile
  TileAcc acc[4];
  for (int64_t m0 = 0; m0 < n_tiles; m0 += 2) {
    q.n_tiles = m0 + 1 < n_tiles ? 2 : 1;
    q.acts[0] = packed + m0 * nb;
    q.acts[1] = packed + (m0 + q.n_tiles - 1) * nb;
    std::memset(acc, 0, sizeof acc);
    for (int64_t j0 = 0; j0 < nb; j0 += slice) {
      const int64_t nbs = nb - j0 < slice ? nb - j0 : slice;
      if (nb > slice) unpack(j0, nbs);  // wide rows: per token-tile pair, slice by slice
      quad_slice<kType>(q, j0, nbs, acc, ring);
    }
    for (int m = 0; m < q.n_tiles; ++m)
      for (int n = 0; n < n_groups; ++n)
        store_tile<kType>(acc[2 * m + n], y + (m0 + m) * kTileRows * y_stride + (g0 + n) * kRowGroup, y_stride,
                          accumulate);
  }
}

// Token tiles [0, n_tiles) of acts (acts[t * nb + j]) repacked into out[m * nb + j].
void pack_acts(const ActBlock* acts, int64_t nb, int64_t n_tiles, PackedActs* out) {
  for (int64_t m = 0; m < n_tiles; ++m)
    for (int64_t j = 0; j < nb; ++j) {
      PackedActs& p = out[m * nb + j];
      for (int t = 0; t < kTileRows; ++t) {
        const ActBlock& a = acts[(m * kTileRows + t) * nb + j];
        std::memcpy(p.q[t], a.q, 32);
        p.d[t] = a.d;
        p.dsum[t] = a.d * float(a.sum);
      }
    }
}

// A thread's packed activations, grown to the largest batch it has seen, freed with the thread.
// 640 bytes per 16 tokens and block: about 1.25x the f32 activations.
class PackedBuffer {
 public:
  PackedBuffer() = default;
  PackedBuffer(const PackedBuffer&) = delete;
  PackedBuffer& operator=(const PackedBuffer&) = delete;
  ~PackedBuffer() { ::operator delete[](data_, std::align_val_t(64)); }
  PackedActs* reserve(int64_t n) {
    if (n > capacity_) {
      ::operator delete[](data_, std::align_val_t(64));
      data_ = static_cast<PackedActs*>(::operator new[](size_t(n) * sizeof(PackedActs), std::align_val_t(64)));
      capacity_ = n;
    }
    return data_;
  }

 private:
  PackedActs* data_ = nullptr;
  int64_t capacity_ = 0;
};

// Token tiles per pass over the rows: their packed activations (8 x nb x 640 bytes, 320 KiB at
// 2048 columns) stay in L2 while every row group of the range passes over them.
constexpr int64_t kTilesPerPass = 8;

template <WeightType kType>
void qdot_grouped_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                      int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  const int64_t n_tiles = n_tokens / kTileRows, n_full = n_tiles * kTileRows;
  if (n_tiles > 0) {
    // The calling thread's packed activations: grown to the largest batch seen, kept for the
    // thread's life (only batches of 16+ tokens come here, never decode).
    thread_local PackedBuffer buffer;
    PackedActs* packed = buffer.reserve(n_tiles * nb);
    pack_acts(acts, nb, n_tiles, packed);
    static constexpr TileConfig kConfig = make_config();
    _tile_loadconfig(&kConfig);
    alignas(64) int8_t btiles[kType == WeightType::Q8_0 ? 64 : 2 * kBlocksPerSlice * kBTileBytes];
    alignas(64) int32_t ring[2][4][kTileRows * 16];
    const int64_t g_end = r1 / kRowGroup;
    for (int64_t m0 = 0; m0 < n_tiles; m0 += kTilesPerPass) {
      const int64_t tiles = n_tiles - m0 < kTilesPerPass ? n_tiles - m0 : kTilesPerPass;
      for (int64_t g = r0 / kRowGroup; g < g_end; g += 2)
        group_pair<kType>(w, g, g + 1 < g_end ? 2 : 1, b0, nb, packed + m0 * nb, tiles,
                          y + m0 * kTileRows * y_stride, y_stride, accumulate, btiles, ring);
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
