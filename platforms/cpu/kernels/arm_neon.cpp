// AArch64 NEON inner loops with the dot-product extension (Armv8.2-A dotprod: Cortex-A55/A76,
// Neoverse, Apple M). Only code below the target pragma uses dotprod, so the file builds for
// baseline armv8-a and the dispatcher calls it after HWCAP_ASIMDDP confirmed the extension.
//
// Quantised products: vdotq_s32 (s8 x s8, 4-way, into int32) on both 16-byte halves of a block.
// Q8_0: one fma per block applies d_w * d_a. Q4_0 and Q2_1 (row-major decode) go in quads of 4
// blocks against activations rearranged once per call (ActQuad, ActQuad2): addp folds each
// block's int32 lanes into one lane, so one vector fma per 4 blocks applies the 4 scales; the
// 1-3 blocks left over take the per-block path (block_dot, q2_block_dot). Instructions per weight
// byte (scripts/count-insn.sh, README "NEON instruction counts"): Q4_0 1.01 -> 0.70, Q2_1
// 2.43 -> 1.14 (AVX2: 0.71, 2.02). The loops for row-grouped views (16 rows per 4-byte-lane
// chunk, no horizontal sums) are in arm_neon_grouped.cpp.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod+fp16")

namespace mote::cpu {

// Row-grouped Q8_0 / Q4_0 / Q2_1 loops (arm_neon_grouped.cpp), same contract as QDotRowsFn.
void qdot_grouped_q8_0_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q4_0_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q2_1_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);

namespace {

inline float load_f16(const uint8_t* p) {
  __fp16 h;
  __builtin_memcpy(&h, p, 2);
  return float(h);
}

inline float load_bf16(const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

void quantize_acts_neon(const float* x, int64_t n, ActBlock* out) {
  const int64_t nb = (n + kActBlock - 1) / kActBlock;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t start = b * kActBlock;
    const int64_t m = n - start < kActBlock ? n - start : kActBlock;
    float tail[kActBlock];
    const float* src = x + start;
    if (m < kActBlock) {  // the last, partial block: zero-padded copy
      for (int j = 0; j < kActBlock; ++j) tail[j] = j < m ? src[j] : 0.0f;
      src = tail;
    }
    float32x4_t v[8];
    uint32x4_t amax = vdupq_n_u32(0);  // max |x| as integer bits (act_scale): sees NaN/Inf
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(src + 4 * k);
      amax = vmaxq_u32(amax, vreinterpretq_u32_f32(vabsq_f32(v[k])));
    }
    const ActScale sc = act_scale(vmaxvq_u32(amax));
    if (!sc.finite) {
      store_non_finite_block(&out[b]);
      continue;
    }
    const float d = sc.d;
    const float inv = sc.inv;
    int32x4_t sum = vdupq_n_s32(0);
    int16x8_t q16[4];
    for (int k = 0; k < 4; ++k) {
      // vcvtnq: round to nearest, ties to even (as quantize_acts_ref's nearbyint).
      const int32x4_t lo = vcvtnq_s32_f32(vmulq_n_f32(v[2 * k], inv));
      const int32x4_t hi = vcvtnq_s32_f32(vmulq_n_f32(v[2 * k + 1], inv));
      sum = vaddq_s32(sum, vaddq_s32(lo, hi));
      q16[k] = vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi));
    }
    vst1q_s8(out[b].q, vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1])));
    vst1q_s8(out[b].q + 16, vcombine_s8(vqmovn_s16(q16[2]), vqmovn_s16(q16[3])));
    out[b].d = d;
    out[b].sum = vaddvq_s32(sum);
  }
}

template <bool kQ8>
inline int32x4_t block_dot(const uint8_t* w, const ActBlock& a) {
  int8x16_t w0, w1;
  if constexpr (kQ8) {
    w0 = vld1q_s8(reinterpret_cast<const int8_t*>(w + 2));
    w1 = vld1q_s8(reinterpret_cast<const int8_t*>(w + 18));
  } else {
    const uint8x16_t bytes = vld1q_u8(w + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(0x0f))), eight);
    w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4)), eight);
  }
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, vld1q_s8(a.q)), w1, vld1q_s8(a.q + 16));
}

