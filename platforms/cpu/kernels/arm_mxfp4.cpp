// MXFP4 (gpt-oss experts; layout in kernels/quant.h) inner loop for AArch64 NEON with dotprod.
// Only code below the target pragma uses dotprod; the dispatcher calls it after HWCAP_ASIMDDP
// confirmed the extension (as arm_neon.cpp).
//
// A table lookup (vqtbl1q) turns each nibble into the int8 weight 2 * E2M1 value (isa.h,
// kMxfp4Int8), signed, so vdotq_s32 (s8 x s8) takes it against the activations directly. The low
// nibbles are the even elements and the high nibbles the odd ones: vzip1q / vzip2q put them back
// in element order (0..15, 16..31), matching ActBlock::q. One fma per block applies
// 2^(e - 128) * d_a (mxfp4_half_scale: exact for every e, NaN for e = 255); blocks alternate
// between two accumulators.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod+fp16")

namespace mote::cpu {
namespace {

inline int32x4_t mx_block_dot(const uint8_t* block, const int8x16_t lut, const ActBlock& a) {
  const uint8x16_t bytes = vld1q_u8(block + 1);
  const int8x16_t ev = vqtbl1q_s8(lut, vandq_u8(bytes, vdupq_n_u8(0x0f)));
  const int8x16_t od = vqtbl1q_s8(lut, vshrq_n_u8(bytes, 4));
  const int8x16_t w0 = vzip1q_s8(ev, od), w1 = vzip2q_s8(ev, od);
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, vld1q_s8(a.q)), w1, vld1q_s8(a.q + 16));
}

}  // namespace

void qdot_mxfp4_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                     int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  constexpr int64_t kB = kMxfp4BlockBytes;
  const int8x16_t lut = vld1q_s8(kMxfp4Int8);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r) + b0 * kB;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const ActBlock* a = acts + t * nb;
      float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
      int64_t j = 0;
      for (; j + 1 < nb; j += 2) {
        const uint8_t* b = row + j * kB;
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(mx_block_dot(b, lut, a[j])), mxfp4_half_scale(b[0]) * a[j].d);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(mx_block_dot(b + kB, lut, a[j + 1])),
                           mxfp4_half_scale(b[kB]) * a[j + 1].d);
      }
      if (j < nb) {
        const uint8_t* b = row + j * kB;
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(mx_block_dot(b, lut, a[j])), mxfp4_half_scale(b[0]) * a[j].d);
      }
      const float s = vaddvq_f32(vaddq_f32(acc0, acc1));
      float* out = y + t * y_stride + r;
      *out = accumulate ? *out + s : s;
    }
  }
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __aarch64__
