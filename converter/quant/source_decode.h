// Source element formats -> f32: the first half of every tensor conversion (the second half is
// quantize_row in kernels/quant.h). Pure functions, thread-safe.
#pragma once

#include <cstdint>

#include "hf/safetensors.h"

namespace mote::convert {

inline constexpr int64_t kFp8Block = 128;  // DeepSeek-V3 weight_scale_inv block: 128 x 128

// Decodes `count` elements of `dtype` (F32, F16, BF16, or raw F8_E4M3 codes, unscaled) into dst.
void decode_to_f32(StDtype dtype, const uint8_t* src, uint64_t count, float* dst);

// Dequantises FP8 E4M3 rows [row0, row0 + rows) of a [*, cols] weight:
//   dst[i][j] = fp8_e4m3_to_f32(q[i][j]) * scale[(row0 + i) / 128][j / 128]
// `scale` points at scale row row0 / 128 of the [ceil(R/128), scale_cols] weight_scale_inv
// tensor (scale_cols = ceil(cols / 128)); edge blocks use their scale as-is.
void dequantize_fp8_rows(const uint8_t* q, int64_t row0, int64_t rows, int64_t cols,
                         const float* scale, int64_t scale_cols, float* dst);

}  // namespace mote::convert
