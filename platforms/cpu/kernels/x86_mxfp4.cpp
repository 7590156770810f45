// MXFP4 (gpt-oss experts; layout in kernels/quant.h) inner loops for AVX2 and AVX-512 VNNI: the
// int8 product with quantised activations (QDotRowsFn) and the fused decode + axpy of the
// transposed product. Each function's target pragma limits the instructions to its ISA; the
// dispatcher only calls them where the CPU has it. No std template is instantiated inside the
// pragma regions.
//
// A block's nibbles become int8 weights w = 2 * E2M1 value (isa.h, kMxfp4Int8) with one byte
// shuffle; its contribution to a row-token dot is 2^(e - 128) * d_a * sum_i w_i * q_a,i
// (mxfp4_half_scale, here from a 256-entry table: exact for every e, NaN for e = 255). The byte
// layout puts element 2i in the low nibble of byte i and 2i + 1 in the high nibble; as Q4_0's
// loops do, the nibble bytes of several blocks are loaded side by side (2 blocks per ymm, 4 per
// zmm), so one mask gives the even elements of all of them and one shift + mask the odd ones.
// The activations are rearranged to match once per call (mx_repack; every row reuses them), in
// groups of 4 blocks: [even elements of blocks 0..3 | odd elements of blocks 0..3], 16 bytes
// each. Only the order inside a block changes: all its lanes share one scale.
//  AVX2: maddubs(|w|, sign(q_a, w)) on evens and odds (int16 sums at most 4 * 12 * 127, no
//        saturation), madd to int32 (lanes 0..3 block j, 4..7 block j + 1), one fma per pair.
//  AVX-512 (no byte sign instruction): |w| and a mask of the negative weights (vpmovb2m) that
//        negates the activations (|q_a| <= 127, so -q_a is exact); two vpdpbusd (u8 x s8) and
//        one fma per 4 blocks.
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

// 2^(e - 128) for every E8M0 byte (mxfp4_half_scale), built at compile time: one load per block.
struct MxScaleTable {
  float v[256];
  constexpr MxScaleTable() : v() {
    for (int e = 0; e < 256; ++e) {
      const uint32_t bits = e == 255 ? 0x7fc00000u : e >= 2 ? uint32_t(e - 1) << 23 : 0x00200000u << e;
      v[e] = __builtin_bit_cast(float, bits);
    }
  }
};
constexpr MxScaleTable kMxScale;

// Quantised activations in the weights' element order, in groups of 4 blocks (a token's last
// group padded with zero blocks): group g of token t is q[t * ng + g] = [even elements of its
// blocks 0..3 (16 bytes each) | odd elements of blocks 0..3], d[t * ng + g][4k..4k+3] = the
// scale of block k (0 for padding), repeated for the 4 int32 lanes of its dot so that one load
// and one multiply give the lanes' scales. 96 KiB on the calling thread's stack (the driver's
// own buffer is 80 KiB; worker stacks are MiBs).
constexpr int64_t kMxMaxGroups = 512;
struct MxActs {
  alignas(64) int8_t q[kMxMaxGroups][128];
  alignas(64) float d[kMxMaxGroups][16];
};

// n_tokens x nb blocks, token t's from src + t * src_stride, into ng = ceil(nb / 4) groups each.
void mx_repack(const ActBlock* src, int64_t src_stride, int64_t n_tokens, int64_t nb, MxActs* out) {
  const int64_t ng = (nb + 3) / 4;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t j = 0; j < 4 * ng; ++j) {
      int8_t* g = out->q[t * ng + j / 4] + 16 * (j % 4);
      float* d = out->d[t * ng + j / 4] + 4 * (j % 4);
      if (j >= nb) {
        std::memset(g, 0, 16);
        std::memset(g + 64, 0, 16);
        for (int k = 0; k < 4; ++k) d[k] = 0.0f;
        continue;
      }
      const ActBlock& a = src[t * src_stride + j];
      for (int k = 0; k < 16; ++k) {
        g[k] = a.q[2 * k];
        g[64 + k] = a.q[2 * k + 1];
      }
      for (int k = 0; k < 4; ++k) d[k] = a.d;
    }
}

