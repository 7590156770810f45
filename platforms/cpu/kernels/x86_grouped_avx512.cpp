// AVX-512 VNNI inner loops for row-grouped Q8_0 / Q4_0 / Q2_1 weights (kernels/quant.h, "Row
// groups"). Same arrangement as x86_avx512.cpp: only code below the target pragma uses these
// instructions, the dispatcher calls it only after cpu_supports("avx512"), and no std template is
// instantiated here.
//
// One 64-byte chunk of a group block holds 4 consecutive columns of each of the 16 rows (lane r =
// row r), so `vpdpbusd acc, chunk_u8, {1to16}(int32 of 4 activations)` advances 16 row dots at
// once with no horizontal sums, and one vcvtph2ps yields the 16 rows' scales. The weights are the
// unsigned operand:
//   Q8_0: w ^ 0x80 = w + 128 (0..255); the excess 128 * sum(q_a) per block (ActBlock::sum) is
//         the int32 accumulator's starting value, negated. |sum| <= 32 * 127, and a block's
//         int32 partial sums stay below 8 * 4 * 255 * 127 < 2^21: exact.
//   Q4_0: the nibbles (0..15); the -8 offset starts the accumulator at -8 * sum(q_a).
//   Q2_1: the 2-bit codes (0..3), shift + and per code plane; the minimum adds m * d_a * sum(q_a)
//         in float, in its own accumulator.
// Each block's int32 dot (exact, < 2^24 so exactly converted) is scaled by d_w * d_a (one
// rounding) and added to float accumulators, even and odd blocks apart (two dependency chains).
// Tokens are taken in register tiles: each chunk is loaded and unpacked once per tile, then fed
// to every token of it. Every token's float operations are the same, in the same order, whatever
// the tile, the batch, the row range or the thread: results are batch- and thread-independent.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

// GCC 12's AVX-512 headers build some intrinsics on _mm512_undefined_*(), which trips these
// warnings once inlined (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mote::cpu {
namespace {

// Every loop over tokens of a tile, chunks or code planes has a compile-time count and must be
// unrolled so the accumulator arrays live in registers (GCC 12 leaves some rolled at -O2).
#define MOTE_UNROLL _Pragma("GCC unroll 16")

// Tokens per register tile. Live registers per tile: 2-3 float and 1 int32 accumulators per
// token, plus the chunk being unpacked and the scales.
// 6 measured as fast as 8 and faster than 4 for 64-token prefill (this machine's AMD EPYC).
constexpr int kTile = 6;

// Activations 4k..4k+3 of a block as one int32, broadcast to the 16 lanes (one broadcast load).
inline __m512i act4(const ActBlock& a, int k) {
  int32_t v;
  __builtin_memcpy(&v, a.q + 4 * k, 4);
  return _mm512_set1_epi32(v);
}

// One load of a chunk into a register. The empty asm keeps GCC from folding the load into each
// of the chunk's users (shift, and: 4 loads of the same 64 bytes for Q2_1), which costs load
// slots the activation broadcasts need.
inline __m512i load64(const uint8_t* p) {
  __m512i v = _mm512_loadu_si512(p);
  __asm__("" : "+v"(v));
  return v;
}

// The int32 dots of one group block (16 rows) with kT tokens' activation blocks a[t * a_stride],
// the Q4_0 / Q8_0 offsets already removed: dot[t] lane r = sum_c q_w[r][c] * q_a[t][c].
template <WeightType kType, int kT>
inline void block_dots(const uint8_t* gb, const ActBlock* a, int64_t a_stride, __m512i* dot) {
  const uint8_t* chunks = gb + kChunksAt<kType>;
  if constexpr (kType == WeightType::Q8_0) {
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) dot[t] = _mm512_set1_epi32(-128 * a[t * a_stride].sum);
    const __m512i flip = _mm512_set1_epi8(char(0x80));
    MOTE_UNROLL
    for (int k = 0; k < 8; ++k) {
      const __m512i u = _mm512_xor_si512(load64(chunks + 64 * k), flip);
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t) dot[t] = _mm512_dpbusd_epi32(dot[t], u, act4(a[t * a_stride], k));
    }
  } else if constexpr (kType == WeightType::Q4_0) {
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) dot[t] = _mm512_set1_epi32(-8 * a[t * a_stride].sum);
    const __m512i low = _mm512_set1_epi8(0x0f);
    MOTE_UNROLL
    for (int j = 0; j < 4; ++j) {
      const __m512i v = load64(chunks + 64 * j);
      const __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t) {
        dot[t] = _mm512_dpbusd_epi32(dot[t], lo, act4(a[t * a_stride], j));
        dot[t] = _mm512_dpbusd_epi32(dot[t], hi, act4(a[t * a_stride], 4 + j));
      }
    }
  } else {
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) dot[t] = _mm512_setzero_si512();
    const __m512i three = _mm512_set1_epi8(3);
    MOTE_UNROLL
    for (int j = 0; j < 2; ++j) {
      const __m512i v = load64(chunks + 64 * j);
      // Code plane s holds columns 16j + 4s .. 16j + 4s + 3 of every row.
      const __m512i u0 = _mm512_and_si512(v, three);
      const __m512i u1 = _mm512_and_si512(_mm512_srli_epi16(v, 2), three);
      const __m512i u2 = _mm512_and_si512(_mm512_srli_epi16(v, 4), three);
      const __m512i u3 = _mm512_and_si512(_mm512_srli_epi16(v, 6), three);
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t) {
        const ActBlock& at = a[t * a_stride];
        dot[t] = _mm512_dpbusd_epi32(dot[t], u0, act4(at, 4 * j));
        dot[t] = _mm512_dpbusd_epi32(dot[t], u1, act4(at, 4 * j + 1));
        dot[t] = _mm512_dpbusd_epi32(dot[t], u2, act4(at, 4 * j + 2));
        dot[t] = _mm512_dpbusd_epi32(dot[t], u3, act4(at, 4 * j + 3));
      }
    }
  }
}

