// AVX2 + FMA (+ F16C for f16 rows) instantiation of the attention range kernel (attention_impl.h). Only the code below
// the target pragma uses these instructions; the driver (attention.cpp) calls it only when the
// active kernel table is "avx2", which the dispatcher offers only on CPUs that have it.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "cpu/kernels/attention_isa.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace mote::cpu {
namespace {

struct V {
  using T = __m256;
  static constexpr int W = 8;
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(T v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static T round(T x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T pow2i(T n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static T load_f16(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static T load_i8(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
};

#include "cpu/kernels/attention_impl.h"

}  // namespace

void attn_range_avx2(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                     float* acc, int64_t acc_stride, float* m, float* l) {
  if (a.kv_type != KvType::kF32)
    attn_range_typed<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
  else
    attn_range_impl<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif
