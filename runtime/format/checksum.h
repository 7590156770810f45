// checksum64: FNV-1a-64 folded over 8-byte little-endian words (then the tail bytes one by one).
// Word-wise folding is ~8x faster than byte-wise FNV and is enough to catch corruption; it is
// not a cryptographic hash. Pure function, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mote {

inline constexpr uint64_t kChecksumSeed = 0xcbf29ce484222325ull;

// Continues a checksum over more bytes: checksum64(b, checksum64(a)) == checksum64(a ++ b) only
// when a's size is a multiple of 8; the converter feeds whole segments, padded chunks of 8.
uint64_t checksum64(const void* data, size_t size, uint64_t state = kChecksumSeed);

// checksum64 over a byte stream fed in pieces of any size: finish() equals checksum64 of all the
// bytes at once (checksum64 composes over 8-byte multiples only, so up to 7 bytes wait for the
// next piece). Not thread-safe; a value type.
class Checksum64Stream {
 public:
  void update(const void* data, size_t n) {
    auto* p = static_cast<const uint8_t*>(data);
    if (held_ > 0) {  // complete the held word first
      const size_t take = n < 8 - held_ ? n : 8 - held_;
      std::memcpy(tail_ + held_, p, take);
      held_ += take, p += take, n -= take;
      if (held_ < 8) return;  // the piece only topped up the held bytes
      state_ = checksum64(tail_, 8, state_), held_ = 0;
    }
    const size_t bulk = n & ~size_t(7);
    if (bulk) state_ = checksum64(p, bulk, state_);
    std::memcpy(tail_, p + bulk, n - bulk);
    held_ = n - bulk;
  }
  uint64_t finish() const { return checksum64(tail_, held_, state_); }

 private:
  uint64_t state_ = kChecksumSeed;
  uint8_t tail_[8] = {};
  size_t held_ = 0;
};


}  // namespace mote
