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
//
// Row groups (WeightView::row_group == kRowGroup; format version 2). A Q8_0, Q4_0 or Q2_1
// matrix whose row count is a multiple of 16 may be stored in groups of 16 rows, so that one
// 64-byte SIMD load feeds 16 rows at once (AVX-512: one zmm; AVX2: two ymm; NEON: four q
// registers) and no horizontal sums are needed. Group g holds rows [16g, 16g + 16) and has the
// same size as those 16 rows in row-major layout. Inside it come the "group blocks", one per
// block column b, each 16 x block_bytes bytes at offset b * 16 * block_bytes. A lane is 4
// bytes; lane r of a 64-byte chunk belongs to row r of the group, and its 4 bytes hold weights
// of 4 consecutive columns (the width of one int32 of activations in vpdpbusd / sdot):
//   Q8_0 (544 B):  d[16] (f16, row r at index r); then 8 chunks k = 0..7 of 64 bytes:
//                  chunk k lane r byte i = q[r][4k + i].
//   Q4_0 (288 B):  d[16]; then 4 chunks j = 0..3 of 64 bytes: chunk j lane r byte i has
//                  q[r][4j + i] in its low nibble and q[r][16 + 4j + i] in its high nibble
//                  (these are the row-major block's bytes 4j..4j+3, moved as they are).
//   Q2_1 (192 B):  d[16]; m[16]; then 2 chunks j = 0..1 of 64 bytes: chunk j lane r byte i
//                  has q[r][16j + 4s + i] in bits 2s..2s+1, s = 0..3.
// The layout is the same on every ISA: the converter writes it and experts load without repacking.
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

inline constexpr int kRowGroup = 16;
// Bytes of one group block (16 rows x one block of 32 columns) and the offset of its first
// 64-byte chunk of codes (after d[16], and m[16] for Q2_1), for the SIMD loops.
template <WeightType kType>
inline constexpr int64_t kGroupBlockBytes =
    kRowGroup * (kType == WeightType::Q8_0 ? kQ8_0BlockBytes
                 : kType == WeightType::Q4_0 ? kQ4_0BlockBytes
                                             : kQ2_1BlockBytes);
template <WeightType kType>
inline constexpr int64_t kChunksAt = kType == WeightType::Q2_1 ? 64 : 32;
// Types that have a row-group layout (Q8_0, Q4_0, Q2_1).
bool row_group_type(WeightType type);
// 16 consecutive row-major encoded rows (each weight_row_bytes(type, cols) bytes, `rows` holds
// 16 of them) -> one row group of the same size at `group`. Lossless; the buffers must not overlap.
void interleave_row_group(WeightType type, const uint8_t* rows, int64_t cols, uint8_t* group);
// The inverse of interleave_row_group.
void deinterleave_row_group(WeightType type, const uint8_t* group, int64_t cols, uint8_t* rows);
// Decodes cols values of row `lane` (0..15) of a row group, starting at the group block that
// `blocks` points to (group + b * 16 * block_bytes decodes from column 32b): dst[cols].
void dequantize_group_row(WeightType type, const uint8_t* blocks, int lane, int64_t cols, float* dst);
// Decodes columns [c0, c0 + n) of row r of any view, row-major or grouped; c0 is a multiple of
// the type's block size. dst[n]. Thread-safe.
void dequantize_view_piece(const WeightView& w, int64_t r, int64_t c0, int64_t n, float* dst);
// Rewrites a whole row-major matrix [rows, cols] of `type` into row groups (rows % 16 == 0).
void interleave_matrix(WeightType type, const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);

}  // namespace mote
