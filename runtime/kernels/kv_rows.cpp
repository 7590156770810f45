// Scalar f32 -> KvType pieces (kernels/kv_rows.h). The store runs once per written row (one
// token's K/V or latent row per layer), a small cost next to attention, which reads every row
// once per token; so it stays scalar and portable.
#include "kernels/kv_rows.h"

#include <algorithm>
#include <cmath>

namespace mote::kernels {
namespace {

// One q8_0 block of 32 values (a short last block is zero-padded by the caller).
void store_q8_block(const float* src, uint8_t* dst) {
  float amax = 0.0f;
  for (int64_t i = 0; i < kKvQ8Block; ++i) amax = std::fmax(amax, std::fabs(src[i]));
  const float d = amax / 127.0f;
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  std::memcpy(dst, &d, 4);
  int8_t* q = reinterpret_cast<int8_t*>(dst + 4);
  // Round to nearest even as nearbyint does in the default rounding mode, but branch-free (the
  // loop vectorises): for |x| < 2^22, (x + 1.5 * 2^23) - 1.5 * 2^23 is x rounded to an integer,
  // ties to even (the sum's ulp is 1). |src * inv| <= 127 here; a NaN stays NaN.
  constexpr float kRound = 12582912.0f;
  for (int64_t i = 0; i < kKvQ8Block; ++i) {
    const float r = (src[i] * inv + kRound) - kRound;
    q[i] = r == r ? int8_t(std::clamp(r, -127.0f, 127.0f)) : int8_t(0);  // NaN (from inf or NaN input): 0
  }
}

}  // namespace

void store_kv_piece(KvType type, const float* src, int64_t n, uint8_t* dst) {
  switch (type) {
    case KvType::kF32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case KvType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(src[i]);
        std::memcpy(dst + i * 2, &h, 2);
      }
      return;
    case KvType::kQ8_0:
      for (int64_t b = 0; b * kKvQ8Block < n; ++b) {
        const int64_t first = b * kKvQ8Block;
        if (n - first >= kKvQ8Block) {
          store_q8_block(src + first, dst + b * kKvQ8BlockBytes);
        } else {
          float padded[kKvQ8Block] = {};
          std::memcpy(padded, src + first, size_t(n - first) * sizeof(float));
          store_q8_block(padded, dst + b * kKvQ8BlockBytes);
        }
      }
      return;
  }
}

void load_kv_piece(KvType type, const uint8_t* piece, int64_t first, int64_t n, float* dst) {
  if (type == KvType::kF32) {
    std::memcpy(dst, piece + first * 4, size_t(n) * 4);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = kv_value(type, piece, first + i);
}

void store_kv_rows(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                   int64_t dst_stride) {
  for (int64_t r = 0; r < n_rows; ++r) store_kv_piece(type, src + r * src_stride, n, dst + r * dst_stride);
}

}  // namespace mote::kernels
