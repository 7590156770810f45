// MXFP4 (gpt-oss experts; layout in kernels/quant.h) inner loops for AVX2 and AVX-512 VNNI: the
// int8 product with quantised activations (QDotRowsFn) and the fused decode + axpy of the
// transposed product. Each function's target pragma limits the instructions to its ISA; the
// dispatcher only calls them where the CPU has it. No std template is instantiated inside the
// pragma regions.
//
// A block's nibbles become int8 weights w = 2 * E2M1 value (isa.h, kMxfp4Int8) with one byte
// shuffle; its contribution to a row-token dot is 2^(e - 128) * d_a * sum_i w_i * q_a,i
// (mxfp4_half_scale: exact for every e, NaN for e = 255). The byte layout puts element 2i in the
// low nibble of byte i and 2i + 1 in the high nibble, so the weights come out as [even elements |
// odd elements]; the activations are rearranged to that order once per call (mx_repack), as
// every row reuses them. Only the order inside a block changes: all its lanes share one scale.
//  AVX2: maddubs(|w|, sign(q_a, w)) (int16 pair sums at most 2 * 12 * 127, no saturation), madd
//        to int32, one fma per block into a float accumulator; blocks alternate between two.
//  AVX-512: two blocks per zmm; |w| from a magnitude table and a mask of the negative codes that
//        negates the activations (|q_a| <= 127, so -q_a is exact); vpdpbusd, one fma per pair.
// Prepared weights are applied to a register tile of up to 4 tokens (prefill); each token's sum
// is formed in the same order whatever the tile, so a result never depends on its batch.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

namespace mote::cpu {
namespace {

constexpr int64_t kMxB = kMxfp4BlockBytes;

// Quantised activations in the weights' element order: q[i] = [even elements | odd elements] of
// block i, d[i] its scale. Blocks as in QDotRowsFn (token t's block j at t * nb + j). 72 KiB on
// the calling thread's stack (the driver's own buffer is 80 KiB; worker stacks are MiBs).
constexpr int64_t kMxMaxBlocks = 2048;
struct MxActs {
  alignas(64) int8_t q[kMxMaxBlocks][32];
  float d[kMxMaxBlocks];
};

// n_tokens x nb blocks, token t's from src + t * src_stride.
void mx_repack(const ActBlock* src, int64_t src_stride, int64_t n_tokens, int64_t nb, MxActs* out) {
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t j = 0; j < nb; ++j) {
      const ActBlock& a = src[t * src_stride + j];
      int8_t* q = out->q[t * nb + j];
      for (int k = 0; k < 16; ++k) {
        q[k] = a.q[2 * k];
        q[16 + k] = a.q[2 * k + 1];
      }
      out->d[t * nb + j] = a.d;
    }
}

// One row's dots against a tile of tokens: s[t] for token t, whose blocks start at acts index
// base + t * nb.
using MxRowFn = void (*)(const uint8_t* row, const MxActs& acts, int64_t base, int64_t nb, float* s);

// The QDotRowsFn body shared by both ISAs: chunks of at most kMxMaxBlocks activation blocks
// (columns first, then tokens; the driver always fits in one), tiles of 4 tokens, then singles.
void mx_qdot(MxRowFn row1, MxRowFn row4, const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
             const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int kTile = 4;
  if (nb <= 0) {  // no columns: the dots are 0
    for (int64_t t = 0; t < n_tokens; ++t)
      for (int64_t r = r0; r < r1; ++r)
        if (!accumulate) y[t * y_stride + r] = 0.0f;
    return;
  }
  MxActs buf;
  for (int64_t cb = 0; cb < nb; cb += kMxMaxBlocks) {
    const int64_t cn = nb - cb < kMxMaxBlocks ? nb - cb : kMxMaxBlocks;
    const int64_t tokens_per_pass = kMxMaxBlocks / cn;
    const bool add = accumulate || cb > 0;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += tokens_per_pass) {
      const int64_t nt = n_tokens - t0 < tokens_per_pass ? n_tokens - t0 : tokens_per_pass;
      mx_repack(acts + t0 * nb + cb, nb, nt, cn, &buf);
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.row(r) + (b0 + cb) * kMxB;
        float s[kTile];
        for (int64_t t = 0; t < nt;) {
          const int k = nt - t >= kTile ? kTile : 1;
          (k == kTile ? row4 : row1)(row, buf, t * cn, cn, s);
          for (int i = 0; i < k; ++i) {
            float* out = y + (t0 + t + i) * y_stride + r;
            *out = add ? *out + s[i] : s[i];
          }
          t += k;
        }
      }
    }
  }
}

