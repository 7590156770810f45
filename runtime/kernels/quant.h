// Block formats of the quantised weight types and their reference (scalar) encoders/decoders.
// The converter writes exactly these bytes and the kernels read them in place: no repacking.
//
// Q8_0: blocks of 32 along a row: uint16 f16 scale d, then 32 int8 q; value = d * q.
// Q4_0: blocks of 32 along a row: uint16 f16 scale d, then 16 bytes; byte i holds element i in
//       its low nibble and element i+16 in its high nibble; value = d * (nibble - 8).
// A row whose length is not a multiple of 32 is padded with zeros up to the next block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace mote {

inline constexpr int kQuantBlock = 32;
inline constexpr int kQ8_0BlockBytes = 34;
inline constexpr int kQ4_0BlockBytes = 18;

// Elements per block (1 for plain types) and bytes per block.
int64_t weight_block_size(WeightType type);
int64_t weight_block_bytes(WeightType type);
// Bytes of one row of `cols` elements, padding included.
uint64_t weight_row_bytes(WeightType type, int64_t cols);

// Encodes one row: src[cols] -> dst[weight_row_bytes(type, cols)]. Thread-safe.
void quantize_row(WeightType type, const float* src, int64_t cols, uint8_t* dst);
// Decodes one row: src -> dst[cols]. Thread-safe.
void dequantize_row(WeightType type, const uint8_t* src, int64_t cols, float* dst);

}  // namespace mote
