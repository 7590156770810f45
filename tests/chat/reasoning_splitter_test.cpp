// ReasoningSplitter: tags split at every byte position, streams starting inside reasoning.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chat/chat_template.h"

namespace mote {
namespace {

// Feeds `chunks` in order and returns the concatenated outputs, finish() included.
ReasoningSplitter::Output run(bool starts_in_reasoning, const std::vector<std::string>& chunks) {
  ReasoningSplitter splitter(starts_in_reasoning);
  ReasoningSplitter::Output out;
  for (const std::string& c : chunks) splitter.feed(c, out);
  splitter.finish(out);
  return out;
}

TEST(ReasoningSplitter, WholeStringAtOnce) {
  const auto out = run(false, {"<think>\nplan\n</think>\n\nAnswer"});
  EXPECT_EQ(out.reasoning, "\nplan\n");
  EXPECT_EQ(out.content, "\n\nAnswer");
}

TEST(ReasoningSplitter, R1StreamStartsInsideReasoning) {
  // deepseek-r1's prompt ends with "<think>\n": the model only writes the closing tag.
  const auto out = run(true, {"step 1", ", step 2</th", "ink>\n\n", "The answer is 4."});
  EXPECT_EQ(out.reasoning, "step 1, step 2");
  EXPECT_EQ(out.content, "\n\nThe answer is 4.");
}

TEST(ReasoningSplitter, NoTagsIsAllContent) {
  const auto out = run(false, {"just ", "an answer with < and </ signs <thin"});
  EXPECT_EQ(out.reasoning, "");
  EXPECT_EQ(out.content, "just an answer with < and </ signs <thin");
}

TEST(ReasoningSplitter, UnclosedReasoningStaysReasoning) {
  const auto out = run(true, {"still thinking </thi"});
  EXPECT_EQ(out.reasoning, "still thinking </thi");
  EXPECT_EQ(out.content, "");
}

// Every split of the stream into two and into three chunks, so both tags are cut at every byte.
TEST(ReasoningSplitter, TagsSplitAtEveryPosition) {
  const std::string text = "a<think>b<c</think>d</think>e<think";
  // Reasoning "b<c"; then content "d</think>e" (a stray close tag is text); "<think" at the end
  // never completes, so finish() releases it as content.
  const std::string want_reasoning = "b<c";
  const std::string want_content = "ad</think>e<think";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      const auto out = run(false, {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      ASSERT_EQ(out.reasoning, want_reasoning) << "split at " << i << "," << j;
      ASSERT_EQ(out.content, want_content) << "split at " << i << "," << j;
    }
  }
}

TEST(ReasoningSplitter, ByteByByteWithUtf8) {
  const std::string text = "思考<think>推理 é</think>答え";
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  const auto out = run(false, bytes);
  EXPECT_EQ(out.reasoning, "推理 é");
  EXPECT_EQ(out.content, "思考答え");
}

TEST(ReasoningSplitter, HoldsBackOnlyAPossibleTagPrefix) {
  ReasoningSplitter s(true);
  auto out = s.feed("abc</");
  EXPECT_EQ(out.reasoning, "abc");  // "</" may start "</think>"
  out = s.feed("b>");
  EXPECT_EQ(out.reasoning, "</b>");  // it did not
  EXPECT_TRUE(s.in_reasoning());
  out = s.feed("</think>x");
  EXPECT_EQ(out.content, "x");
  EXPECT_FALSE(s.in_reasoning());
}

}  // namespace
}  // namespace mote
