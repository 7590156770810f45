// AVX2 + FMA + F16C inner loops (Haswell / Zen and later). Only the functions below the target
// pragma use these instructions, so the file builds with generic x86-64 flags and the dispatcher
// (isa.cpp, driver.cpp) calls it only after __builtin_cpu_supports says the CPU has them. No std
// templates are instantiated inside the pragma region (they would be shared, as COMDATs, with
// generic code).
//
// Quantised products: the int8 x int8 dot comes from maddubs (u8 x s8 -> s16 pairs, at most
// 2 * 128 * 127 < 2^15, no saturation) and madd (-> s32), then one fma with d_w * d_a into a
// float accumulator. Q8_0 (one block per step) moves the weight's sign onto the activation
// (sign_epi8) so the unsigned operand is |w|. Q4_0 (two blocks per step) feeds its unsigned
// nibbles (0..15) directly and removes the -8 offset exactly in int32 (-8 * sum(q_a) per block).
// Prepared weights are applied to a register tile of up to 4 tokens (prefill).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace mote::cpu {
namespace {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum8i(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

void quantize_acts_avx2(const float* x, int64_t n, ActBlock* out) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int64_t nb = (n + kActBlock - 1) / kActBlock;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t start = b * kActBlock;
    const int64_t m = n - start < kActBlock ? n - start : kActBlock;
    alignas(32) float tail[kActBlock];
    const float* src = x + start;
    if (m < kActBlock) {  // the last, partial block: zero-padded copy
      for (int j = 0; j < kActBlock; ++j) tail[j] = j < m ? src[j] : 0.0f;
      src = tail;
    }
    __m256 v[4];
    __m256i amax = _mm256_setzero_si256();  // max |x| as integer bits (act_scale): sees NaN/Inf
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(src + 8 * k);
      amax = _mm256_max_epu32(amax, _mm256_castps_si256(_mm256_and_ps(v[k], abs_mask)));
    }
    alignas(32) uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), amax);
    uint32_t amax_bits = 0;
    for (uint32_t l : lanes) amax_bits = l > amax_bits ? l : amax_bits;
    const ActScale sc = act_scale(amax_bits);
    if (!sc.finite) {
      store_non_finite_block(&out[b]);
      continue;
    }
    const float d = sc.d;
    const __m256 inv = _mm256_set1_ps(sc.inv);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[k], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    // packs interleave 128-bit lanes; the permute restores element order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), _mm256_permutevar8x32_epi32(p, order));
    out[b].d = d;
    out[b].sum = hsum8i(s);
  }
}

// 8 int32 lanes whose sum is the block's int8 dot product, as floats. |w| and w (for its signs)
// are prepared once per block and reused for every token of a tile.
inline __m256 q8_block(__m256i abs_w, __m256i w, const int8_t* aq) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq));
  const __m256i p = _mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(av, w));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

inline __m256i load_q8(const uint8_t* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)); }

// Q8_0, one row against kNT tokens (acts[t * nb + j]); s[t] = the dot for token t. Blocks
// alternate between two accumulators (fma latency); each token's sum is formed in the same order
// whatever kNT is, so a token's result never depends on the batch it came in.
template <int kNT>
inline void q8_row_dots(const uint8_t* row, const ActBlock* acts, int64_t nb, float* s) {
  constexpr int64_t kB = kQ8_0BlockBytes;
  __m256 acc0[kNT], acc1[kNT];
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 1 < nb; j += 2) {
    const uint8_t* b = row + j * kB;
    const __m256i w0 = load_q8(b), w1 = load_q8(b + kB);
    const __m256i aw0 = _mm256_sign_epi8(w0, w0), aw1 = _mm256_sign_epi8(w1, w1);
    const float d0 = load_f16(b), d1 = load_f16(b + kB);
    for (int t = 0; t < kNT; ++t) {
      const ActBlock* a = acts + t * nb + j;
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * a[0].d), q8_block(aw0, w0, a[0].q), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(d1 * a[1].d), q8_block(aw1, w1, a[1].q), acc1[t]);
    }
  }
  if (j < nb) {
    const uint8_t* b = row + j * kB;
    const __m256i w0 = load_q8(b);
    const __m256i aw0 = _mm256_sign_epi8(w0, w0);
    const float d0 = load_f16(b);
    for (int t = 0; t < kNT; ++t) {
      const ActBlock& a = acts[t * nb + j];
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * a.d), q8_block(aw0, w0, a.q), acc0[t]);
    }
  }
  for (int t = 0; t < kNT; ++t) s[t] = hsum8(_mm256_add_ps(acc0[t], acc1[t]));
}

