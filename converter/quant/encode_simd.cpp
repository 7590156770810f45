#include "quant/encode_simd.h"

#include <cstdlib>
#include <cstring>

#include "core/half.h"
#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

namespace mote::convert {

bool encoder_isa_supported(EncoderIsa isa) {
  if (isa == EncoderIsa::kReference) return true;
#if defined(__x86_64__)
  // cpu_supports("avx512") checks AVX-512 F/BW/VL (and VNNI) by CPUID, which covers every
  // instruction encode_avx512.cpp uses (F, BW, VL).
  static const bool ok = mote::cpu::cpu_supports("avx512");
  return ok;
#else
  return false;
#endif
}

EncoderIsa best_encoder_isa() {
  const char* force = std::getenv("MOTE_CONVERT_REFERENCE");
  if (force != nullptr && std::strcmp(force, "0") != 0 && *force != '\0') return EncoderIsa::kReference;
  return encoder_isa_supported(EncoderIsa::kAvx512) ? EncoderIsa::kAvx512 : EncoderIsa::kReference;
}

const char* encoder_isa_name(EncoderIsa isa) { return isa == EncoderIsa::kAvx512 ? "avx512" : "reference"; }

void encode_rows(EncoderIsa isa, WeightType type, const float* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const uint64_t row_bytes = weight_row_bytes(type, cols);
#if defined(__x86_64__)
  if (isa == EncoderIsa::kAvx512) {
    switch (type) {
      case WeightType::Q8_0: return avx512::encode_q8_0(src, rows, cols, dst);
      case WeightType::Q4_0: return avx512::encode_q4_0(src, rows, cols, dst);
      case WeightType::Q2_1: return avx512::encode_q2_1(src, rows, cols, dst);
      default: break;
    }
  }
#endif
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, src + r * cols, cols, dst + uint64_t(r) * row_bytes);
}

void decode_bf16_rows(EncoderIsa isa, const uint8_t* src, uint64_t count, float* dst) {
#if defined(__x86_64__)
  if (isa == EncoderIsa::kAvx512) return avx512::decode_bf16(src, count, dst);
#endif
  for (uint64_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_f32(h);
  }
}

}  // namespace mote::convert
