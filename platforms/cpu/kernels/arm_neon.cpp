// AArch64 NEON inner loops with the dot-product extension (Armv8.2-A dotprod: Cortex-A55/A76,
// Neoverse, Apple M). Only code below the target pragma uses dotprod, so the file builds for
// baseline armv8-a and the dispatcher calls it after HWCAP_ASIMDDP confirmed the extension.
//
// Quantised products: vdotq_s32 (s8 x s8, 4-way, into int32) on both 16-byte halves of a block;
// Q4_0 nibbles are turned into signed codes (nibble - 8) first, so no offset correction is needed.
// One fma per block applies d_w * d_a. Q2_1: see q2_block_dot. The loops for row-grouped views
// (16 rows per 4-byte-lane chunk, no horizontal sums) are in arm_neon_grouped.cpp.
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

void qdot_q2_1_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int64_t kBytes = kQ2_1BlockBytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r) + b0 * kBytes;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const ActBlock* a = acts + t * nb;
      float32x4_t acc = vdupq_n_f32(0.0f);
      float macc = 0.0f;
      for (int64_t j = 0; j < nb; ++j) {
        const uint8_t* b = row + j * kBytes;
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(q2_block_dot(b, a[j])), load_f16(b) * a[j].d);
        macc += load_f16(b + 2) * a[j].d * float(a[j].sum);
      }
      const float s = vaddvq_f32(acc) + macc;
      float* out = y + t * y_stride + r;
      *out = accumulate ? *out + s : s;
    }
  }
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
    qdot_neon<false>,
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