void qdot_q8_0_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int kTile = 4;  // tokens per register tile
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r) + b0 * kQ8_0BlockBytes;
    float s[kTile];
    for (int64_t t = 0; t < n_tokens;) {
      const int k = n_tokens - t >= kTile ? kTile : 1;
      if (k == kTile) q8_row_dots<kTile>(row, acts + t * nb, nb, s);
      else q8_row_dots<1>(row, acts + t * nb, nb, s);
      for (int i = 0; i < k; ++i) {
        float* out = y + (t + i) * y_stride + r;
        *out = accumulate ? *out + s[i] : s[i];
      }
      t += k;
    }
  }
}

// One Q4_0 block on its own (the odd last block of a row): 8 lanes summing to its int8 dot.
inline __m256 q4_block(const uint8_t* qs, const ActBlock& a) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m256i u = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
  const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, av), _mm256_set1_epi16(1));
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(p, _mm256_set1_epi32(a.sum)));
}

// Q4_0 takes 2 blocks per 256-bit step. The activations of each pair of blocks are rearranged
// once per call (every row reuses them) to match 2 weight blocks loaded as 2 x 16 bytes:
// lo = q[0:16] of both blocks (the low nibbles' elements), hi = q[16:32]. 80 bytes per pair.
struct ActPair {
  int8_t lo[32];
  int8_t hi[32];
  float d[2];
  int32_t neg2sum[2];  // -2 * sum(q): each block spans 4 int32 lanes, so 4 x -2 x sum = -8 x sum
};
constexpr int64_t kMaxPairs = 1024;  // the driver passes at most 2048 blocks: 80 KiB

void repack_pairs(const ActBlock* a, int64_t n_pairs, ActPair* out) {
  for (int64_t p = 0; p < n_pairs; ++p)
    for (int k = 0; k < 2; ++k) {
      const ActBlock& b = a[2 * p + k];
      __builtin_memcpy(out[p].lo + 16 * k, b.q, 16);
      __builtin_memcpy(out[p].hi + 16 * k, b.q + 16, 16);
      out[p].d[k] = b.d;
      out[p].neg2sum[k] = -2 * b.sum;
    }
}

// Two weight blocks' nibbles (lo: elements 0..15 of both, hi: 16..31) and scales, prepared once
// per tile.
struct PairWeights {
  __m256i lo, hi;
  __m128 ws;
};

inline PairWeights load_pair(const uint8_t* b) {
  constexpr int64_t kB = kQ4_0BlockBytes;
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2))),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kB + 2)), 1);
  const __m256i mask = _mm256_set1_epi8(0x0f);
  uint16_t h[2];
  __builtin_memcpy(&h[0], b, 2);
  __builtin_memcpy(&h[1], b + kB, 2);
  return {_mm256_and_si256(v, mask), _mm256_and_si256(_mm256_srli_epi16(v, 4), mask),
          _mm_cvtph_ps(_mm_setr_epi16(short(h[0]), short(h[1]), 0, 0, 0, 0, 0, 0))};
}

