// AVX2 inner loops for row-grouped Q8_0 / Q4_0 / Q2_1 weights (kernels/quant.h, "Row groups").
// Same arrangement as x86_avx2.cpp: only code below the target pragma uses these instructions,
// the dispatcher calls it only after cpu_supports("avx2"), no std template is instantiated here.
//
// A 64-byte chunk of a group block is two ymm: rows 0..7 (bytes 0..31) and rows 8..15 (bytes
// 32..63), each int32 lane 4 consecutive columns of one row, so a broadcast int32 of 4
// activations multiplies 8 rows at once and no horizontal sums are needed. Without VNNI the int8
// dot is maddubs (u8 x s8 -> s16 pairs, saturating) then madd with ones (-> s32):
//   Q8_0: |w| (0..128) as the unsigned operand and the activations with w's sign (sign_epi8);
//         one maddubs pair is at most 2 * 128 * 127 < 2^15, but two could overflow int16, so
//         every chunk's pairs are widened to int32 before adding.
//   Q4_0: nibbles (0..15): a pair is at most 2 * 15 * 127 = 3810, so a whole block's 8 maddubs
//         (<= 30480) add up in int16 before one madd; the -8 offset is -8 * sum(q_a) in int32.
//   Q2_1: codes (0..3) per plane (shift + and), the block summed in int16 the same way; the
//         minimum adds m * d_a * sum(q_a) in float.
// Then one fma per 8 rows with d_w * d_a. Tokens go in register tiles of kTile (each chunk
// unpacked once per tile); every token's float operations are the same whatever the tile, batch,
// row range or thread, so results are batch- and thread-independent.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace mote::cpu {
namespace {

// Every loop over tokens of a tile, chunks or code planes has a compile-time count and must be
// unrolled so the accumulator arrays live in registers (GCC 12 leaves some rolled at -O2).
#define MOTE_UNROLL _Pragma("GCC unroll 16")

// Tokens per register tile (16 ymm: per token 2 float accumulators and 1 int accumulator).
constexpr int kTile = 3;

inline __m256i act4(const ActBlock& a, int k) {
  int32_t v;
  __builtin_memcpy(&v, a.q + 4 * k, 4);
  return _mm256_set1_epi32(v);
}

// One load of a half chunk into a register (the empty asm keeps GCC from folding the load into
// each of its users: up to 4 loads of the same bytes, competing with the activation broadcasts).
inline __m256i load32(const uint8_t* p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  __asm__("" : "+x"(v));
  return v;
}

// The int32 dots of rows 8h..8h+7 of one group block with kT tokens' activation blocks
// a[t * a_stride], the Q4_0 offset removed: dot[t] lane r = sum_c q_w[8h + r][c] * q_a[t][c].
template <WeightType kType, int kT>
inline void half_dots(const uint8_t* gb, int h, const ActBlock* a, int64_t a_stride, __m256i* dot) {
  const uint8_t* chunks = gb + kChunksAt<kType> + 32 * h;
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kType == WeightType::Q8_0) {
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) dot[t] = _mm256_setzero_si256();
    MOTE_UNROLL
    for (int k = 0; k < 8; ++k) {
      const __m256i w = load32(chunks + 64 * k);
      const __m256i u = _mm256_abs_epi8(w);
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t) {
        const __m256i p = _mm256_maddubs_epi16(u, _mm256_sign_epi8(act4(a[t * a_stride], k), w));
        dot[t] = _mm256_add_epi32(dot[t], _mm256_madd_epi16(p, ones));
      }
    }
  } else {
    __m256i p[kT];
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) p[t] = _mm256_setzero_si256();
    if constexpr (kType == WeightType::Q4_0) {
      const __m256i low = _mm256_set1_epi8(0x0f);
      MOTE_UNROLL
      for (int j = 0; j < 4; ++j) {
        const __m256i v = load32(chunks + 64 * j);
        const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        MOTE_UNROLL
        for (int t = 0; t < kT; ++t) {
          p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(lo, act4(a[t * a_stride], j)));
          p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(hi, act4(a[t * a_stride], 4 + j)));
        }
      }
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t)
        dot[t] = _mm256_sub_epi32(_mm256_madd_epi16(p[t], ones), _mm256_set1_epi32(8 * a[t * a_stride].sum));
    } else {
      const __m256i three = _mm256_set1_epi8(3);
      MOTE_UNROLL
      for (int j = 0; j < 2; ++j) {
        const __m256i v = load32(chunks + 64 * j);
        MOTE_UNROLL
        for (int s = 0; s < 4; ++s) {  // code plane s: columns 16j + 4s .. 16j + 4s + 3
          const __m256i u = _mm256_and_si256(s == 0 ? v : _mm256_srli_epi16(v, 2 * s), three);
          MOTE_UNROLL
          for (int t = 0; t < kT; ++t)
            p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(u, act4(a[t * a_stride], 4 * j + s)));
        }
      }
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t) dot[t] = _mm256_madd_epi16(p[t], ones);
    }
  }
}

