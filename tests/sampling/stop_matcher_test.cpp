// StopMatcher: stop strings across chunk boundaries, overlapping prefixes, several stop strings,
// and a brute-force check that the result does not depend on how the text is chunked.
#include "sampling/stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/alloc_counter.h"
#include "sampling/rng.h"

namespace mote {
namespace {

StopMatcher make(std::vector<std::string> stops) {
  Result<StopMatcher> m = StopMatcher::create(stops);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return std::move(m).value();
}

struct Streamed {
  std::string text;  // everything emitted, flush included when no stop
  int32_t stop_index = -1;
};

Streamed stream(StopMatcher& m, const std::vector<std::string>& chunks) {
  m.reset();
  Streamed out;
  for (const std::string& c : chunks) {
    const StopFeedResult r = m.feed(c);
    out.text += r.text;
    if (r.stopped) {
      out.stop_index = r.stop_index;
      EXPECT_TRUE(m.feed("more").stopped) << "stays stopped";
      EXPECT_TRUE(m.feed("more").text.empty());
      EXPECT_TRUE(m.flush().empty());
      return out;
    }
  }
  out.text += m.flush();
  return out;
}

// Reference: scan byte by byte; stop where a stop string first ends (longest one ending there).
Streamed reference(const std::string& text, const std::vector<std::string>& stops) {
  for (size_t end = 1; end <= text.size(); ++end) {
    int32_t best = -1;
    for (size_t i = 0; i < stops.size(); ++i) {
      const std::string& s = stops[i];
      if (s.size() <= end && text.compare(end - s.size(), s.size(), s) == 0 &&
          (best < 0 || s.size() > stops[size_t(best)].size()))
        best = int32_t(i);
    }
    if (best >= 0) return {text.substr(0, end - stops[size_t(best)].size()), best};
  }
  return {text, -1};
}

TEST(StopMatcher, StopSplitAcrossTwoChunksAtEveryPosition) {
  StopMatcher m = make({"<|end|>"});
  const std::string text = "Hello, world<|end|>ignored";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const Streamed r = stream(m, {text.substr(0, cut), text.substr(cut)});
    EXPECT_EQ(r.text, "Hello, world") << "cut " << cut;
    EXPECT_EQ(r.stop_index, 0) << "cut " << cut;
  }
}

TEST(StopMatcher, StopSplitAcrossThreeChunksAtEveryPair) {
  StopMatcher m = make({"STOP", "\n\n"});
  const std::string text = "abc S ST STO\nSTOP tail";
  for (size_t a = 0; a <= text.size(); ++a)
    for (size_t b = a; b <= text.size(); ++b) {
      const Streamed r = stream(m, {text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      EXPECT_EQ(r.text, "abc S ST STO\n") << a << "," << b;
      EXPECT_EQ(r.stop_index, 0);
    }
}

TEST(StopMatcher, HoldsBackOnlyAPossibleStopPrefix) {
  StopMatcher m = make({"<|end|>"});
  StopFeedResult r = m.feed("Hello<|");
  EXPECT_EQ(r.text, "Hello");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.held(), 2u);
  r = m.feed("x");  // "<|x" cannot start "<|end|>": released
  EXPECT_EQ(r.text, "<|x");
  EXPECT_EQ(m.held(), 0u);
  r = m.feed("<|en");
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(m.flush(), "<|en") << "end of generation releases the held text";
  EXPECT_EQ(m.held(), 0u);
}

TEST(StopMatcher, OverlappingPrefix) {
  StopMatcher m = make({"ab"});
  StopFeedResult r = m.feed("a");
  EXPECT_EQ(r.text, "");
  r = m.feed("a");
  EXPECT_EQ(r.text, "a");  // the first 'a' can no longer start "ab"
  r = m.feed("b");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(stream(m, {"aab"}).text, "a");
  StopMatcher n = make({"aab"});
  EXPECT_EQ(stream(n, {"a", "a", "a", "b", "c"}).text, "a");  // "aaab": match starts at 1
  EXPECT_EQ(stream(n, {"aaa", "ab"}).text, "aa");
}

TEST(StopMatcher, FirstStopToCompleteWins) {
  StopMatcher m = make({"abc", "b", "xyz"});
  Streamed r = stream(m, {"zabc"});  // "b" completes (at byte 3) before "abc" (byte 4)
  EXPECT_EQ(r.text, "za");
  EXPECT_EQ(r.stop_index, 1);
  r = stream(m, {"z", "a", "b", "c"});
  EXPECT_EQ(r.text, "za");
  EXPECT_EQ(r.stop_index, 1);
  StopMatcher n = make({"b", "ab"});  // both end at the same byte: the longer one is cut
  r = stream(n, {"xab"});
  EXPECT_EQ(r.text, "x");
  EXPECT_EQ(r.stop_index, 1);
  r = stream(m, {"hello xy", "z!"});
  EXPECT_EQ(r.text, "hello ");
  EXPECT_EQ(r.stop_index, 2);
}

TEST(StopMatcher, NoStopsPassesEverything) {
  StopMatcher m = make({});
  const StopFeedResult r = m.feed("anything");
  EXPECT_EQ(r.text, "anything");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, RejectsEmptyStopString) {
  const std::vector<std::string> stops = {"ok", ""};
  const Result<StopMatcher> m = StopMatcher::create(stops);
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("stop string 1"), std::string::npos);
}

TEST(StopMatcher, RandomChunkingsMatchByteByByteReference) {
  Rng rng(2024);
  auto pick = [&](size_t n) { return size_t(rng.next() % n); };
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::string> stops(1 + pick(3));
    for (std::string& s : stops)
      for (size_t i = 0, len = 1 + pick(4); i < len; ++i) s += char('a' + pick(3));
    std::string text;
    for (size_t i = 0, len = pick(30); i < len; ++i) text += char('a' + pick(4));
    const Streamed expected = reference(text, stops);
    std::vector<std::string> chunks;
    for (size_t at = 0; at < text.size();) {
      const size_t len = std::min(text.size() - at, pick(5));  // empty chunks too
      chunks.push_back(text.substr(at, len));
      at += len;
    }
    StopMatcher m = make(stops);
    const Streamed got = stream(m, chunks);
    ASSERT_EQ(got.text, expected.text) << "text " << text << " trial " << trial;
    ASSERT_EQ(got.stop_index, expected.stop_index) << "text " << text << " trial " << trial;
  }
}

TEST(StopMatcher, FeedDoesNotAllocateInSteadyState) {
  StopMatcher m = make({"<|end|>", "\n\nUser:"});
  int64_t allocations = 0;
  {
    test::CountAllocations counter;
    for (int i = 0; i < 1000; ++i) {
      const StopFeedResult r = m.feed(i % 7 == 0 ? "<|" : " token\n");
      ASSERT_FALSE(r.stopped);
    }
    EXPECT_TRUE(m.feed("<|end|>").stopped);
    m.reset();
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0);
}

TEST(StopMatcher, EosHelper) {
  const std::vector<int32_t> eos = {1, 128001};
  EXPECT_TRUE(is_eos_token(1, eos));
  EXPECT_TRUE(is_eos_token(128001, eos));
  EXPECT_FALSE(is_eos_token(2, eos));
  EXPECT_FALSE(is_eos_token(1, {}));
}

}  // namespace
}  // namespace mote