// One row's dots against a tile of tokens: s[t] for token t, whose groups start at group index
// base + t * ng (nb blocks of the row, ng = ceil(nb / 4) groups).
using MxRowFn = void (*)(const uint8_t* row, const MxActs& acts, int64_t base, int64_t nb, float* s);

// The QDotRowsFn body shared by both ISAs: chunks of at most kMxMaxGroups activation groups
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
  constexpr int64_t kMaxBlocks = 4 * kMxMaxGroups;
  for (int64_t cb = 0; cb < nb; cb += kMaxBlocks) {
    const int64_t cn = nb - cb < kMaxBlocks ? nb - cb : kMaxBlocks;
    const int64_t ng = (cn + 3) / 4;
    const int64_t tokens_per_pass = kMxMaxGroups / ng;
    const bool add = accumulate || cb > 0;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += tokens_per_pass) {
      const int64_t nt = n_tokens - t0 < tokens_per_pass ? n_tokens - t0 : tokens_per_pass;
      mx_repack(acts + t0 * nb + cb, nb, nt, cn, &buf);
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.row(r) + (b0 + cb) * kMxB;
        float s[kTile];
        for (int64_t t = 0; t < nt;) {
          const int k = nt - t >= kTile ? kTile : 1;
          (k == kTile ? row4 : row1)(row, buf, t * ng, cn, s);
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
  const float df = alpha * kMxScale.v[block[0]];
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

// The nibble bytes of blocks b and b + 1 side by side (ymm lanes 0 and 1); when `two` is false the
// second lane is zero (a row's odd last block: nothing past it is read).
inline __m256i mx_bytes2(const uint8_t* b, bool two) {
  const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 1));
  const __m128i x1 = two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kMxB + 1)) : _mm_setzero_si128();
  return _mm256_inserti128_si256(_mm256_castsi128_si256(x0), x1, 1);
}

// Two blocks prepared once per tile: signed weights of their even / odd elements (block b in the
// low 16 bytes), |w| of both, and the scales 2^(e - 128) of their int32 lanes (0 for a missing
// second block). The scales are two broadcast loads and a blend: no shuffle-port work.
struct MxPair2 {
  __m256i ev, od, aev, aod;
  __m256 sc;
};

inline MxPair2 mx_pair2(const uint8_t* b, bool two) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                       0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i v = mx_bytes2(b, two);
  const __m256i ev = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, mask));
  const __m256i od = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
  const __m256 sc = _mm256_blend_ps(_mm256_set1_ps(kMxScale.v[b[0]]), _mm256_set1_ps(two ? kMxScale.v[b[kMxB]] : 0.0f), 0xf0);
  return {ev, od, _mm256_abs_epi8(ev), _mm256_abs_epi8(od), sc};
}

// A pair against its activations: gq = the group's q + 32 * (pair within the group), d = its
// 8 lane scales. int32 lanes 0..3 sum to block b's dot, 4..7 to block b + 1's.
inline __m256 mx_pair2_dot(const MxPair2& p, const int8_t* gq, const float* d, __m256 acc) {
  const __m256i ae = _mm256_load_si256(reinterpret_cast<const __m256i*>(gq));
  const __m256i ao = _mm256_load_si256(reinterpret_cast<const __m256i*>(gq + 64));
  const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(p.aev, _mm256_sign_epi8(ae, p.ev)),
                                       _mm256_maddubs_epi16(p.aod, _mm256_sign_epi8(ao, p.od)));
  const __m256i dot = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
  return _mm256_fmadd_ps(_mm256_mul_ps(p.sc, _mm256_load_ps(d)), _mm256_cvtepi32_ps(dot), acc);
}

