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

// gpt-oss experts (32 E2M1 values per 16-byte block, low nibble first, one E8M0 scale per block)
// -> WeightType::MXFP4 rows (kernels/quant.h), a lossless
// re-layout: `blocks` [src_rows, nb, 16] and `scales` [src_rows, nb] are one expert's slice of
// `*_proj_blocks` / `*_proj_scales`. Output row r is source row src_row0 + r * row_step (gate_up
// interleaves gate (even rows) and up (odd rows): step 2 from row 0 or 1; down: step 1), written
// as nb blocks of {scale byte, the 16 block bytes}: dst holds rows * nb * 17 bytes. Thread-safe.
void repack_mxfp4_rows(const uint8_t* blocks, const uint8_t* scales, int64_t nb, int64_t src_row0,
                       int64_t row_step, int64_t rows, uint8_t* dst);

}  // namespace mote::convert