// Q2_1 (kernels/quant.h): a table lookup puts code byte k / 4 in byte k of each 16-byte half, a
// per-byte shift by -2 * (k % 4) brings element k's 2 bits down, and vdotq_s32 takes the codes
// (0..3, valid as s8) against the activations. The minimum enters once per block as
// m * d_a * sum(q_a) (ActBlock::sum).
inline int32x4_t q2_block_dot(const uint8_t* w, const ActBlock& a) {
  static const uint8_t kIdx[32] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
                                   4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7};
  static const int8_t kShift[16] = {0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6};
  const uint8x8_t bytes = vld1_u8(w + 4);
  const uint8x16_t src = vcombine_u8(bytes, bytes);
  const int8x16_t shift = vld1q_s8(kShift);
  const uint8x16_t three = vdupq_n_u8(3);
  const int8x16_t q0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vqtbl1q_u8(src, vld1q_u8(kIdx)), shift), three));
  const int8x16_t q1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vqtbl1q_u8(src, vld1q_u8(kIdx + 16)), shift), three));
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), q0, vld1q_s8(a.q)), q1, vld1q_s8(a.q + 16));
}

template <bool kQ8>
void qdot_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
               int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int64_t kBytes = kQ8 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r) + b0 * kBytes;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const ActBlock* a = acts + t * nb;
      float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
      int64_t j = 0;
      for (; j + 1 < nb; j += 2) {
        const uint8_t* b = row + j * kBytes;
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(block_dot<kQ8>(b, a[j])), load_f16(b) * a[j].d);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(block_dot<kQ8>(b + kBytes, a[j + 1])),
                           load_f16(b + kBytes) * a[j + 1].d);
      }
      if (j < nb) {
        const uint8_t* b = row + j * kBytes;
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(block_dot<kQ8>(b, a[j])), load_f16(b) * a[j].d);
      }
      const float s = vaddvq_f32(vaddq_f32(acc0, acc1));
      float* out = y + t * y_stride + r;
      *out = accumulate ? *out + s : s;
    }
  }
}

// Q4_0 in quads of 4 blocks. The activations of each quad are rearranged once per call (every
// row reuses them): the 4 blocks' codes back to back (two 4-register ld1 per quad), their scales
// and 8 * sum(q) as vectors. Per quad and row: the nibbles enter sdot unsigned (0..15), each
// block's 4 int32 lanes are summed by 3 addp into one lane per block, the -8 offset comes off as
// one vector subtract of 8 * sum(q), and one fmla applies the 4 blocks' d_w * d_a. 160 bytes per quad.
struct ActQuad {
  int8_t q[4][kActBlock];
  float d[4];
  int32_t sum8[4];
};
constexpr int64_t kMaxQuads = 512;  // the driver passes at most 2048 blocks: 80 KiB

void repack_quads(const ActBlock* a, int64_t n_quads, ActQuad* out) {
  for (int64_t p = 0; p < n_quads; ++p)
    for (int k = 0; k < 4; ++k) {
      const ActBlock& b = a[4 * p + k];
      __builtin_memcpy(out[p].q[k], b.q, kActBlock);
      out[p].d[k] = b.d;
      out[p].sum8[k] = 8 * b.sum;
    }
}

