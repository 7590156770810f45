// AVX-512 encoders for Q8_0, Q4_0 and Q2_1 that reproduce kernels/quant.cpp's reference bytes
// (see encode_simd.h for why they are bit-identical). Built with -ffp-contract=off
// (converter/CMakeLists.txt): a fused multiply-add would round once where the reference rounds
// twice. Functions carry target attributes, so the file builds without -mavx512f and is only
// called after CPUID says AVX-512 F/BW/VL are there (encoder_isa_supported).
//
// Q4_0 / Q2_1: "vertical" layout. 16 blocks of 32 (consecutive blocks of the row-major chunk,
// across row ends) are transposed into t[32][16], so vector j holds element j of 16 blocks and
// each lane runs the reference's scale search for its own block, with the same sequential sums.
// Q8_0 is cheap per block and runs one block at a time (two vectors).
#include "quant/encode_simd.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "kernels/quant.h"

#define MOTE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace mote::convert::avx512 {

namespace {

constexpr int kLanes = 16;
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;  // nearbyint (ties to even)

// Element j of 16 blocks: t[j][lane]. 2 KiB, on the caller's stack.
struct BlockGroup {
  alignas(64) float t[kQuantBlock][kLanes];
};

// Fills g with blocks [k0, k0 + count) (count <= 16) of a row-major [rows, cols] matrix; block k
// is row k / nb, columns [32 (k % nb), +32), zero-padded past cols like the reference's
// load_block; missing lanes are zero.
void gather(const float* src, int64_t cols, int64_t nb, int64_t k0, int count, BlockGroup* g) {
  for (int l = 0; l < kLanes; ++l) {
    int64_t n = 0;
    const float* p = nullptr;
    if (l < count) {
      const int64_t k = k0 + l, row = k / nb, b = k % nb;
      p = src + row * cols + b * kQuantBlock;
      n = std::min<int64_t>(kQuantBlock, cols - b * kQuantBlock);
    }
    for (int64_t j = 0; j < n; ++j) g->t[j][l] = p[j];
    for (int64_t j = n; j < kQuantBlock; ++j) g->t[j][l] = 0.0f;
  }
}

// Re-encodes the blocks of lanes in `bad` with the reference (NaN/Inf blocks, see encode_simd.h).
void encode_bad_lanes(WeightType type, const float* src, int64_t cols, int64_t nb, int64_t k0, int count,
                      unsigned bad, uint8_t* dst) {
  const int64_t bb = weight_block_bytes(type);
  for (int l = 0; l < count; ++l) {
    if (!(bad >> l & 1u)) continue;
    const int64_t k = k0 + l, row = k / nb, b = k % nb;
    const int64_t n = std::min<int64_t>(kQuantBlock, cols - b * kQuantBlock);
    quantize_row(type, src + row * cols + b * kQuantBlock, n, dst + k * bb);
  }
}

// std::clamp(x, lo, hi) == std::min(std::max(x, lo), hi), NaN passing through like it does:
// vmaxps(a, b) is a > b ? a : b, i.e. std::max(x, lo) == (x < lo ? lo : x) with a = lo.
MOTE_AVX512 inline __m512 clampv(__m512 x, float lo, float hi) {
  return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x));
}

// inv = d != 0 ? 1 / d : 0 (NaN != 0 is true, as in the reference).
MOTE_AVX512 inline __m512 safe_inverse(__m512 d) {
  const __mmask16 nz = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);
  return _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), d);
}

// Loads g and returns the lanes holding a NaN or an Inf (exponent all ones).
MOTE_AVX512 inline unsigned load_group(const BlockGroup& g, __m512* v) {
  const __m512i exp = _mm512_set1_epi32(0x7f800000);
  __mmask16 bad = 0;
  for (int j = 0; j < kQuantBlock; ++j) {
    v[j] = _mm512_load_ps(g.t[j]);
    bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(v[j]), exp), exp);
  }
  return bad;
}

// The reference's q4_error for K candidate scales of 16 blocks at once: K independent sums per
// pass over the 32 elements, so the add latency chains overlap (each sum is still the
// reference's sequential one). With d == 0 the lane's inverse is 0, so q * d is a zero and
// diff == v: the same sum of v * v as the reference's d == 0 branch.
template <int K>
MOTE_AVX512 inline void q4_errors(const __m512* v, const __m512* d, __m512* err) {
  __m512 inv[K];
  for (int k = 0; k < K; ++k) {
    inv[k] = safe_inverse(d[k]);
    err[k] = _mm512_setzero_ps();
  }
  for (int j = 0; j < kQuantBlock; ++j) {
    for (int k = 0; k < K; ++k) {
      const __m512 q = clampv(_mm512_roundscale_ps(_mm512_mul_ps(v[j], inv[k]), kRound), -8.0f, 7.0f);
      const __m512 diff = _mm512_sub_ps(v[j], _mm512_mul_ps(q, d[k]));
      err[k] = _mm512_add_ps(err[k], _mm512_mul_ps(diff, diff));
    }
  }
}

