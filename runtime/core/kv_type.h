// Element types of per-layer attention state rows (the KV cache and the MLA latent cache).
//   kF32:  4 bytes per value.
//   kF16:  IEEE half, 2 bytes per value (core/half.h conversions, round to nearest even).
//   kQ8_0: blocks of 32 values: f32 scale d = amax / 127, then 32 int8 q (value = d * q); 36 bytes.
//          A row piece of n values takes ceil(n / 32) blocks; the padding values of the last
//          block are 0. Each piece (one GQA head's K or V, the MLA latent row) starts a new block,
//          so pieces can be read alone.
// Plain enum and constexpr arithmetic; no state.
#pragma once

#include <cstdint>

namespace mote {

enum class KvType : uint8_t { kF32 = 0, kF16 = 1, kQ8_0 = 2 };

inline constexpr int64_t kKvQ8Block = 32;       // values per q8_0 block
inline constexpr int64_t kKvQ8BlockBytes = 36;  // f32 scale + 32 x int8

// Bytes of a row piece of n values stored as `type`.
constexpr int64_t kv_piece_bytes(KvType type, int64_t n) {
  switch (type) {
    case KvType::kF32: return n * 4;
    case KvType::kF16: return n * 2;
    case KvType::kQ8_0: return (n + kKvQ8Block - 1) / kKvQ8Block * kKvQ8BlockBytes;
  }
  return 0;
}

// "f32", "f16", "q8_0".
inline const char* kv_type_name(KvType type) {
  switch (type) {
    case KvType::kF32: return "f32";
    case KvType::kF16: return "f16";
    case KvType::kQ8_0: return "q8_0";
  }
  return "?";
}

}  // namespace mote
