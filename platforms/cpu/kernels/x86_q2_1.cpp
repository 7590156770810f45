// Q2_1 (routed experts, 3.0 bits/weight; layout in kernels/quant.h) inner loops for AVX2 and
// AVX-512 VNNI. One block's contribution to a row-token dot is
//   sum_i (d * q_i + m) * (d_a * a_i) = d * d_a * sum_i q_i * a_i + m * d_a * sum_i a_i,
// where the int8 dot sum q_i * a_i (q_i in 0..3 unsigned, a_i int8) comes from maddubs + madd
// (AVX2; at most 2 * 3 * 127 per 16-bit pair, no saturation) or vpdpbusd (VNNI), and sum_i a_i is
// ActBlock::sum, computed once when the activations are quantised. Each function's target pragma
// limits the instructions to its ISA; the dispatcher only calls them where the CPU has it.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace mote::cpu {
namespace {

inline float q2_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float q2_hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 8 code bytes of a block -> 32 code bytes in a transposed order: in 16-byte lane h (0, 1),
// dword j (0..3) holds the codes of elements 16h + 4k + j for k = 0..3, i.e. code bytes 4h..4h+3
// shifted right by 2j and masked to 2 bits. A dword permute and a variable shift, where the
// element order would need a shuffle and four shift / mask steps; the activations are
// rearranged to match (q2_acts) instead. Only the order inside the block changes: every lane of
// the product gets the same scale and all lanes are summed.
inline __m256i q2_codes(const uint8_t* qs) {
  const __m256i raw = _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs)));
  const __m256i v = _mm256_permutevar8x32_epi32(raw, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
  const __m256i shifted = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
  return _mm256_and_si256(shifted, _mm256_set1_epi8(3));
}

// A block's 32 int8 activations in q2_codes' order: one in-lane shuffle gathers, in each 16-byte
// lane, dword j = the lane's elements j, j + 4, j + 8, j + 12.
inline __m256i q2_acts(const int8_t* q) {
  const __m256i idx = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                       0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)), idx);
}

// One row (nb blocks) against kNT tokens (acts[t * nb + j]); s[t] = the row's dot for token t.
// Even and odd blocks go to separate accumulators (two dependency chains: one chain's fma / add
// latency per block would cap decode at ~1 block per 4 cycles). The per-token arithmetic is the
// same whatever kNT is, so a result never depends on its batch.
template <int kNT>
inline void q2_row_dots_avx2(const uint8_t* row, const ActBlock* acts, int64_t nb, float* s) {
  constexpr int64_t kB = kQ2_1BlockBytes;
  __m256 acc0[kNT], acc1[kNT];
  float macc0[kNT], macc1[kNT];
  for (int t = 0; t < kNT; ++t) {
    acc0[t] = acc1[t] = _mm256_setzero_ps();
    macc0[t] = macc1[t] = 0.0f;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t j = 0;
  for (; j + 1 < nb; j += 2) {
    const uint8_t* b = row + j * kB;
    const __m256i q0 = q2_codes(b + 4), q1 = q2_codes(b + kB + 4);
    const float d0 = q2_f16(b), m0 = q2_f16(b + 2), d1 = q2_f16(b + kB), m1 = q2_f16(b + kB + 2);
    for (int t = 0; t < kNT; ++t) {
      const ActBlock* a = acts + t * nb + j;
      const __m256i a0 = q2_acts(a[0].q);
      const __m256i a1 = q2_acts(a[1].q);
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, a0), ones);
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, a1), ones);
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * a[0].d), _mm256_cvtepi32_ps(p0), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(d1 * a[1].d), _mm256_cvtepi32_ps(p1), acc1[t]);
      macc0[t] += m0 * a[0].d * float(a[0].sum);
      macc1[t] += m1 * a[1].d * float(a[1].sum);
    }
  }
  if (j < nb) {
    const uint8_t* b = row + j * kB;
    const __m256i q0 = q2_codes(b + 4);
    const float d0 = q2_f16(b), m0 = q2_f16(b + 2);
    for (int t = 0; t < kNT; ++t) {
      const ActBlock& a = acts[t * nb + j];
      const __m256i av = q2_acts(a.q);
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, av), ones);
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * a.d), _mm256_cvtepi32_ps(p), acc0[t]);
      macc0[t] += m0 * a.d * float(a.sum);
    }
  }
  for (int t = 0; t < kNT; ++t) s[t] = q2_hsum8(_mm256_add_ps(acc0[t], acc1[t])) + (macc0[t] + macc1[t]);
}

}  // namespace

