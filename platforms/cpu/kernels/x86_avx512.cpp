// AVX-512 (F, BW, VL) + VNNI inner loops (Ice Lake, Zen 4 and later). Same arrangement as
// x86_avx2.cpp: only code below the target pragma uses these instructions, the dispatcher calls
// it only after __builtin_cpu_supports confirmed them, and no std template is instantiated here.
//
// Quantised products: vpdpbusd (u8 x s8, 4-way, into int32) does the int8 dot. Q8_0 moves the
// weight's sign onto the activation (|w| is the unsigned operand; -128 becomes 128, still exact);
// Q4_0's unsigned nibbles go in directly and the -8 offset is removed in int32 (-8 * sum(q_a) per
// block). The main loop takes groups of 4 blocks (activations rearranged once per call so each
// operand is one 64-byte load, the 4 weight scales converted together) and applies each group's
// prepared weights to a register tile of up to 4 tokens (prefill); leftover blocks go in pairs
// (block j in int32 lanes 0..7, block j + 1 in lanes 8..15). One fma per register applies
// d_w * d_a per lane group.
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

// A stand-in for the missing second block of an odd count: scale 0, codes 0.
alignas(64) const uint8_t kZeroWeights[64] = {};
const ActBlock kZeroActs = {};

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

void quantize_acts_avx512(const float* x, int64_t n, ActBlock* out) {
  const int64_t nb = (n + kActBlock - 1) / kActBlock;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t start = b * kActBlock;
    const int64_t m = n - start < kActBlock ? n - start : kActBlock;
    // Lanes past the end of x load as zero (masked loads never touch memory they skip).
    const __mmask16 m0 = m >= 16 ? __mmask16(0xffff) : __mmask16((1u << m) - 1);
    const __mmask16 m1 = m >= 32 ? __mmask16(0xffff) : m <= 16 ? __mmask16(0) : __mmask16((1u << (m - 16)) - 1);
    const __m512 v0 = _mm512_maskz_loadu_ps(m0, x + start);
    const __m512 v1 = _mm512_maskz_loadu_ps(m1, x + start + 16);
    // max |x| as integer bits (act_scale): NaN/Inf show up instead of being dropped by max_ps.
    const __m512i abs_bits = _mm512_max_epu32(_mm512_castps_si512(_mm512_abs_ps(v0)),
                                              _mm512_castps_si512(_mm512_abs_ps(v1)));
    const ActScale s = act_scale(uint32_t(_mm512_reduce_max_epu32(abs_bits)));
    if (!s.finite) {
      store_non_finite_block(&out[b]);
      continue;
    }
    const float d = s.d;
    const __m512 inv = _mm512_set1_ps(s.inv);
    const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].q), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].q + 16), _mm512_cvtsepi32_epi8(q1));
    out[b].d = d;
    out[b].sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
}

inline __m512i load_2x256(const void* p0, const void* p1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(p0))),
                            _mm256_loadu_si256(static_cast<const __m256i*>(p1)), 1);
}

inline __m512 pair_scales(float d0, float d1) {
  return _mm512_mask_blend_ps(__mmask16(0xff00), _mm512_set1_ps(d0), _mm512_set1_ps(d1));
}

// d_w * d_a * (int8 dot) for blocks w0/a0 (lanes 0..7) and w1/a1 (lanes 8..15), added to acc.
inline __m512 q8_pair(const uint8_t* w0, const uint8_t* w1, const ActBlock& a0, const ActBlock& a1, __m512 acc) {
  const __m512i wv = load_2x256(w0 + 2, w1 + 2);
  const __m512i av = load_2x256(a0.q, a1.q);
  const __m512i signed_a = _mm512_mask_sub_epi8(av, _mm512_movepi8_mask(wv), _mm512_setzero_si512(), av);
  const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(wv), signed_a);
  return _mm512_fmadd_ps(pair_scales(load_f16(w0) * a0.d, load_f16(w1) * a1.d), _mm512_cvtepi32_ps(p), acc);
}

inline __m512 q4_pair(const uint8_t* w0, const uint8_t* w1, const ActBlock& a0, const ActBlock& a1, __m512 acc) {
  const __m256i bytes = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w1 + 2)),
                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + 2)));
  // 128-bit lanes [bytes0, bytes0, bytes1, bytes1]; odd lanes take the high nibbles.
  const __m512i z = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(bytes));
  const __m512i u = _mm512_and_si512(_mm512_mask_blend_epi64(__mmask8(0xcc), z, _mm512_srli_epi16(z, 4)),
                                     _mm512_set1_epi8(0x0f));
  const __m512i av = load_2x256(a0.q, a1.q);
  const __m512i sums = _mm512_mask_blend_epi32(__mmask16(0xff00), _mm512_set1_epi32(a0.sum), _mm512_set1_epi32(a1.sum));
  const __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, av), sums);
  return _mm512_fmadd_ps(pair_scales(load_f16(w0) * a0.d, load_f16(w1) * a1.d), _mm512_cvtepi32_ps(p), acc);
}

