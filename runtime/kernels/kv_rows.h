// Conversion of per-layer attention state rows between f32 and their stored element type
// (core/kv_type.h): the KV cache rows (GQA: one piece per K head and per V head) and the MLA
// latent rows (one piece of kv_lora + dr values). A piece of n values stored as `type` takes
// kv_piece_bytes(type, n) bytes and starts a new q8_0 block, so it can be read alone.
//
// Rounding: f16 round to nearest even (core/half.h, overflow to inf); q8_0 per block of 32
// values d = amax / 127 (amax = largest |x| of the block, NaN skipped), q = x / d rounded to
// nearest even (x * (1 / d), clamped to [-127, 127]; an all-zero block has d = 0, q = 0), the
// padding values of the last block are 0; a NaN or infinite input leaves its q at 0. Decoding: f16 exact; q8_0 value = d * float(q).
//
// These are the scalar definitions; the attention kernels (kernels/attention.h) decode the same
// values (bit for bit) with SIMD. Plain functions, no state, thread-safe on distinct outputs.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "core/kv_type.h"

namespace mote::kernels {

// Value i of a piece stored as `type` at `piece` (i < the piece's n).
inline float kv_value(KvType type, const uint8_t* piece, int64_t i) {
  switch (type) {
    case KvType::kF32: {
      float f;
      std::memcpy(&f, piece + i * 4, 4);
      return f;
    }
    case KvType::kF16: {
      uint16_t h;
      std::memcpy(&h, piece + i * 2, 2);
      return f16_to_f32(h);
    }
    case KvType::kQ8_0: {
      const uint8_t* block = piece + i / kKvQ8Block * kKvQ8BlockBytes;
      float d;
      std::memcpy(&d, block, 4);
      return d * float(int8_t(block[4 + i % kKvQ8Block]));
    }
  }
  return 0.0f;
}

// Stores the n floats of src as one piece at dst (kv_piece_bytes(type, n) bytes written,
// q8_0 padding included).
void store_kv_piece(KvType type, const float* src, int64_t n, uint8_t* dst);

// Decodes values [first, first + n) of a piece stored as `type` into dst[0, n).
void load_kv_piece(KvType type, const uint8_t* piece, int64_t first, int64_t n, float* dst);

// n_rows rows of n floats (src, src_stride floats apart) to pieces at dst (dst_stride bytes
// apart). The Backend's store_kv on the CPU.
void store_kv_rows(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                   int64_t dst_stride);

}  // namespace mote::kernels