// The scalar tail of the axpy kernels: y[k] += alpha * value for the first n < 32 elements.
void mx_axpy_tail(float alpha, const uint8_t* block, int64_t n, float* y) {
  const float df = alpha * mxfp4_half_scale(block[0]);
  for (int64_t k = 0; k < n; ++k) {
    const uint8_t byte = block[1 + k / 2];
    y[k] += df * float(kMxfp4Int8[(k & 1) ? (byte >> 4) : (byte & 0xf)]);
  }
}

}  // namespace
}  // namespace mote::cpu

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace mote::cpu {
namespace {

inline float mx_hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// A block's 16 nibble bytes -> 32 nibbles [low nibbles (even elements) | high nibbles (odd)].
inline __m256i mx_nibbles(const uint8_t* block) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 1));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0f));
}

// Nibbles -> int8 weights 2 * value (kMxfp4Int8, in both 128-bit lanes).
inline __m256i mx_weights_avx2(const uint8_t* block) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                       0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  return _mm256_shuffle_epi8(lut, mx_nibbles(block));
}

// 8 int32 lanes summing to the block's int8 dot, as floats.
inline __m256 mx_block_avx2(__m256i abs_w, __m256i w, const int8_t* aq) {
  const __m256i av = _mm256_load_si256(reinterpret_cast<const __m256i*>(aq));
  const __m256i p = _mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(av, w));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

template <int kNT>
void mx_row_avx2(const uint8_t* row, const MxActs& a, int64_t base, int64_t nb, float* s) {
  __m256 acc0[kNT], acc1[kNT];
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 1 < nb; j += 2) {
    const uint8_t* b = row + j * kMxB;
    const __m256i w0 = mx_weights_avx2(b), w1 = mx_weights_avx2(b + kMxB);
    const __m256i aw0 = _mm256_abs_epi8(w0), aw1 = _mm256_abs_epi8(w1);
    const float e0 = mxfp4_half_scale(b[0]), e1 = mxfp4_half_scale(b[kMxB]);
    for (int t = 0; t < kNT; ++t) {
      const int64_t i = base + t * nb + j;
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(e0 * a.d[i]), mx_block_avx2(aw0, w0, a.q[i]), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(e1 * a.d[i + 1]), mx_block_avx2(aw1, w1, a.q[i + 1]), acc1[t]);
    }
  }
  if (j < nb) {
    const uint8_t* b = row + j * kMxB;
    const __m256i w0 = mx_weights_avx2(b);
    const __m256i aw0 = _mm256_abs_epi8(w0);
    const float e0 = mxfp4_half_scale(b[0]);
    for (int t = 0; t < kNT; ++t) {
      const int64_t i = base + t * nb + j;
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(e0 * a.d[i]), mx_block_avx2(aw0, w0, a.q[i]), acc0[t]);
    }
  }
  for (int t = 0; t < kNT; ++t) s[t] = mx_hsum8(_mm256_add_ps(acc0[t], acc1[t]));
}

// Signed weights of a block in element order: w[0..15] (low 128 bits), w[16..31] (high).
inline __m256i mx_weights_in_order_avx2(const uint8_t* block) {
  const __m256i w = mx_weights_avx2(block);  // [even elements | odd elements]
  const __m128i ev = _mm256_castsi256_si128(w), od = _mm256_extracti128_si256(w, 1);
  return _mm256_set_m128i(_mm_unpackhi_epi8(ev, od), _mm_unpacklo_epi8(ev, od));
}

}  // namespace

void qdot_mxfp4_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                     int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  mx_qdot(mx_row_avx2<1>, mx_row_avx2<4>, w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}

// y[k] += alpha * W[k] for n values from the block boundary src: whole blocks as 4 x 8 floats
// (alpha * 2^(e - 128) times the int8 weight: the same product as alpha times the decoded value).
void axpy_mxfp4_avx2(float alpha, const uint8_t* src, int64_t n, float* y) {
  int64_t c = 0;
  for (; c + 32 <= n; c += 32, src += kMxB) {
    const __m256 d = _mm256_set1_ps(alpha * mxfp4_half_scale(src[0]));
    const __m256i w = mx_weights_in_order_avx2(src);
    const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; ++k) {
      const __m256 wf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k]));
      _mm256_storeu_ps(y + c + 8 * k, _mm256_fmadd_ps(d, wf, _mm256_loadu_ps(y + c + 8 * k)));
    }
  }
  if (c < n) mx_axpy_tail(alpha, src, n - c, y + c);
}

}  // namespace mote::cpu

#pragma GCC pop_options

// GCC 12's AVX-512 headers build some intrinsics on _mm512_undefined_*(), which trips these
// warnings once inlined (a known false positive; see x86_avx512.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mote::cpu {
namespace {

// Magnitudes |2 * value| of the 16 codes, in every 128-bit lane.
inline __m512i mx_mag_lut512() {
  return _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, 1, 2, 3, 4, 6, 8, 12));
}