// One row (row: block 0 of the call's range) against one token: quads from quads[0, nq), the
// last nb - 4 nq blocks from acts (block_dot). Same operations for every token of a batch.
inline float q4_row_dot(const uint8_t* row, const ActQuad* quads, int64_t nq, const ActBlock* acts, int64_t nb) {
  constexpr int64_t kB = kQ4_0BlockBytes;
  const uint8x16_t mask = vdupq_n_u8(0x0f);
  float32x4_t acc = vdupq_n_f32(0.0f);
  const uint8_t* b = row;
  for (int64_t p = 0; p < nq; ++p, b += 4 * kB) {
    const int8x16x4_t a01 = vld1q_s8_x4(quads[p].q[0]);
    const int8x16x4_t a23 = vld1q_s8_x4(quads[p].q[2]);
    int32x4_t dot[4];
    for (int k = 0; k < 4; ++k) {
      const uint8x16_t raw = vld1q_u8(b + k * kB + 2);
      const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(raw, mask));
      const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
      const int8x16x4_t& av = k < 2 ? a01 : a23;
      dot[k] = vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, av.val[2 * (k % 2)]), hi, av.val[2 * (k % 2) + 1]);
    }
    const int32x4_t sums = vsubq_s32(vpaddq_s32(vpaddq_s32(dot[0], dot[1]), vpaddq_s32(dot[2], dot[3])),
                                     vld1q_s32(quads[p].sum8));
    uint16x4_t h = vdup_n_u16(0);
    h = vld1_lane_u16(reinterpret_cast<const uint16_t*>(b), h, 0);
    h = vld1_lane_u16(reinterpret_cast<const uint16_t*>(b + kB), h, 1);
    h = vld1_lane_u16(reinterpret_cast<const uint16_t*>(b + 2 * kB), h, 2);
    h = vld1_lane_u16(reinterpret_cast<const uint16_t*>(b + 3 * kB), h, 3);
    const float32x4_t ds = vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(h)), vld1q_f32(quads[p].d));
    acc = vfmaq_f32(acc, vcvtq_f32_s32(sums), ds);
  }
  float32x4_t tail = vdupq_n_f32(0.0f);
  for (int64_t j = 4 * nq; j < nb; ++j, b += kB)
    tail = vfmaq_n_f32(tail, vcvtq_f32_s32(block_dot<false>(b, acts[j])), load_f16(b) * acts[j].d);
  return vaddvq_f32(vaddq_f32(acc, tail));
}

// The row-major quad driver shared by Q4_0 and Q2_1: activations rearranged into quads once per
// pass (as many tokens as kMaxQuads holds), then row_dot per row and token. Quad: ActQuad or
// ActQuad2; repack(acts, n_quads, quads); row_dot(row, quads, nq, acts, nb) -> float.
template <typename Quad, int64_t kBlockBytes, typename Repack, typename RowDot>
inline void qdot_rows_by_quads(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                               const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate,
                               Repack repack, RowDot row_dot) {
  Quad quads[kMaxQuads];
  // Rows longer than the quad buffer (never from the driver) run block by block.
  const int64_t nq = nb / 4 <= kMaxQuads ? nb / 4 : 0;
  const int64_t tokens_per_pass = nq > 0 ? kMaxQuads / nq : n_tokens;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += tokens_per_pass) {
    const int64_t nt = n_tokens - t0 < tokens_per_pass ? n_tokens - t0 : tokens_per_pass;
    for (int64_t t = 0; t < nt; ++t) repack(acts + (t0 + t) * nb, nq, quads + t * nq);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.row(r) + b0 * kBlockBytes;
      for (int64_t t = 0; t < nt; ++t) {
        const float s = row_dot(row, quads + t * nq, nq, acts + (t0 + t) * nb, nb);
        float* out = y + (t0 + t) * y_stride + r;
        *out = accumulate ? *out + s : s;
      }
    }
  }
}

void qdot_q4_0_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_rows_by_quads<ActQuad, kQ4_0BlockBytes>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate,
                                               repack_quads, q4_row_dot);
}