inline __m256 q4_pair(const PairWeights& pw, const ActPair& p, __m256 acc) {
  const __m256i expand2 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  // int16 pair sums are at most 2 * 15 * 127 each, 4 * 15 * 127 after the add: no saturation.
  const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(pw.lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.lo))),
                                       _mm256_maddubs_epi16(pw.hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.hi))));
  const __m256i corr = _mm256_permutevar8x32_epi32(
      _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p.neg2sum))), expand2);
  const __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), corr);
  const __m128 ds = _mm_mul_ps(pw.ws, _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p.d))));
  return _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(ds), expand2), _mm256_cvtepi32_ps(dot), acc);
}

// Q4_0, one row against kNT tokens: pairs from pairs[t * np + i], the odd last block from
// acts[t * nb + j]; same order for every token whatever kNT is (see q8_row_dots).
template <int kNT>
inline void q4_row_dots(const uint8_t* row, const ActPair* pairs, int64_t np, const ActBlock* acts, int64_t nb,
                        float* s) {
  constexpr int64_t kB = kQ4_0BlockBytes;
  __m256 acc0[kNT], acc1[kNT];
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < np; i += 2) {
    const PairWeights w0 = load_pair(row + 2 * i * kB), w1 = load_pair(row + 2 * (i + 1) * kB);
    for (int t = 0; t < kNT; ++t) {
      acc0[t] = q4_pair(w0, pairs[t * np + i], acc0[t]);
      acc1[t] = q4_pair(w1, pairs[t * np + i + 1], acc1[t]);
    }
  }
  if (i < np) {
    const PairWeights w0 = load_pair(row + 2 * i * kB);
    for (int t = 0; t < kNT; ++t) acc0[t] = q4_pair(w0, pairs[t * np + i], acc0[t]);
  }
  for (int t = 0; t < kNT; ++t) {
    for (int64_t j = 2 * np; j < nb; ++j) {
      const uint8_t* b = row + j * kB;
      const ActBlock& a = acts[t * nb + j];
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(load_f16(b) * a.d), q4_block(b + 2, a), acc1[t]);
    }
    s[t] = hsum8(_mm256_add_ps(acc0[t], acc1[t]));
  }
}

void qdot_q4_0_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int kTile = 4;  // tokens per register tile
  ActPair pairs[kMaxPairs];
  // Rows longer than the pair buffer (never from the driver) run block by block.
  const int64_t np = nb / 2 <= kMaxPairs ? nb / 2 : 0;
  const int64_t tokens_per_pass = np > 0 ? kMaxPairs / np : n_tokens;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += tokens_per_pass) {
    const int64_t nt = n_tokens - t0 < tokens_per_pass ? n_tokens - t0 : tokens_per_pass;
    for (int64_t t = 0; t < nt; ++t) repack_pairs(acts + (t0 + t) * nb, np, pairs + t * np);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.row(r) + b0 * kQ4_0BlockBytes;
      float s[kTile];
      for (int64_t t = 0; t < nt;) {
        const int k = nt - t >= kTile ? kTile : 1;
        if (k == kTile) q4_row_dots<kTile>(row, pairs + t * np, np, acts + (t0 + t) * nb, nb, s);
        else q4_row_dots<1>(row, pairs + t * np, np, acts + (t0 + t) * nb, nb, s);
        for (int i = 0; i < k; ++i) {
          float* out = y + (t0 + t + i) * y_stride + r;
          *out = accumulate ? *out + s[i] : s[i];
        }
        t += k;
      }
    }
  }
}

// Weight element loaders: 8 consecutive values at column c as f32, and one value.
template <WeightType kType>
inline __m256 load8(const uint8_t* row, int64_t c) {
  if constexpr (kType == WeightType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c));
    if constexpr (kType == WeightType::F16) return _mm256_cvtph_ps(h);
    else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <WeightType kType>