// The reference's best_q4_scale for 16 blocks: f16 scale bits per lane. The reference tries 15
// candidate scales in order (extreme / -8, then per step the divisor's scale and the refit) and
// keeps the first with the lowest error; every candidate depends only on the block, so all are
// computed first (in interleaved passes) and then compared in the reference's order.
MOTE_AVX512 __m256i best_q4_scale(const __m512* v) {
  constexpr int kSteps = 7, kCands = 1 + 2 * kSteps;
  const __m512 zero = _mm512_setzero_ps();
  __m512 ext = zero;  // first element of largest |x|
  for (int j = 0; j < kQuantBlock; ++j) {
    const __mmask16 gt = _mm512_cmp_ps_mask(_mm512_abs_ps(v[j]), _mm512_abs_ps(ext), _CMP_GT_OQ);
    ext = _mm512_mask_mov_ps(ext, gt, v[j]);
  }
  const __mmask16 zero_lane = _mm512_cmp_ps_mask(ext, zero, _CMP_EQ_OQ);
  // The 7 least-squares fits in one pass.
  __m512 inv[kSteps], sxq[kSteps], sqq[kSteps];
  for (int s = 0; s < kSteps; ++s) {
    inv[s] = _mm512_div_ps(_mm512_set1_ps(-8.75f + 0.25f * float(s)), ext);
    sxq[s] = sqq[s] = zero;
  }
  for (int j = 0; j < kQuantBlock; ++j) {
    for (int s = 0; s < kSteps; ++s) {
      const __m512 q = clampv(_mm512_roundscale_ps(_mm512_mul_ps(v[j], inv[s]), kRound), -8.0f, 7.0f);
      sxq[s] = _mm512_add_ps(sxq[s], _mm512_mul_ps(v[j], q));
      sqq[s] = _mm512_add_ps(sqq[s], _mm512_mul_ps(q, q));
    }
  }
  __m256i c16[kCands];
  __m512 cd[kCands], err[kCands];
  __mmask16 active[kCands];
  c16[0] = _mm512_cvtps_ph(_mm512_div_ps(ext, _mm512_set1_ps(-8.0f)), kRound);
  active[0] = __mmask16(0xffff);
  for (int s = 0; s < kSteps; ++s) {
    const float divisor = -8.75f + 0.25f * float(s);
    c16[1 + 2 * s] = _mm512_cvtps_ph(_mm512_div_ps(ext, _mm512_set1_ps(divisor)), kRound);
    c16[2 + 2 * s] = _mm512_cvtps_ph(_mm512_div_ps(sxq[s], sqq[s]), kRound);
    active[1 + 2 * s] = active[2 + 2 * s] = _mm512_cmp_ps_mask(sqq[s], zero, _CMP_NEQ_UQ);  // skip sum_qq == 0
  }
  for (int c = 0; c < kCands; ++c) cd[c] = _mm512_cvtph_ps(c16[c]);
  for (int c = 0; c < kCands; c += 5) q4_errors<5>(v, cd + c, err + c);
  __m256i best16 = c16[0];
  __m512 best_err = err[0];
  for (int c = 1; c < kCands; ++c) {
    const __mmask16 better = active[c] & _mm512_cmp_ps_mask(err[c], best_err, _CMP_LT_OQ);
    best_err = _mm512_mask_mov_ps(best_err, better, err[c]);
    best16 = _mm256_mask_mov_epi16(best16, better, c16[c]);
  }
  return _mm256_maskz_mov_epi16(__mmask16(~zero_lane), best16);
}

// The reference's q2_codes for 16 blocks: codes as floats in qf[32], returns the squared error.
MOTE_AVX512 __m512 q2_codes(const __m512* v, __m512 d, __m512 m, __m512* qf) {
  const __m512 inv = safe_inverse(d), half = _mm512_set1_ps(0.5f);
  const __m512i byte = _mm512_set1_epi32(0xff);  // uint8_t(int(...)): the low byte
  __m512 err = _mm512_setzero_ps();
  for (int j = 0; j < kQuantBlock; ++j) {
    const __m512 x = clampv(_mm512_mul_ps(_mm512_sub_ps(v[j], m), inv), 0.0f, 3.0f);
    const __m512i q = _mm512_and_si512(_mm512_cvttps_epi32(_mm512_add_ps(x, half)), byte);
    qf[j] = _mm512_cvtepi32_ps(q);
    const __m512 diff = _mm512_sub_ps(v[j], _mm512_add_ps(_mm512_mul_ps(d, qf[j]), m));
    err = _mm512_add_ps(err, _mm512_mul_ps(diff, diff));
  }
  return err;
}

