// Block formats of the quantised weight types and their reference (scalar) encoders/decoders.
// The converter writes exactly these bytes and the kernels read them in place: no repacking.
//
// Q8_0: blocks of 32 along a row: uint16 f16 scale d, then 32 int8 q; value = d * q.
// Q4_0: blocks of 32 along a row: uint16 f16 scale d, then 16 bytes; byte i holds element i in
//       its low nibble and element i+16 in its high nibble; value = d * (nibble - 8).
// MXFP4: blocks of 32 along a row (OCP MX, gpt-oss experts): uint8 E8M0 scale e, then 16 bytes;
//       byte i holds element 2i in its low nibble and element 2i+1 in its high nibble, each an
//       E2M1 code (kMxfp4Values); value = kMxfp4Values[code] * 2^(e - 127). The converter copies
//       gpt-oss's `*_scales` byte and `*_blocks` 16 bytes into each block unchanged.
// Q2_1: blocks of 32 along a row (routed experts at 3.0 bits/weight): uint16 f16 scale d, uint16
//       f16 minimum m, then 8 bytes of 2-bit codes q in [0, 3]; element i is in byte i / 4, bits
//       2 * (i % 4); value = d * q + m.
// A row whose length is not a multiple of 32 is padded with zeros up to the next block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace mote {

inline constexpr int kQuantBlock = 32;
inline constexpr int kQ8_0BlockBytes = 34;
inline constexpr int kQ4_0BlockBytes = 18;
inline constexpr int kMxfp4BlockBytes = 17;
inline constexpr int kQ2_1BlockBytes = 12;
// E2M1 code -> value (sign bit 3, exponent bits 2..1, mantissa bit 0).
inline constexpr float kMxfp4Values[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                           -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// Elements per block (1 for plain types) and bytes per block.
int64_t weight_block_size(WeightType type);
int64_t weight_block_bytes(WeightType type);
// Bytes of one row of `cols` elements, padding included.
uint64_t weight_row_bytes(WeightType type, int64_t cols);

// Encodes one row: src[cols] -> dst[weight_row_bytes(type, cols)]. Thread-safe. MXFP4 is
// encoded round-to-nearest with the OCP shared exponent floor(log2(amax)) - 2 (tests and
// synthetic checkpoints only: real gpt-oss experts are copied, never re-encoded). Q2_1 searches
// a small grid of (min, max) shrinks per block with a least-squares refit (deterministic).
void quantize_row(WeightType type, const float* src, int64_t cols, uint8_t* dst);
// Decodes one row: src -> dst[cols]. Thread-safe.
void dequantize_row(WeightType type, const uint8_t* src, int64_t cols, float* dst);

}  // namespace mote