// One row (nb blocks) against kNT tokens; two accumulators (the two pairs of a group).
template <int kNT>
void mx_row_avx2(const uint8_t* row, const MxActs& a, int64_t base, int64_t nb, float* s) {
  const int64_t ng = (nb + 3) / 4;
  __m256 acc0[kNT], acc1[kNT];
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 3 < nb; j += 4) {
    const MxPair2 p0 = mx_pair2(row + j * kMxB, true), p1 = mx_pair2(row + (j + 2) * kMxB, true);
    for (int t = 0; t < kNT; ++t) {
      const int64_t g = base + t * ng + j / 4;
      acc0[t] = mx_pair2_dot(p0, a.q[g], a.d[g], acc0[t]);
      acc1[t] = mx_pair2_dot(p1, a.q[g] + 32, a.d[g] + 8, acc1[t]);
    }
  }
  if (j < nb) {  // 1..3 blocks: a pair (or one block), then one block
    const MxPair2 p0 = mx_pair2(row + j * kMxB, j + 1 < nb);
    for (int t = 0; t < kNT; ++t) {
      const int64_t g = base + t * ng + j / 4;
      acc0[t] = mx_pair2_dot(p0, a.q[g], a.d[g], acc0[t]);
    }
    if (j + 2 < nb) {
      const MxPair2 p1 = mx_pair2(row + (j + 2) * kMxB, false);
      for (int t = 0; t < kNT; ++t) {
        const int64_t g = base + t * ng + j / 4;
        acc1[t] = mx_pair2_dot(p1, a.q[g] + 32, a.d[g] + 8, acc1[t]);
      }
    }
  }
  for (int t = 0; t < kNT; ++t) s[t] = mx_hsum8(_mm256_add_ps(acc0[t], acc1[t]));
}

// Signed weights of a block in element order: w[0..15] (low 128 bits), w[16..31] (high).
inline __m256i mx_weights_in_order_avx2(const uint8_t* block) {
  const MxPair2 p = mx_pair2(block, false);
  const __m128i ev = _mm256_castsi256_si128(p.ev), od = _mm256_castsi256_si128(p.od);
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
    const __m256 d = _mm256_set1_ps(alpha * kMxScale.v[src[0]]);
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

// The signed weights 2 * value of the 16 codes, in every 128-bit lane.
inline __m512i mx_lut512() {
  return _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
}

// Four blocks prepared once per tile: |w| of their even / odd elements (block k in bytes
// 16k..16k+15), masks of the negative weights (vpmovb2m, off the shuffle port, which the table
// lookups already load), and their int32 lanes' scales 2^(e - 128) (broadcast loads, blends).
struct MxQuad {
  __m512i mev, mod;
  __mmask64 nev, nod;
  __m512 sc;
};

inline MxQuad mx_quad(const uint8_t* b) {
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 1)));
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kMxB + 1)), 1);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * kMxB + 1)), 2);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 3 * kMxB + 1)), 3);
  const __m512i mask = _mm512_set1_epi8(0x0f);
  const __m512i ev = _mm512_shuffle_epi8(mx_lut512(), _mm512_and_si512(v, mask));
  const __m512i od = _mm512_shuffle_epi8(mx_lut512(), _mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
  __m512 sc = _mm512_mask_blend_ps(__mmask16(0x00f0), _mm512_set1_ps(kMxScale.v[b[0]]), _mm512_set1_ps(kMxScale.v[b[kMxB]]));
  sc = _mm512_mask_blend_ps(__mmask16(0x0f00), sc, _mm512_set1_ps(kMxScale.v[b[2 * kMxB]]));
  sc = _mm512_mask_blend_ps(__mmask16(0xf000), sc, _mm512_set1_ps(kMxScale.v[b[3 * kMxB]]));
  return {_mm512_abs_epi8(ev), _mm512_abs_epi8(od), _mm512_movepi8_mask(ev), _mm512_movepi8_mask(od), sc};
}

