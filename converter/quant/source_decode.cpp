#include "quant/source_decode.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/half.h"
#include "hf/error.h"

namespace mote::convert {

namespace {

// All 256 FP8 E4M3 codes decoded once.
const std::array<float, 256>& fp8_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[size_t(i)] = fp8_e4m3_to_f32(uint8_t(i));
    return t;
  }();
  return table;
}

}  // namespace

void decode_to_f32(StDtype dtype, const uint8_t* src, uint64_t count, float* dst) {
  switch (dtype) {
    case StDtype::F32:
      std::memcpy(dst, src, count * 4);
      return;
    case StDtype::F16:
    case StDtype::BF16: {
      const bool bf = dtype == StDtype::BF16;
      for (uint64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
      return;
    }
    case StDtype::F8_E4M3: {
      const auto& t = fp8_table();
      for (uint64_t i = 0; i < count; ++i) dst[i] = t[src[i]];
      return;
    }
    default:
      fail(std::string("internal: cannot decode dtype ") + st_dtype_name(dtype));
  }
}

void dequantize_fp8_rows(const uint8_t* q, int64_t row0, int64_t rows, int64_t cols,
                         const float* scale, int64_t scale_cols, float* dst) {
  const auto& t = fp8_table();
  const int64_t first_block_row = row0 / kFp8Block;
  for (int64_t i = 0; i < rows; ++i) {
    const float* srow = scale + ((row0 + i) / kFp8Block - first_block_row) * scale_cols;
    const uint8_t* qrow = q + i * cols;
    float* drow = dst + i * cols;
    for (int64_t jb = 0; jb < scale_cols; ++jb) {
      const float s = srow[jb];
      const int64_t end = std::min<int64_t>(cols, (jb + 1) * kFp8Block);
      for (int64_t j = jb * kFp8Block; j < end; ++j) drow[j] = t[qrow[j]] * s;
    }
  }
}

void repack_mxfp4_rows(const uint8_t* blocks, const uint8_t* scales, int64_t nb, int64_t src_row0,
                       int64_t row_step, int64_t rows, uint8_t* dst) {
  constexpr int64_t kBlockBytes = 16;  // 32 E2M1 codes, low nibble first (same order as ours)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t src = src_row0 + r * row_step;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + (r * nb + b) * (kBlockBytes + 1);
      out[0] = scales[src * nb + b];
      std::memcpy(out + 1, blocks + (src * nb + b) * kBlockBytes, kBlockBytes);
    }
  }
}

}  // namespace mote::convert
