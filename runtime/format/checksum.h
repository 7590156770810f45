// checksum64: FNV-1a-64 folded over 8-byte little-endian words (then the tail bytes one by one).
// Word-wise folding is ~8x faster than byte-wise FNV and is enough to catch corruption; it is
// not a cryptographic hash. Pure function, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mote {

inline constexpr uint64_t kChecksumSeed = 0xcbf29ce484222325ull;

// Continues a checksum over more bytes: checksum64(b, checksum64(a)) == checksum64(a ++ b) only
// when a's size is a multiple of 8; the converter feeds whole segments, padded chunks of 8.
uint64_t checksum64(const void* data, size_t size, uint64_t state = kChecksumSeed);

}  // namespace mote