// q2_codes' error for K (d, m) pairs at once (K independent sums per pass), and with kSums the
// least-squares sums over the codes (sq, sqq, sqv), each in the reference's order.
template <int K, bool kSums>
MOTE_AVX512 inline void q2_errors(const __m512* v, const __m512* d, const __m512* m, __m512* err, __m512* sq,
                                  __m512* sqq, __m512* sqv) {
  const __m512 half = _mm512_set1_ps(0.5f), zero = _mm512_setzero_ps();
  const __m512i byte = _mm512_set1_epi32(0xff);
  __m512 inv[K];
  for (int k = 0; k < K; ++k) {
    inv[k] = safe_inverse(d[k]);
    err[k] = zero;
    if (kSums) sq[k] = sqq[k] = sqv[k] = zero;
  }
  for (int j = 0; j < kQuantBlock; ++j) {
    for (int k = 0; k < K; ++k) {
      const __m512 x = clampv(_mm512_mul_ps(_mm512_sub_ps(v[j], m[k]), inv[k]), 0.0f, 3.0f);
      const __m512 qf = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_cvttps_epi32(_mm512_add_ps(x, half)), byte));
      const __m512 diff = _mm512_sub_ps(v[j], _mm512_add_ps(_mm512_mul_ps(d[k], qf), m[k]));
      err[k] = _mm512_add_ps(err[k], _mm512_mul_ps(diff, diff));
      if (kSums) {
        sq[k] = _mm512_add_ps(sq[k], qf);
        sqq[k] = _mm512_add_ps(sqq[k], _mm512_mul_ps(qf, qf));
        sqv[k] = _mm512_add_ps(sqv[k], _mm512_mul_ps(qf, v[j]));
      }
    }
  }
}

// The reference's best_q2_params for 16 blocks: f16 bits of d and m per lane. The reference
// tries, per (a, b) of its 4 x 4 grid, a first (d, m) and its least-squares refit, keeping the
// first pair with the lowest error. Each pair depends only on the block, so all 32 errors are
// computed first (interleaved passes) and then compared in the reference's order.
MOTE_AVX512 void best_q2_params(const __m512* v, __m256i* d_out, __m256i* m_out) {
  constexpr int kPairs = 16, kBatch = 4;
  const __m512 zero = _mm512_setzero_ps(), n32 = _mm512_set1_ps(float(kQuantBlock));
  __m512 lo = v[0], hi = v[0];
  for (int j = 1; j < kQuantBlock; ++j) {
    lo = _mm512_min_ps(v[j], lo);  // std::min(lo, v[j]) == (v[j] < lo ? v[j] : lo)
    hi = _mm512_max_ps(v[j], hi);  // std::max(hi, v[j]) == (hi < v[j] ? v[j] : hi)
  }
  __m256i dbest = _mm256_setzero_si256(), mbest = _mm512_cvtps_ph(lo, kRound);
  __m512 qf[kQuantBlock];
  __m512 best = q2_codes(v, zero, _mm512_cvtph_ps(mbest), qf);
  const __m512 range = _mm512_sub_ps(hi, lo);
  const __mmask16 live = _mm512_cmp_ps_mask(range, zero, _CMP_NLE_UQ);  // !(range <= 0)
  if (live == 0) {
    *d_out = dbest;
    *m_out = mbest;
    return;
  }
  __m512 sv = zero;
  for (int j = 0; j < kQuantBlock; ++j) sv = _mm512_add_ps(sv, v[j]);
  // Pair p = 4a + b, fit f: f16 bits (d16, m16)[f][p], their values, errors, and for fit 1
  // the lanes where the reference got that far (det > 0 and d > 0 after fit 0).
  __m256i d16[2][kPairs], m16[2][kPairs];
  __m512 df[kPairs], mf[kPairs], err[2][kPairs], sq[kPairs], sqq[kPairs], sqv[kPairs];
  __mmask16 second[kPairs];
  for (int p = 0; p < kPairs; ++p) {
    const int a = p / 4, b = p % 4;
    const __m512 l = _mm512_add_ps(lo, _mm512_mul_ps(_mm512_set1_ps(0.05f * float(a)), range));
    const __m512 h = _mm512_sub_ps(hi, _mm512_mul_ps(_mm512_set1_ps(0.05f * float(b)), range));
    d16[0][p] = _mm512_cvtps_ph(_mm512_div_ps(_mm512_sub_ps(h, l), _mm512_set1_ps(3.0f)), kRound);
    m16[0][p] = _mm512_cvtps_ph(l, kRound);
    df[p] = _mm512_cvtph_ps(d16[0][p]);
    mf[p] = _mm512_cvtph_ps(m16[0][p]);
  }
  for (int p = 0; p < kPairs; p += kBatch)
    q2_errors<kBatch, true>(v, df + p, mf + p, err[0] + p, sq + p, sqq + p, sqv + p);
  for (int p = 0; p < kPairs; ++p) {
    const __m512 det = _mm512_sub_ps(_mm512_mul_ps(n32, sqq[p]), _mm512_mul_ps(sq[p], sq[p]));
    const __m512 d = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(n32, sqv[p]), _mm512_mul_ps(sq[p], sv)), det);
    const __m512 m = _mm512_div_ps(_mm512_sub_ps(sv, _mm512_mul_ps(d, sq[p])), n32);
    second[p] = _mm512_cmp_ps_mask(det, zero, _CMP_NLE_UQ) & _mm512_cmp_ps_mask(d, zero, _CMP_GT_OQ);
    d16[1][p] = _mm512_cvtps_ph(d, kRound);
    m16[1][p] = _mm512_cvtps_ph(m, kRound);
    df[p] = _mm512_cvtph_ps(d16[1][p]);
    mf[p] = _mm512_cvtph_ps(m16[1][p]);
  }
  for (int p = 0; p < kPairs; p += 2 * kBatch)
    q2_errors<2 * kBatch, false>(v, df + p, mf + p, err[1] + p, nullptr, nullptr, nullptr);
  for (int p = 0; p < kPairs; ++p) {
    for (int f = 0; f < 2; ++f) {
      const __mmask16 better = (f == 0 ? live : live & second[p]) & _mm512_cmp_ps_mask(err[f][p], best, _CMP_LT_OQ);
      best = _mm512_mask_mov_ps(best, better, err[f][p]);
      dbest = _mm256_mask_mov_epi16(dbest, better, d16[f][p]);
      mbest = _mm256_mask_mov_epi16(mbest, better, m16[f][p]);
    }
  }
  *d_out = dbest;
  *m_out = mbest;
}