// A group of 4 blocks against its activations (gq: the group's q, d: its 16 lane scales): int32
// lanes 4k..4k+3 sum to block k's dot.
inline __m512 mx_quad_dot(const MxQuad& p, const int8_t* gq, const float* d, __m512 acc) {
  const __m512i ae = _mm512_load_si512(gq), ao = _mm512_load_si512(gq + 64);
  const __m512i se = _mm512_mask_sub_epi8(ae, p.nev, _mm512_setzero_si512(), ae);
  const __m512i so = _mm512_mask_sub_epi8(ao, p.nod, _mm512_setzero_si512(), ao);
  const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), p.mev, se), p.mod, so);
  return _mm512_fmadd_ps(_mm512_mul_ps(p.sc, _mm512_load_ps(d)), _mm512_cvtepi32_ps(dot), acc);
}

// The last 1..3 blocks of a row as pairs in 256 bits (AVX-512 VL + VNNI), into the low 8 lanes of
// acc: as mx_pair2_dot, with the magnitude table and masks of mx_quad.
inline __m512 mx_pair_tail(const uint8_t* b, bool two, const int8_t* gq, const float* d, __m512 acc) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i lut = _mm512_castsi512_si256(mx_lut512());
  const __m256i v = mx_bytes2(b, two);
  const __m256i ev = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, mask));
  const __m256i od = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
  const __m256i ae = _mm256_load_si256(reinterpret_cast<const __m256i*>(gq));
  const __m256i ao = _mm256_load_si256(reinterpret_cast<const __m256i*>(gq + 64));
  const __m256i se = _mm256_mask_sub_epi8(ae, _mm256_movepi8_mask(ev), _mm256_setzero_si256(), ae);
  const __m256i so = _mm256_mask_sub_epi8(ao, _mm256_movepi8_mask(od), _mm256_setzero_si256(), ao);
  const __m256i dot = _mm256_dpbusd_epi32(
      _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(ev), se), _mm256_abs_epi8(od), so);
  const __m256 sc = _mm256_blend_ps(_mm256_set1_ps(kMxScale.v[b[0]]), _mm256_set1_ps(two ? kMxScale.v[b[kMxB]] : 0.0f), 0xf0);
  const __m256 s8 = _mm256_mul_ps(sc, _mm256_load_ps(d));
  return _mm512_mask3_fmadd_ps(_mm512_castps256_ps512(s8), _mm512_castps256_ps512(_mm256_cvtepi32_ps(dot)), acc,
                               __mmask16(0x00ff));
}

// One row (nb blocks) against kNT tokens; groups alternate between two accumulators.
template <int kNT>
void mx_row_avx512(const uint8_t* row, const MxActs& a, int64_t base, int64_t nb, float* s) {
  const int64_t ng = (nb + 3) / 4;
  __m512 acc0[kNT], acc1[kNT];
  for (int t = 0; t < kNT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 7 < nb; j += 8) {
    const MxQuad p0 = mx_quad(row + j * kMxB), p1 = mx_quad(row + (j + 4) * kMxB);
    for (int t = 0; t < kNT; ++t) {
      const int64_t g = base + t * ng + j / 4;
      acc0[t] = mx_quad_dot(p0, a.q[g], a.d[g], acc0[t]);
      acc1[t] = mx_quad_dot(p1, a.q[g + 1], a.d[g + 1], acc1[t]);
    }
  }
  if (j + 3 < nb) {
    const MxQuad p0 = mx_quad(row + j * kMxB);
    for (int t = 0; t < kNT; ++t) {
      const int64_t g = base + t * ng + j / 4;
      acc0[t] = mx_quad_dot(p0, a.q[g], a.d[g], acc0[t]);
    }
    j += 4;
  }
  if (j < nb) {  // 1..3 blocks
    for (int t = 0; t < kNT; ++t) {
      const int64_t g = base + t * ng + j / 4;
      acc1[t] = mx_pair_tail(row + j * kMxB, j + 1 < nb, a.q[g], a.d[g], acc1[t]);
      if (j + 2 < nb) acc1[t] = mx_pair_tail(row + (j + 2) * kMxB, false, a.q[g] + 32, a.d[g] + 8, acc1[t]);
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
    const __m512 d = _mm512_set1_ps(alpha * kMxScale.v[src[0]]);
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