// acc[t] += d_w * d_a * dot (and, Q2_1, accm[t] += m * d_a * sum(q_a)) for one group block.
template <WeightType kType, int kT>
inline void block_step(const uint8_t* gb, const ActBlock* a, int64_t a_stride, __m512* acc, __m512* accm) {
  __m512i dot[kT];
  block_dots<kType, kT>(gb, a, a_stride, dot);
  const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb)));
  MOTE_UNROLL
  for (int t = 0; t < kT; ++t) {
    const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(a[t * a_stride].d));
    acc[t] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(dot[t]), acc[t]);
  }
  if constexpr (kType == WeightType::Q2_1) {
    const __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gb + 32)));
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) {
      const ActBlock& at = a[t * a_stride];
      accm[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(at.d * float(at.sum)), accm[t]);
    }
  }
}

// One row group (16 rows, from its group block b0: gb) against kT tokens: blocks [0, nb) of
// acts[t * nb + j]; writes or adds the 16 results of token t at out[t * y_stride].
template <WeightType kType, int kT>
void group_tile(const uint8_t* gb, int64_t nb, const ActBlock* acts, float* out, int64_t y_stride, bool accumulate) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  __m512 acc0[kT], acc1[kT], accm[kT];
  MOTE_UNROLL
  for (int t = 0; t < kT; ++t) acc0[t] = acc1[t] = accm[t] = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 1 < nb; j += 2) {
    block_step<kType, kT>(gb + j * kGB, acts + j, nb, acc0, accm);
    block_step<kType, kT>(gb + (j + 1) * kGB, acts + j + 1, nb, acc1, accm);
  }
  if (j < nb) block_step<kType, kT>(gb + j * kGB, acts + j, nb, acc0, accm);
  MOTE_UNROLL
  for (int t = 0; t < kT; ++t) {
    __m512 s = _mm512_add_ps(acc0[t], acc1[t]);
    if constexpr (kType == WeightType::Q2_1) s = _mm512_add_ps(s, accm[t]);
    float* o = out + t * y_stride;
    if (accumulate) s = _mm512_add_ps(_mm512_loadu_ps(o), s);
    _mm512_storeu_ps(o, s);
  }
}

// The last partial tile (1..kTile-1 tokens) at its own size.
template <WeightType kType, int kT = kTile - 1>
void group_tail(int64_t n, const uint8_t* gb, int64_t nb, const ActBlock* acts, float* out, int64_t y_stride,
                bool accumulate) {
  if constexpr (kT > 0) {
    if (n == kT) group_tile<kType, kT>(gb, nb, acts, out, y_stride, accumulate);
    else group_tail<kType, kT - 1>(n, gb, nb, acts, out, y_stride, accumulate);
  }
}

// Row groups [r0 / 16, r1 / 16), token tiles of kTile.
template <WeightType kType>
void qdot_grouped(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                  int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  for (int64_t g = r0 / kRowGroup; g < r1 / kRowGroup; ++g) {
    const uint8_t* gb = w.group(g) + b0 * kGB;
    float* out = y + g * kRowGroup;
    int64_t t = 0;
    for (; t + kTile <= n_tokens; t += kTile)
      group_tile<kType, kTile>(gb, nb, acts + t * nb, out + t * y_stride, y_stride, accumulate);
    group_tail<kType>(n_tokens - t, gb, nb, acts + t * nb, out + t * y_stride, y_stride, accumulate);
  }
}

}  // namespace

void qdot_grouped_q8_0_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                              const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q8_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q4_0_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                              const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q4_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q2_1_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                              const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q2_1>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __x86_64__