// Writes 16 lanes' blocks: bytes[i] (16 vectors of one byte per lane) go to byte `at + i` of
// lane l's block at dst + (k0 + l) * block_bytes.
MOTE_AVX512 void scatter_lanes(const __m512i* bytes, int nbytes, int at, const __m256i* f16s, int nf16,
                               int count, int64_t block_bytes, uint8_t* dst) {
  alignas(64) uint8_t cols[16][kLanes];
  alignas(32) uint16_t h[2][kLanes];
  for (int i = 0; i < nbytes; ++i) _mm_store_si128(reinterpret_cast<__m128i*>(cols[i]), _mm512_cvtepi32_epi8(bytes[i]));
  for (int i = 0; i < nf16; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(h[i]), f16s[i]);
  for (int l = 0; l < count; ++l) {
    uint8_t* block = dst + l * block_bytes;
    for (int i = 0; i < nf16; ++i) std::memcpy(block + 2 * i, &h[i][l], 2);
    for (int i = 0; i < nbytes; ++i) block[at + i] = cols[i][l];
  }
}

MOTE_AVX512 void q4_group(const BlockGroup& g, int count, uint8_t* dst, unsigned* bad) {
  __m512 v[kQuantBlock];
  *bad = load_group(g, v) & ((1u << count) - 1);
  const __m256i d16 = best_q4_scale(v);
  const __m512 inv = safe_inverse(_mm512_cvtph_ps(d16));
  const __m512i eight = _mm512_set1_epi32(8);
  __m512i bytes[16];
  for (int j = 0; j < 16; ++j) {
    const __m512i lo = _mm512_add_epi32(_mm512_cvttps_epi32(
        clampv(_mm512_roundscale_ps(_mm512_mul_ps(v[j], inv), kRound), -8.0f, 7.0f)), eight);
    const __m512i hi = _mm512_add_epi32(_mm512_cvttps_epi32(
        clampv(_mm512_roundscale_ps(_mm512_mul_ps(v[j + 16], inv), kRound), -8.0f, 7.0f)), eight);
    bytes[j] = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 4));
  }
  scatter_lanes(bytes, 16, 2, &d16, 1, count, kQ4_0BlockBytes, dst);
}