template <bool kQ8>
inline __m512 pair(const uint8_t* w0, const uint8_t* w1, const ActBlock& a0, const ActBlock& a1, __m512 acc) {
  if constexpr (kQ8) return q8_pair(w0, w1, a0, a1, acc);
  else return q4_pair(w0, w1, a0, a1, acc);
}

// The main loops take 4 blocks per step, with the activations of each group of 4 blocks
// rearranged once per call (they are reused by every row) so that each operand is one 64-byte
// load: for Q8_0, lo = q of blocks 0 and 1, hi = q of blocks 2 and 3; for Q4_0, lo = q[0:16] of
// blocks 0..3 and hi = q[16:32] (matching the low and high nibbles of 4 weight blocks loaded as
// 4 x 16 bytes). 160 bytes per group.
struct ActQuad {
  int8_t lo[64];
  int8_t hi[64];
  float d[4];
  int32_t neg2sum[4];  // Q4_0: -2 * sum(q); each block spans 4 int32 lanes, so 4 x -2 x sum = -8 x sum
};
// Groups one call rearranges at most (the driver passes at most 2048 blocks in all): 80 KiB.
constexpr int64_t kMaxQuads = 512;

template <bool kQ8>
void repack_quads(const ActBlock* a, int64_t n_quads, ActQuad* out) {
  for (int64_t g = 0; g < n_quads; ++g) {
    for (int k = 0; k < 4; ++k) {
      const ActBlock& b = a[4 * g + k];
      if constexpr (kQ8) {
        __builtin_memcpy((k < 2 ? out[g].lo : out[g].hi) + 32 * (k & 1), b.q, 32);
      } else {
        __builtin_memcpy(out[g].lo + 16 * k, b.q, 16);
        __builtin_memcpy(out[g].hi + 16 * k, b.q + 16, 16);
      }
      out[g].d[k] = b.d;
      out[g].neg2sum[k] = -2 * b.sum;
    }
  }
}

// The f16 scales of 4 consecutive weight blocks (`stride` bytes apart), as f32.
inline __m128 weight_scales4(const uint8_t* b, int64_t stride) {
  uint16_t h[4];
  for (int k = 0; k < 4; ++k) __builtin_memcpy(&h[k], b + k * stride, 2);
  return _mm_cvtph_ps(_mm_setr_epi16(short(h[0]), short(h[1]), short(h[2]), short(h[3]), 0, 0, 0, 0));
}

// The weights of one group of 4 blocks, prepared once and applied to every token of a tile.
struct QuadWeights {
  __m512i x0, x1;    // Q8_0: |w| of blocks 0-1 and 2-3; Q4_0: low and high nibbles of blocks 0-3
  __mmask64 m0, m1;  // Q8_0: the sign bits of w (moved onto the activations)
  __m128 ws;         // the 4 blocks' f16 scales as f32
};

template <bool kQ8>
inline QuadWeights load_quad(const uint8_t* b) {
  QuadWeights qw;
  if constexpr (kQ8) {
    constexpr int64_t kB = kQ8_0BlockBytes;
    const __m512i w0 = load_2x256(b + 2, b + kB + 2), w1 = load_2x256(b + 2 * kB + 2, b + 3 * kB + 2);
    qw.x0 = _mm512_abs_epi8(w0);
    qw.x1 = _mm512_abs_epi8(w1);
    qw.m0 = _mm512_movepi8_mask(w0);
    qw.m1 = _mm512_movepi8_mask(w1);
    qw.ws = weight_scales4(b, kB);
  } else {
    constexpr int64_t kB = kQ4_0BlockBytes;
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kB + 2)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * kB + 2)), 2);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 3 * kB + 2)), 3);
    const __m512i mask = _mm512_set1_epi8(0x0f);
    qw.x0 = _mm512_and_si512(v, mask);
    qw.x1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
    qw.m0 = qw.m1 = 0;
    qw.ws = weight_scales4(b, kB);
  }
  return qw;
}

