// AVX-512 (F) instantiation of the attention range kernel (attention_impl.h). Only the code below
// the target pragma uses these instructions; the driver (attention.cpp) calls it only when the
// active kernel table is "avx512", which the dispatcher offers only on CPUs that have it.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "cpu/kernels/attention_isa.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
// GCC 12's AVX-512 headers build results from _mm*_undefined_*() and then warn about them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace mote::cpu {
namespace {

struct V {
  using T = __m512;
  static constexpr int W = 16;
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(T v) { return _mm512_reduce_add_ps(v); }
  static float hmax(T v) { return _mm512_reduce_max_ps(v); }
  static T round(T x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T pow2i(T n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static T load_f16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static T load_i8(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
};

#include "cpu/kernels/attention_impl.h"

}  // namespace

void attn_range_avx512(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                       float* acc, int64_t acc_stride, float* m, float* l) {
  if (a.kv_type != KvType::kF32)
    attn_range_typed<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
  else
    attn_range_impl<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
}

}  // namespace mote::cpu

#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