void qdot_q2_1_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int kTile = 4;  // tokens per register tile
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r) + b0 * kQ2_1BlockBytes;
    float s[kTile];
    for (int64_t t = 0; t < n_tokens;) {
      const int k = n_tokens - t >= kTile ? kTile : 1;
      if (k == kTile) q2_row_dots_avx2<kTile>(row, acts + t * nb, nb, s);
      else q2_row_dots_avx2<1>(row, acts + t * nb, nb, s);
      for (int i = 0; i < k; ++i) {
        float* out = y + (t + i) * y_stride + r;
        *out = accumulate ? *out + s[i] : s[i];
      }
      t += k;
    }
  }
}

}  // namespace mote::cpu

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mote::cpu {
namespace {

// Two blocks' codes in one 512-bit register (block j in the low half, j + 1 in the high half).
inline __m512i q2_expand_pair(const uint8_t* qs0, const uint8_t* qs1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(q2_codes(qs0)), q2_codes(qs1), 1);
}

// As q2_row_dots_avx2, two blocks per step with vpdpbusd (u8 codes x s8 activations -> s32).
template <int kNT>
inline void q2_row_dots_avx512(const uint8_t* row, const ActBlock* acts, int64_t nb, float* s) {
  constexpr int64_t kB = kQ2_1BlockBytes;
  __m512 acc[kNT];
  float macc0[kNT], macc1[kNT];  // two chains for the minimum's scalar adds (see the AVX2 loop)
  for (int t = 0; t < kNT; ++t) { acc[t] = _mm512_setzero_ps(); macc0[t] = macc1[t] = 0.0f; }
  int64_t j = 0;
  for (; j + 1 < nb; j += 2) {
    const uint8_t* b = row + j * kB;
    const __m512i q = q2_expand_pair(b + 4, b + kB + 4);
    const float d0 = q2_f16(b), m0 = q2_f16(b + 2), d1 = q2_f16(b + kB), m1 = q2_f16(b + kB + 2);
    for (int t = 0; t < kNT; ++t) {
      const ActBlock* a = acts + t * nb + j;
      const __m512i av = _mm512_inserti64x4(
          _mm512_castsi256_si512(q2_acts(a[0].q)), q2_acts(a[1].q), 1);
      const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, av);
      const __m512 sc = _mm512_mask_blend_ps(__mmask16(0xff00), _mm512_set1_ps(d0 * a[0].d), _mm512_set1_ps(d1 * a[1].d));
      acc[t] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(p), acc[t]);
      macc0[t] += m0 * a[0].d * float(a[0].sum);
      macc1[t] += m1 * a[1].d * float(a[1].sum);
    }
  }
  if (j < nb) {
    const uint8_t* b = row + j * kB;
    const __m256i q = q2_codes(b + 4);
    const float d0 = q2_f16(b), m0 = q2_f16(b + 2);
    for (int t = 0; t < kNT; ++t) {
      const ActBlock& a = acts[t * nb + j];
      const __m256i av = q2_acts(a.q);
      const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, av);
      const __m512 pf = _mm512_castps256_ps512(_mm256_cvtepi32_ps(p));
      acc[t] = _mm512_mask3_fmadd_ps(_mm512_set1_ps(d0 * a.d), pf, acc[t], __mmask16(0x00ff));  // low 8 lanes
      macc0[t] += m0 * a.d * float(a.sum);
    }
  }
  for (int t = 0; t < kNT; ++t) s[t] = _mm512_reduce_add_ps(acc[t]) + (macc0[t] + macc1[t]);
}

}  // namespace

void qdot_q2_1_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                      int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int kTile = 4;  // tokens per register tile
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r) + b0 * kQ2_1BlockBytes;
    float s[kTile];
    for (int64_t t = 0; t < n_tokens;) {
      const int k = n_tokens - t >= kTile ? kTile : 1;
      if (k == kTile) q2_row_dots_avx512<kTile>(row, acts + t * nb, nb, s);
      else q2_row_dots_avx512<1>(row, acts + t * nb, nb, s);
      for (int i = 0; i < k; ++i) {
        float* out = y + (t + i) * y_stride + r;
        *out = accumulate ? *out + s[i] : s[i];
      }
      t += k;
    }
  }
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __x86_64__