// Q2_1 in quads of 4 blocks, activations rearranged once per call to match the codes as they
// lie in memory: for the block pair (2i, 2i + 1) and plane s (0..3), 16 bytes hold the pair's
// activations of elements 4c + s, c = 0..7, block 2i first; those are exactly the codes that
// (bytes >> 2s) & 3 leaves in the pair's 16 code bytes. Per quad and row: 2 code loads, 4 planes
// per pair (shift + and), 16 sdot, one addp (each block's lanes to one lane), 4 lane
// gathers of the 4 (d, m) scale pairs, and two fmla: d_w * d_a * dot and m * (d_a * sum(q_a)).
// 160 bytes per quad (at most 512 quads on the stack, as ActQuad).
struct ActQuad2 {
  int8_t q[2][4][16];
  float d[4];
  float dsum[4];  // d_a * sum(q_a)
};

void repack_quads_q2(const ActBlock* a, int64_t n_quads, ActQuad2* out) {
  // Byte k of kPlanes01 / kPlanes23: element 4 (k % 8) + s of a block, s = k / 8 (+ 2).
  static const uint8_t kPlanes[32] = {0, 4, 8,  12, 16, 20, 24, 28, 1, 5, 9,  13, 17, 21, 25, 29,
                                      2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
  const uint8x16_t p01 = vld1q_u8(kPlanes), p23 = vld1q_u8(kPlanes + 16);
  for (int64_t p = 0; p < n_quads; ++p) {
    for (int i = 0; i < 2; ++i) {
      const uint8x16x2_t b0 = vld1q_u8_x2(reinterpret_cast<const uint8_t*>(a[4 * p + 2 * i].q));
      const uint8x16x2_t b1 = vld1q_u8_x2(reinterpret_cast<const uint8_t*>(a[4 * p + 2 * i + 1].q));
      const uint64x2_t x01 = vreinterpretq_u64_u8(vqtbl2q_u8(b0, p01)), y01 = vreinterpretq_u64_u8(vqtbl2q_u8(b1, p01));
      const uint64x2_t x23 = vreinterpretq_u64_u8(vqtbl2q_u8(b0, p23)), y23 = vreinterpretq_u64_u8(vqtbl2q_u8(b1, p23));
      const int8x16x4_t planes = {{vreinterpretq_s8_u64(vzip1q_u64(x01, y01)), vreinterpretq_s8_u64(vzip2q_u64(x01, y01)),
                                   vreinterpretq_s8_u64(vzip1q_u64(x23, y23)), vreinterpretq_s8_u64(vzip2q_u64(x23, y23))}};
      vst1q_s8_x4(out[p].q[i][0], planes);
    }
    for (int k = 0; k < 4; ++k) {
      const ActBlock& b = a[4 * p + k];
      out[p].d[k] = b.d;
      out[p].dsum[k] = b.d * float(b.sum);
    }
  }
}

// One row against one token: quads from quads[0, nq), the last nb - 4 nq blocks from acts
// (q2_block_dot). Same operations for every token of a batch.
inline float q2_row_dot(const uint8_t* row, const ActQuad2* quads, int64_t nq, const ActBlock* acts, int64_t nb) {
  constexpr int64_t kB = kQ2_1BlockBytes;
  const uint8x16_t three = vdupq_n_u8(3);
  float32x4_t acc = vdupq_n_f32(0.0f);
  const uint8_t* b = row;
  for (int64_t p = 0; p < nq; ++p, b += 4 * kB) {
    int32x4_t dot[2];
    for (int i = 0; i < 2; ++i) {
      const uint8_t* pb = b + 2 * i * kB + 4;
      const uint8x16_t raw = vcombine_u8(vld1_u8(pb), vld1_u8(pb + kB));
      const int8x16x4_t av = vld1q_s8_x4(quads[p].q[i][0]);
      int32x4_t d = vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(vandq_u8(raw, three)), av.val[0]);
      d = vdotq_s32(d, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw, 2), three)), av.val[1]);
      d = vdotq_s32(d, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw, 4), three)), av.val[2]);
      dot[i] = vdotq_s32(d, vreinterpretq_s8_u8(vshrq_n_u8(raw, 6)), av.val[3]);
    }
    // The 4 blocks' (d, m) f16 pairs as 32-bit lanes, widened, then split into d and m.
    uint32x4_t dm = vdupq_n_u32(0);
    dm = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(b), dm, 0);
    dm = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(b + kB), dm, 1);
    dm = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(b + 2 * kB), dm, 2);
    dm = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(b + 3 * kB), dm, 3);
    const float16x8_t h = vreinterpretq_f16_u32(dm);
    const float32x4_t lo = vcvt_f32_f16(vget_low_f16(h)), hi = vcvt_high_f32_f16(h);  // d0 m0 d1 m1, d2 m2 d3 m3
    const float32x4_t ds = vmulq_f32(vuzp1q_f32(lo, hi), vld1q_f32(quads[p].d));
    acc = vfmaq_f32(acc, vcvtq_f32_s32(vpaddq_s32(dot[0], dot[1])), ds);
    acc = vfmaq_f32(acc, vuzp2q_f32(lo, hi), vld1q_f32(quads[p].dsum));
  }
  float32x4_t tail = vdupq_n_f32(0.0f);
  float macc = 0.0f;
  for (int64_t j = 4 * nq; j < nb; ++j, b += kB) {
    tail = vfmaq_n_f32(tail, vcvtq_f32_s32(q2_block_dot(b, acts[j])), load_f16(b) * acts[j].d);
    macc += load_f16(b + 2) * acts[j].d * float(acts[j].sum);
  }
  return vaddvq_f32(vaddq_f32(acc, tail)) + macc;
}

