// NEON (AArch64 Advanced SIMD, always present on aarch64) instantiation of the attention range
// kernel (attention_impl.h). The driver (attention.cpp) calls it when the active kernel table is
// "neon".
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "cpu/kernels/attention_isa.h"

namespace mote::cpu {
namespace {

struct V {
  using T = float32x4_t;
  static constexpr int W = 4;
  static T zero() { return vdupq_n_f32(0.0f); }
  static T set1(float x) { return vdupq_n_f32(x); }
  static T load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T max(T a, T b) { return vmaxq_f32(a, b); }
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static float hsum(T v) { return vaddvq_f32(v); }
  static float hmax(T v) { return vmaxvq_f32(v); }
  static T round(T x) { return vrndnq_f32(x); }
  static T pow2i(T n) {
    const int32x4_t e = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
};

#include "cpu/kernels/attention_impl.h"

}  // namespace

void attn_range_neon(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                     float* acc, int64_t acc_stride, float* m, float* l) {
  attn_range_impl<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
}

}  // namespace mote::cpu
#endif
