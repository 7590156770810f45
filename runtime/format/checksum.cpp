#include "format/checksum.h"

#include <cstring>

namespace mote {

uint64_t checksum64(const void* data, size_t size, uint64_t state) {
  constexpr uint64_t kPrime = 0x100000001b3ull;
  const auto* bytes = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    state = (state ^ word) * kPrime;
  }
  for (; i < size; ++i) state = (state ^ bytes[i]) * kPrime;
  return state;
}

}  // namespace mote