void qdot_q2_1_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_rows_by_quads<ActQuad2, kQ2_1BlockBytes>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate,
                                                repack_quads_q2, q2_row_dot);
}

template <WeightType kType>
inline float32x4_t load4(const uint8_t* row, int64_t c) {
  if constexpr (kType == WeightType::F32) return vld1q_f32(reinterpret_cast<const float*>(row) + c);
  else if constexpr (kType == WeightType::F16) return vcvt_f32_f16(vld1_f16(reinterpret_cast<const float16_t*>(row + 2 * c)));
  else return vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(vld1_u16(reinterpret_cast<const uint16_t*>(row + 2 * c))), 16));
}

template <WeightType kType>
inline float load1(const uint8_t* row, int64_t c) {
  if constexpr (kType == WeightType::F32) return reinterpret_cast<const float*>(row)[c];
  else if constexpr (kType == WeightType::F16) return load_f16(row + 2 * c);
  else return load_bf16(row + 2 * c);
}

template <WeightType kType>
void fdot_neon(const WeightView& w, int64_t r0, int64_t r1, const float* x, int64_t x_stride, int64_t n_tokens,
               float* y, int64_t y_stride) {
  const int64_t cols = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * x_stride;
      float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
      int64_t c = 0;
      for (; c + 16 <= cols; c += 16)
        for (int k = 0; k < 4; ++k) acc[k] = vfmaq_f32(acc[k], load4<kType>(row, c + 4 * k), vld1q_f32(xt + c + 4 * k));
      for (; c + 4 <= cols; c += 4) acc[0] = vfmaq_f32(acc[0], load4<kType>(row, c), vld1q_f32(xt + c));
      float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
      for (; c < cols; ++c) s += load1<kType>(row, c) * xt[c];
      y[t * y_stride + r] = s;
    }
  }
}

float dot_neon(const float* a, const float* b, int64_t n) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  float s = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_neon(float alpha, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace

const IsaOps kNeonOps = {
    "neon",
    quantize_acts_neon,
    qdot_neon<true>,
    qdot_q4_0_neon,
    qdot_q2_1_neon,
    qdot_mxfp4_neon,
    qdot_grouped_q8_0_neon,
    qdot_grouped_q4_0_neon,
    qdot_grouped_q2_1_neon,
    {fdot_neon<WeightType::F32>, fdot_neon<WeightType::F16>, fdot_neon<WeightType::BF16>},
    {nullptr, nullptr, nullptr, nullptr, nullptr},  // matmul_t: dequantize_row + axpy_neon
    dot_neon,
    axpy_neon,
};

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __aarch64__
