// BPE word cache edge cases (issue #12 item 10: UBSan flagged memcpy(nullptr, ..., 0) here).
// An empty word and an empty id list come with null data pointers; the cache must not pass them
// to memcpy/memcmp. Run under -fsanitize=undefined (build-h3-ubsan) to see the old failure.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"

namespace mote::tok {
namespace {

TEST(WordCache, EmptyWordAndEmptyIdsWithNullPointers) {
  WordCache cache;
  const std::string_view empty;  // data() == nullptr
  ASSERT_EQ(empty.data(), nullptr);
  std::vector<int32_t> out;  // data() == nullptr while empty
  EXPECT_FALSE(cache.get(empty, &out));
  cache.put(empty, nullptr, 0);
  EXPECT_TRUE(cache.get(empty, &out));
  EXPECT_TRUE(out.empty());
  cache.put(empty, nullptr, 0);  // a second put finds the entry (memcmp of 0 bytes skipped)
  const int32_t ids[] = {7, 9};
  cache.put("ab", ids, 2);
  EXPECT_TRUE(cache.get("ab", &out));
  EXPECT_EQ(out, (std::vector<int32_t>{7, 9}));
}

}  // namespace
}  // namespace mote::tok