// acc + the 4 blocks' d_w * d_a * (int8 dot) for one token.
template <bool kQ8>
inline __m512 quad_dot(const QuadWeights& qw, const ActQuad& q, __m512 acc) {
  const __m512i expand4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  if constexpr (kQ8) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i a0 = _mm512_loadu_si512(q.lo), a1 = _mm512_loadu_si512(q.hi);
    const __m512i p0 = _mm512_dpbusd_epi32(zero, qw.x0, _mm512_mask_sub_epi8(a0, qw.m0, zero, a0));
    const __m512i p1 = _mm512_dpbusd_epi32(zero, qw.x1, _mm512_mask_sub_epi8(a1, qw.m1, zero, a1));
    const __m512 ds = _mm512_castps128_ps512(_mm_mul_ps(qw.ws, _mm_loadu_ps(q.d)));
    const __m512 d0 = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), ds);
    const __m512 d1 = _mm512_permutexvar_ps(_mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), ds);
    return _mm512_add_ps(acc, _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(p1), _mm512_mul_ps(d0, _mm512_cvtepi32_ps(p0))));
  } else {
    __m512i p = _mm512_permutexvar_epi32(expand4, _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q.neg2sum))));
    p = _mm512_dpbusd_epi32(p, qw.x0, _mm512_loadu_si512(q.lo));
    p = _mm512_dpbusd_epi32(p, qw.x1, _mm512_loadu_si512(q.hi));
    const __m128 ds = _mm_mul_ps(qw.ws, _mm_loadu_ps(q.d));
    return _mm512_fmadd_ps(_mm512_permutexvar_ps(expand4, _mm512_castps128_ps512(ds)), _mm512_cvtepi32_ps(p), acc);
  }
}

// One row against kNT tokens (a register tile: each group of weights is prepared once for all
// of them): groups of 4 blocks from quads[t * nq + g], then the remaining nb - 4 * nq blocks in
// pairs from acts[t * nb + j]; s[t] = the dot for token t. Each token's sum is formed in the same
// order whatever kNT is, so a token's result never depends on the batch it came in.
template <bool kQ8, int kNT>
inline void row_dots(const uint8_t* row, const ActQuad* quads, int64_t nq, const ActBlock* acts, int64_t nb, float* s) {
  constexpr int64_t kBytes = kQ8 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
  __m512 acc0[kNT], acc1[kNT];  // two accumulators per token (fma latency)
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t g = 0;
  for (; g + 1 < nq; g += 2) {
    const QuadWeights w0 = load_quad<kQ8>(row + 4 * g * kBytes);
    const QuadWeights w1 = load_quad<kQ8>(row + 4 * (g + 1) * kBytes);
    for (int t = 0; t < kNT; ++t) {
      acc0[t] = quad_dot<kQ8>(w0, quads[t * nq + g], acc0[t]);
      acc1[t] = quad_dot<kQ8>(w1, quads[t * nq + g + 1], acc1[t]);
    }
  }
  if (g < nq) {
    const QuadWeights w0 = load_quad<kQ8>(row + 4 * g * kBytes);
    for (int t = 0; t < kNT; ++t) acc0[t] = quad_dot<kQ8>(w0, quads[t * nq + g], acc0[t]);
  }
  for (int t = 0; t < kNT; ++t) {
    const ActBlock* a = acts + t * nb;
    int64_t j = 4 * nq;
    for (; j + 1 < nb; j += 2) acc1[t] = pair<kQ8>(row + j * kBytes, row + (j + 1) * kBytes, a[j], a[j + 1], acc1[t]);
    if (j < nb) acc0[t] = pair<kQ8>(row + j * kBytes, kZeroWeights, a[j], kZeroActs, acc0[t]);
    s[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
  }
}

template <bool kQ8>
void qdot_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                 int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int64_t kBytes = kQ8 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
  constexpr int kTile = 4;  // tokens per register tile
  ActQuad quads[kMaxQuads];
  // Rows longer than the quad buffer (never from the driver) run on pairs alone.
  const int64_t nq = nb / 4 <= kMaxQuads ? nb / 4 : 0;
  const int64_t tokens_per_pass = nq > 0 ? kMaxQuads / nq : n_tokens;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += tokens_per_pass) {
    const int64_t nt = n_tokens - t0 < tokens_per_pass ? n_tokens - t0 : tokens_per_pass;
    for (int64_t t = 0; t < nt; ++t) repack_quads<kQ8>(acts + (t0 + t) * nb, nq, quads + t * nq);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.row(r) + b0 * kBytes;
      float s[kTile];
      for (int64_t t = 0; t < nt;) {
        const int k = nt - t >= kTile ? kTile : 1;
        if (k == kTile) row_dots<kQ8, kTile>(row, quads + t * nq, nq, acts + (t0 + t) * nb, nb, s);
        else row_dots<kQ8, 1>(row, quads + t * nq, nq, acts + (t0 + t) * nb, nb, s);
        for (int i = 0; i < k; ++i) {
          float* out = y + (t0 + t + i) * y_stride + r;
          *out = accumulate ? *out + s[i] : s[i];
        }
        t += k;
      }
    }
  }
}

