// Checksum64Stream (format/checksum.h): any split of a byte stream into pieces, including pieces
// shorter than 8 bytes that only top up the held tail, gives checksum64 of the whole stream.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "format/checksum.h"

namespace mote {
namespace {

TEST(Checksum64Stream, AnySplitEqualsTheOneShotChecksum) {
  std::mt19937 rng(7);
  for (size_t size : {0u, 1u, 7u, 8u, 9u, 63u, 1000u}) {
    std::vector<uint8_t> bytes(size);
    for (uint8_t& b : bytes) b = uint8_t(rng());
    const uint64_t whole = checksum64(bytes.data(), bytes.size());
    for (int trial = 0; trial < 50; ++trial) {
      Checksum64Stream s;
      size_t at = 0;
      while (at < size) {
        const size_t piece = std::min<size_t>(size - at, rng() % 11);  // 0..10 bytes, small on purpose
        s.update(bytes.data() + at, piece);
        at += piece;
      }
      ASSERT_EQ(s.finish(), whole) << "size " << size << " trial " << trial;
    }
  }
}

TEST(Checksum64Stream, ShortPiecesAfterAHeldTailKeepEveryByte) {
  // 3 bytes held, then 2 more that do not complete a word: all 5 must count.
  const uint8_t data[5] = {1, 2, 3, 4, 5};
  Checksum64Stream s;
  s.update(data, 3);
  s.update(data + 3, 2);
  EXPECT_EQ(s.finish(), checksum64(data, 5));
}

}  // namespace
}  // namespace mote