// acc[2t + h] += d_w * d_a * dot (+ m * d_a * sum(q_a) for Q2_1) for one group block.
template <WeightType kType, int kT>
inline void block_step(const uint8_t* gb, const ActBlock* a, int64_t a_stride, __m256* acc) {
  MOTE_UNROLL
  for (int h = 0; h < 2; ++h) {
    __m256i dot[kT];
    half_dots<kType, kT>(gb, h, a, a_stride, dot);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gb + 16 * h)));
    MOTE_UNROLL
    for (int t = 0; t < kT; ++t) {
      const __m256 s = _mm256_mul_ps(dw, _mm256_set1_ps(a[t * a_stride].d));
      acc[2 * t + h] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(dot[t]), acc[2 * t + h]);
    }
    if constexpr (kType == WeightType::Q2_1) {
      const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gb + 32 + 16 * h)));
      MOTE_UNROLL
      for (int t = 0; t < kT; ++t) {
        const ActBlock& at = a[t * a_stride];
        acc[2 * t + h] = _mm256_fmadd_ps(m, _mm256_set1_ps(at.d * float(at.sum)), acc[2 * t + h]);
      }
    }
  }
}

// One row group (its group block b0 at gb) against kT tokens, blocks [0, nb) of acts[t * nb + j];
// writes or adds token t's 16 results at out[t * y_stride].
template <WeightType kType, int kT>
void group_tile(const uint8_t* gb, int64_t nb, const ActBlock* acts, float* out, int64_t y_stride, bool accumulate) {
  constexpr int64_t kGB = kGroupBlockBytes<kType>;
  __m256 acc[2 * kT];
  MOTE_UNROLL
  for (int i = 0; i < 2 * kT; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t j = 0; j < nb; ++j) block_step<kType, kT>(gb + j * kGB, acts + j, nb, acc);
  MOTE_UNROLL
  for (int t = 0; t < kT; ++t)
    MOTE_UNROLL
    for (int h = 0; h < 2; ++h) {
      float* o = out + t * y_stride + 8 * h;
      __m256 s = acc[2 * t + h];
      if (accumulate) s = _mm256_add_ps(_mm256_loadu_ps(o), s);
      _mm256_storeu_ps(o, s);
    }
}

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
    if (n_tokens - t == 2) group_tile<kType, 2>(gb, nb, acts + t * nb, out + t * y_stride, y_stride, accumulate);
    else if (n_tokens - t == 1) group_tile<kType, 1>(gb, nb, acts + t * nb, out + t * y_stride, y_stride, accumulate);
  }
}
static_assert(kTile == 3, "qdot_grouped handles remainders 1..kTile-1");

}  // namespace

void qdot_grouped_q8_0_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                            int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q8_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q4_0_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                            int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q4_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q2_1_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                            int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q2_1>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __x86_64__