MOTE_AVX512 void q2_group(const BlockGroup& g, int count, uint8_t* dst, unsigned* bad) {
  __m512 v[kQuantBlock];
  *bad = load_group(g, v) & ((1u << count) - 1);
  __m256i dm[2];
  best_q2_params(v, &dm[0], &dm[1]);
  __m512 qf[kQuantBlock];
  q2_codes(v, _mm512_cvtph_ps(dm[0]), _mm512_cvtph_ps(dm[1]), qf);
  __m512i bytes[8];
  for (int j = 0; j < 8; ++j) {
    __m512i b = _mm512_setzero_si512();
    for (int s = 0; s < 4; ++s) b = _mm512_or_si512(b, _mm512_slli_epi32(_mm512_cvttps_epi32(qf[4 * j + s]), 2 * s));
    bytes[j] = b;
  }
  scatter_lanes(bytes, 8, 4, dm, 2, count, kQ2_1BlockBytes, dst);
}

// Vertical driver: all blocks of the [rows, cols] matrix, 16 at a time.
template <void (*kGroup)(const BlockGroup&, int, uint8_t*, unsigned*)>
void encode_vertical(WeightType type, const float* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const int64_t nb = (cols + kQuantBlock - 1) / kQuantBlock, total = rows * nb, bb = weight_block_bytes(type);
  BlockGroup g;
  for (int64_t k0 = 0; k0 < total; k0 += kLanes) {
    const int count = int(std::min<int64_t>(kLanes, total - k0));
    gather(src, cols, nb, k0, count, &g);
    unsigned bad = 0;
    kGroup(g, count, dst + k0 * bb, &bad);
    if (bad != 0) encode_bad_lanes(type, src, cols, nb, k0, count, bad, dst);
  }
}

// lround (halves away from zero) of integral-range floats, exactly: t - trunc(t) is exact.
MOTE_AVX512 inline __m512 round_away(__m512 t) {
  const __m512 tr = _mm512_roundscale_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(t, tr));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(_mm512_set1_ps(1.0f)),
      _mm512_and_si512(_mm512_castps_si512(t), _mm512_set1_epi32(int(0x80000000u)))));  // copysign(1, t)
  return _mm512_mask_add_ps(tr, up, tr, one);
}

// One Q8_0 block of n <= 32 values; false (nothing written) when it holds a NaN or an Inf.
MOTE_AVX512 bool q8_block(const float* p, int64_t n, uint8_t* out) {
  const __mmask16 m0 = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
  const __mmask16 m1 = n >= 32 ? __mmask16(0xffff) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
  const __m512 a = _mm512_maskz_loadu_ps(m0, p), b = _mm512_maskz_loadu_ps(m1, p + 16);
  const __m512i exp = _mm512_set1_epi32(0x7f800000);
  if (_mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(a), exp), exp) |
      _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(b), exp), exp))
    return false;
  // Max of |x| over finite values is exact in any order (the reference scans left to right).
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
  const uint16_t d16 = f32_to_f16(amax / 127.0f);
  const float d = f16_to_f32(d16);
  const __m512 inv = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  std::memcpy(out, &d16, 2);
  const __m512 qa = clampv(round_away(_mm512_mul_ps(a, inv)), -127.0f, 127.0f);
  const __m512 qb = clampv(round_away(_mm512_mul_ps(b, inv)), -127.0f, 127.0f);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(qa)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 18), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(qb)));
  return true;
}

}  // namespace

void encode_q8_0(const float* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const int64_t nb = (cols + kQuantBlock - 1) / kQuantBlock;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = src + r * cols;
    uint8_t* out = dst + r * nb * kQ8_0BlockBytes;
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t n = std::min<int64_t>(kQuantBlock, cols - b * kQuantBlock);
      uint8_t* block = out + b * kQ8_0BlockBytes;
      if (!q8_block(row + b * kQuantBlock, n, block)) quantize_row(WeightType::Q8_0, row + b * kQuantBlock, n, block);
    }
  }
}

void encode_q4_0(const float* src, int64_t rows, int64_t cols, uint8_t* dst) {
  encode_vertical<q4_group>(WeightType::Q4_0, src, rows, cols, dst);
}

void encode_q2_1(const float* src, int64_t rows, int64_t cols, uint8_t* dst) {
  encode_vertical<q2_group>(WeightType::Q2_1, src, rows, cols, dst);
}

MOTE_AVX512 void decode_bf16(const uint8_t* src, uint64_t count, float* dst) {
  uint64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    _mm512_storeu_si512(dst + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  for (; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_f32(h);
  }
}

}  // namespace mote::convert::avx512

#endif  // __x86_64__
