// Fast row encoders for the converter: the same bytes as kernels/quant.h quantize_row, faster.
//
// Q8_0, Q4_0 and Q2_1 have an AVX-512 path (encode_avx512.cpp) that performs the reference
// encoder's float operations in the same order (IEEE division, ties-to-even rounding, the same
// f16 rounding through vcvtps2ph, no FMA contraction: that file is built with -ffp-contract=off),
// so its output is bit-identical to quantize_row; Q4_0 and Q2_1 run 16 blocks at once, one block
// per lane, so each lane repeats the reference's sequential sums exactly. A block holding a NaN
// or an Inf is re-encoded with quantize_row (its rare float->int corner cases stay the
// reference's). Every other type, and every type on a CPU without AVX-512, uses quantize_row.
//
// MOTE_CONVERT_REFERENCE=1 in the environment forces the reference encoders (tests compare the
// two; a user can rule the fast path out when in doubt).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace mote::convert {

enum class EncoderIsa : uint8_t { kReference, kAvx512 };

// The best encoder this CPU runs (kReference when MOTE_CONVERT_REFERENCE=1). Thread-safe.
EncoderIsa best_encoder_isa();
const char* encoder_isa_name(EncoderIsa isa);
// Whether `isa` runs on this CPU.
bool encoder_isa_supported(EncoderIsa isa);

// Encodes `rows` rows of `cols` floats (src[rows * cols], row-major) into
// dst[rows * weight_row_bytes(type, cols)], exactly as quantize_row does row by row.
// Thread-safe (no shared state); `isa` must be supported.
void encode_rows(EncoderIsa isa, WeightType type, const float* src, int64_t rows, int64_t cols, uint8_t* dst);

// BF16 -> f32 (exact: a shift), count elements. Thread-safe.
void decode_bf16_rows(EncoderIsa isa, const uint8_t* src, uint64_t count, float* dst);

namespace avx512 {
// encode_avx512.cpp; callable only when encoder_isa_supported(kAvx512). Handle whole rows.
void encode_q8_0(const float* src, int64_t rows, int64_t cols, uint8_t* dst);
void encode_q4_0(const float* src, int64_t rows, int64_t cols, uint8_t* dst);
void encode_q2_1(const float* src, int64_t rows, int64_t cols, uint8_t* dst);
void decode_bf16(const uint8_t* src, uint64_t count, float* dst);
}  // namespace avx512

}  // namespace mote::convert
