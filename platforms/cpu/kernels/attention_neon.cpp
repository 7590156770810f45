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
  static T load_f16(const uint8_t* p) {
    uint16_t h[4];
    __builtin_memcpy(h, p, 8);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
  }
  // Reads exactly 4 bytes (an 8-byte load could leave the last q8_0 block of the arena).
  static T load_i8(const uint8_t* p) {
    uint32_t w;
    __builtin_memcpy(&w, p, 4);
    const int16x8_t wide = vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(w)));
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
  }
};

#include "cpu/kernels/attention_impl.h"

}  // namespace

void attn_range_neon(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                     float* acc, int64_t acc_stride, float* m, float* l) {
  if (a.kv_type != KvType::kF32)
    attn_range_typed<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
  else
    attn_range_impl<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
}

}  // namespace mote::cpu
#endif