inline float load1(const uint8_t* row, int64_t c) {
  if constexpr (kType == WeightType::F32) return reinterpret_cast<const float*>(row)[c];
  if constexpr (kType == WeightType::F16) return load_f16(row + 2 * c);
  uint16_t h;
  __builtin_memcpy(&h, row + 2 * c, 2);
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

template <WeightType kType>
void fdot_avx2(const WeightView& w, int64_t r0, int64_t r1, const float* x, int64_t x_stride, int64_t n_tokens,
               float* y, int64_t y_stride) {
  const int64_t cols = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * x_stride;
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      int64_t c = 0;
      for (; c + 32 <= cols; c += 32)
        for (int k = 0; k < 4; ++k)
          acc[k] = _mm256_fmadd_ps(load8<kType>(row, c + 8 * k), _mm256_loadu_ps(xt + c + 8 * k), acc[k]);
      for (; c + 8 <= cols; c += 8)
        acc[0] = _mm256_fmadd_ps(load8<kType>(row, c), _mm256_loadu_ps(xt + c), acc[0]);
      float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
      for (; c < cols; ++c) s += load1<kType>(row, c) * xt[c];
      y[t * y_stride + r] = s;
    }
  }
}

// Fused decode + axpy for the transposed product: y[i] += alpha * W[i], whole groups of 8 with
// SIMD, the last few scalar.
void axpy_q8_0_avx2(float alpha, const uint8_t* src, int64_t n, float* y) {
  for (int64_t c = 0; c < n; c += kActBlock, src += kQ8_0BlockBytes) {
    const float df = alpha * load_f16(src);
    const __m256 d = _mm256_set1_ps(df);
    int64_t k = 0;
    for (; k < 32 && c + k + 8 <= n; k += 8) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 2 + k)));
      _mm256_storeu_ps(y + c + k, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q), _mm256_loadu_ps(y + c + k)));
    }
    for (; k < 32 && c + k < n; ++k) y[c + k] += df * float(int8_t(src[2 + k]));
  }
}

void axpy_q4_0_avx2(float alpha, const uint8_t* src, int64_t n, float* y) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  for (int64_t c = 0; c < n; c += kActBlock, src += kQ4_0BlockBytes) {
    const float df = alpha * load_f16(src);
    if (c + 32 <= n) {
      const __m256 d = _mm256_set1_ps(df);
      const __m256i eight = _mm256_set1_epi32(8);
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
      const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
      const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
      for (int k = 0; k < 4; ++k) {
        const __m256 w = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[k]), eight));
        _mm256_storeu_ps(y + c + 8 * k, _mm256_fmadd_ps(d, w, _mm256_loadu_ps(y + c + 8 * k)));
      }
    } else {
      for (int64_t k = 0; c + k < n; ++k) {
        const uint8_t byte = src[2 + (k & 15)];
        y[c + k] += df * float(int(k < 16 ? (byte & 0xf) : (byte >> 4)) - 8);
      }
    }
  }
}

template <WeightType kType>
void axpy_half_avx2(float alpha, const uint8_t* src, int64_t n, float* y) {
  const __m256 a = _mm256_set1_ps(alpha);
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) _mm256_storeu_ps(y + c, _mm256_fmadd_ps(a, load8<kType>(src, c), _mm256_loadu_ps(y + c)));
  for (; c < n; ++c) y[c] += alpha * load1<kType>(src, c);
}

float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_avx2(float alpha, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace

const IsaOps kAvx2Ops = {
    "avx2",
    quantize_acts_avx2,
    qdot_q8_0_avx2,
    qdot_q4_0_avx2,
    qdot_q2_1_avx2,
    qdot_mxfp4_avx2,
    qdot_grouped_q8_0_avx2,
    qdot_grouped_q4_0_avx2,
    qdot_grouped_q2_1_avx2,
    {fdot_avx2<WeightType::F32>, fdot_avx2<WeightType::F16>, fdot_avx2<WeightType::BF16>},
    {nullptr, axpy_half_avx2<WeightType::F16>, axpy_half_avx2<WeightType::BF16>, axpy_q8_0_avx2, axpy_q4_0_avx2,
     axpy_mxfp4_avx2},
    dot_avx2,
    axpy_avx2,
};

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __x86_64__