// 16 weights at column c as f32; lanes outside `m` are zero and their memory is not read.
template <WeightType kType>
inline __m512 load16(const uint8_t* row, int64_t c, __mmask16 m) {
  if constexpr (kType == WeightType::F32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, row + 2 * c);
    if constexpr (kType == WeightType::F16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <WeightType kType>
void fdot_avx512(const WeightView& w, int64_t r0, int64_t r1, const float* x, int64_t x_stride, int64_t n_tokens,
                 float* y, int64_t y_stride) {
  const int64_t cols = w.cols;
  const __mmask16 all = 0xffff;
  const __mmask16 tail = __mmask16((1u << (cols % 16)) - 1);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * x_stride;
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      int64_t c = 0;
      for (; c + 64 <= cols; c += 64)
        for (int k = 0; k < 4; ++k)
          acc[k] = _mm512_fmadd_ps(load16<kType>(row, c + 16 * k, all), _mm512_loadu_ps(xt + c + 16 * k), acc[k]);
      for (; c + 16 <= cols; c += 16)
        acc[0] = _mm512_fmadd_ps(load16<kType>(row, c, all), _mm512_loadu_ps(xt + c), acc[0]);
      if (c < cols) acc[1] = _mm512_fmadd_ps(load16<kType>(row, c, tail), _mm512_maskz_loadu_ps(tail, xt + c), acc[1]);
      y[t * y_stride + r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
    }
  }
}

// Fused decode + axpy for the transposed product: y[i] += alpha * W[i], 16 values per step, the
// tail under a mask (a partial block's codes are read from its full 32-value storage).
inline __mmask16 first_n(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// y[0..16) += scale * w under mask m (full groups take the unmasked path: cheaper on some CPUs).
inline void fma_store(float* y, __mmask16 m, __m512 scale, __m512 w) {
  if (m == __mmask16(0xffff)) _mm512_storeu_ps(y, _mm512_fmadd_ps(scale, w, _mm512_loadu_ps(y)));
  else _mm512_mask_storeu_ps(y, m, _mm512_fmadd_ps(scale, w, _mm512_maskz_loadu_ps(m, y)));
}

void axpy_q8_0_avx512(float alpha, const uint8_t* src, int64_t n, float* y) {
  for (int64_t c = 0; c < n; c += kActBlock, src += kQ8_0BlockBytes) {
    const __m512 d = _mm512_set1_ps(alpha * load_f16(src));
    for (int64_t h = 0; h < 2 && c + 16 * h < n; ++h) {
      const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 + 16 * h)));
      fma_store(y + c + 16 * h, first_n(n - c - 16 * h), d, _mm512_cvtepi32_ps(q));
    }
  }
}

void axpy_q4_0_avx512(float alpha, const uint8_t* src, int64_t n, float* y) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m512i eight = _mm512_set1_epi32(8);
  for (int64_t c = 0; c < n; c += kActBlock, src += kQ4_0BlockBytes) {
    const __m512 d = _mm512_set1_ps(alpha * load_f16(src));
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    const __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(bytes, mask)), eight);
    fma_store(y + c, first_n(n - c), d, _mm512_cvtepi32_ps(lo));
    if (c + 16 < n) {
      const __m512i hi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask)), eight);
      fma_store(y + c + 16, first_n(n - c - 16), d, _mm512_cvtepi32_ps(hi));
    }
  }
}

template <WeightType kType>
void axpy_half_avx512(float alpha, const uint8_t* src, int64_t n, float* y) {
  const __m512 a = _mm512_set1_ps(alpha);
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    __m512 w;
    if constexpr (kType == WeightType::F16) w = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * c)));
    else w = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * c))), 16));
    _mm512_storeu_ps(y + c, _mm512_fmadd_ps(a, w, _mm512_loadu_ps(y + c)));
  }
  if (c < n) fma_store(y + c, first_n(n - c), a, load16<kType>(src, c, first_n(n - c)));
}

float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void axpy_avx512(float alpha, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

}  // namespace

const IsaOps kAvx512Ops = {
    "avx512",
    quantize_acts_avx512,
    qdot_avx512<true>,
    qdot_avx512<false>,
    qdot_q2_1_avx512,
    qdot_mxfp4_avx512,
    qdot_grouped_q8_0_avx512,
    qdot_grouped_q4_0_avx512,
    qdot_grouped_q2_1_avx512,
    {fdot_avx512<WeightType::F32>, fdot_avx512<WeightType::F16>, fdot_avx512<WeightType::BF16>},
    {nullptr, axpy_half_avx512<WeightType::F16>, axpy_half_avx512<WeightType::BF16>, axpy_q8_0_avx512,
     axpy_q4_0_avx512, axpy_mxfp4_avx512},
    dot_avx512,
    axpy_avx512,
};

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __x86_64__