// Two blocks' nibbles: [even | odd elements of block 0 | even | odd of block 1].
inline __m512i mx_nibbles_pair(const uint8_t* b0, const uint8_t* b1) {
  const __m256i x = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0 + 1))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1 + 1)), 1);
  const __m512i dup = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(x));
  // Shifting 64-bit lanes by 4 brings each byte's high nibble down; the mask drops what the
  // next byte shifted in.
  const __m512i sh = _mm512_srlv_epi64(dup, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
  return _mm512_and_si512(sh, _mm512_set1_epi8(0x0f));
}

struct MxPair {
  __m512i mag;    // |w| as u8
  __mmask64 neg;  // codes 8..15 (sign bit set)
  float e0, e1;   // 2^(e - 128) of both blocks
};

inline MxPair mx_pair(const uint8_t* b) {
  const __m512i nib = mx_nibbles_pair(b, b + kMxB);
  return {_mm512_shuffle_epi8(mx_mag_lut512(), nib), _mm512_test_epi8_mask(nib, _mm512_set1_epi8(8)),
          mxfp4_half_scale(b[0]), mxfp4_half_scale(b[kMxB])};
}

// Blocks i and i + 1 of the activations against a pair, added into acc.
inline __m512 mx_pair_dot(const MxPair& p, const MxActs& a, int64_t i, __m512 acc) {
  const __m512i av = _mm512_loadu_si512(a.q[i]);  // 32-byte aligned only
  const __m512i sv = _mm512_mask_sub_epi8(av, p.neg, _mm512_setzero_si512(), av);
  const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), p.mag, sv);
  const __m512 sc = _mm512_mask_blend_ps(__mmask16(0xff00), _mm512_set1_ps(p.e0 * a.d[i]), _mm512_set1_ps(p.e1 * a.d[i + 1]));
  return _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(dot), acc);
}

template <int kNT>
void mx_row_avx512(const uint8_t* row, const MxActs& a, int64_t base, int64_t nb, float* s) {
  __m512 acc0[kNT], acc1[kNT];
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 3 < nb; j += 4) {  // two pairs, two dependency chains
    const MxPair p0 = mx_pair(row + j * kMxB), p1 = mx_pair(row + (j + 2) * kMxB);
    for (int t = 0; t < kNT; ++t) {
      const int64_t i = base + t * nb + j;
      acc0[t] = mx_pair_dot(p0, a, i, acc0[t]);
      acc1[t] = mx_pair_dot(p1, a, i + 2, acc1[t]);
    }
  }
  if (j + 1 < nb) {
    const MxPair p0 = mx_pair(row + j * kMxB);
    for (int t = 0; t < kNT; ++t) acc0[t] = mx_pair_dot(p0, a, base + t * nb + j, acc0[t]);
    j += 2;
  }
  if (j < nb) {  // the odd last block, in 256 bits (low 8 lanes of acc1)
    const uint8_t* b = row + j * kMxB;
    const __m256i nib = mx_nibbles(b);
    const __m256i mag = _mm256_shuffle_epi8(_mm512_castsi512_si256(mx_mag_lut512()), nib);
    const __mmask32 neg = _mm256_test_epi8_mask(nib, _mm256_set1_epi8(8));
    const float e0 = mxfp4_half_scale(b[0]);
    for (int t = 0; t < kNT; ++t) {
      const int64_t i = base + t * nb + j;
      const __m256i av = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.q[i]));
      const __m256i sv = _mm256_mask_sub_epi8(av, neg, _mm256_setzero_si256(), av);
      const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), mag, sv);
      const __m512 pf = _mm512_castps256_ps512(_mm256_cvtepi32_ps(dot));
      acc1[t] = _mm512_mask3_fmadd_ps(_mm512_set1_ps(e0 * a.d[i]), pf, acc1[t], __mmask16(0x00ff));
    }
  }
  for (int t = 0; t < kNT; ++t) s[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
}

}  // namespace

void qdot_mxfp4_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                       int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  mx_qdot(mx_row_avx512<1>, mx_row_avx512<4>, w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}

// As axpy_mxfp4_avx2, 2 x 16 floats per block.
void axpy_mxfp4_avx512(float alpha, const uint8_t* src, int64_t n, float* y) {
  const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const __m128i mask = _mm_set1_epi8(0x0f);
  int64_t c = 0;
  for (; c + 32 <= n; c += 32, src += kMxB) {
    const __m512 d = _mm512_set1_ps(alpha * mxfp4_half_scale(src[0]));
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 1));
    const __m128i ev = _mm_shuffle_epi8(lut, _mm_and_si128(x, mask));
    const __m128i od = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(x, 4), mask));
    const __m128i parts[2] = {_mm_unpacklo_epi8(ev, od), _mm_unpackhi_epi8(ev, od)};
    for (int k = 0; k < 2; ++k) {
      const __m512 wf = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(parts[k]));
      _mm512_storeu_ps(y + c + 16 * k, _mm512_fmadd_ps(d, wf, _mm512_loadu_ps(y + c + 16 * k)));
    }
  }
  if (c < n) mx_axpy_tail(alpha, src, n - c, y + c);
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __x86_64__
