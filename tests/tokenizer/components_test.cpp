// Unit tests of the tokenizer's building blocks: HF split behaviours (the examples from the HF
// `SplitDelimiterBehavior` docs), Digits, Metaspace, ByteLevel prefix space, the UTF-8 repair
// rules, the GPT-2 byte alphabet, and added-token flags.
#include <gtest/gtest.h>

#include "tokenizer/added_tokens.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace mote::tok {
namespace {

std::vector<std::string> run(const PreTokenizer& p, std::string_view text, bool at_start = true) {
  PreTokScratch scratch;
  Words w;
  EXPECT_TRUE(p.run(text, at_start, &scratch, &w).is_ok());
  std::vector<std::string> out;
  for (const Span& s : w.spans) out.push_back(w.text.substr(s.first, s.second - s.first));
  return out;
}

PreTokenizer split_on(const std::string& literal, SplitBehavior b, bool invert = false) {
  PreTokStep s;
  s.kind = PreTokStep::Kind::kSplit;
  s.literal = literal;
  s.behavior = b;
  s.invert = invert;
  PreTokenizer p;
  p.add(std::move(s));
  return p;
}

using V = std::vector<std::string>;

TEST(TokenizerSplit, BehavioursMatchHuggingFaceDocs) {
  const char* text = "the-final--countdown";
  EXPECT_EQ(run(split_on("-", SplitBehavior::kRemoved), text), (V{"the", "final", "countdown"}));
  EXPECT_EQ(run(split_on("-", SplitBehavior::kIsolated), text), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(run(split_on("-", SplitBehavior::kMergedWithPrevious), text), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(run(split_on("-", SplitBehavior::kMergedWithNext), text), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(run(split_on("-", SplitBehavior::kContiguous), text), (V{"the", "-", "final", "--", "countdown"}));
}

TEST(TokenizerSplit, RegexInvertAndEmptyInput) {
  PreTokStep s;
  s.kind = PreTokStep::Kind::kSplit;
  s.regex = std::move(Regex::compile("[a-z]+", "test").value());
  s.behavior = SplitBehavior::kRemoved;
  s.invert = true;  // regex matches are kept, the gaps between them removed
  PreTokenizer p;
  p.add(std::move(s));
  EXPECT_EQ(run(p, "abc123def"), (V{"abc", "def"}));
  EXPECT_EQ(run(p, ""), V{});
}

TEST(TokenizerSplit, UnicodeClassesNeedUcp) {
  PreTokStep s;
  s.kind = PreTokStep::Kind::kSplit;
  s.regex = std::move(Regex::compile("\\s+", "test").value());
  s.behavior = SplitBehavior::kRemoved;
  PreTokenizer p;
  p.add(std::move(s));
  EXPECT_EQ(run(p, "a\u3000b\u00a0c"), (V{"a", "b", "c"}));  // U+3000 and U+00A0 are \s with UCP
}

TEST(TokenizerSplit, DigitsAndMetaspace) {
  PreTokenizer digits;
  PreTokStep d;
  d.kind = PreTokStep::Kind::kDigits;
  d.individual_digits = true;
  d.regex = std::move(Regex::compile("\\p{N}", "test").value());
  digits.add(std::move(d));
  EXPECT_EQ(run(digits, "ab 123"), (V{"ab ", "1", "2", "3"}));

  PreTokenizer meta;
  PreTokStep m;
  m.kind = PreTokStep::Kind::kMetaspace;
  m.replacement = kSpmSpace;
  m.prepend = PreTokStep::Prepend::kFirst;
  meta.add(std::move(m));
  EXPECT_EQ(run(meta, "Hey friend"), (V{"\u2581Hey", "\u2581friend"}));
  EXPECT_EQ(run(meta, "Hey friend", /*at_start=*/false), (V{"Hey", "\u2581friend"}));
}

TEST(TokenizerSplit, ByteLevelPrefixSpaceAndGpt2Regex) {
  PreTokenizer p;
  PreTokStep s;
  s.kind = PreTokStep::Kind::kByteLevel;
  s.add_prefix_space = true;
  s.regex = std::move(Regex::compile(kGpt2Pattern, "test").value());
  p.add(std::move(s));
  EXPECT_EQ(run(p, "Hello, it's 2024!  "), (V{" Hello", ",", " it", "'s", " 2024", "!", "  "}));
}

TEST(TokenizerUtf8, LossyRepairFollowsMaximalSubparts) {
  auto repair = [](std::string_view in, bool final) {
    std::string out;
    size_t used = append_utf8_lossy(in, final, &out);
    return std::make_pair(out, used);
  };
  const std::string r = kReplacementChar;
  EXPECT_EQ(repair("ab\xC3", false), std::make_pair(std::string("ab"), size_t{2}));  // held back
  EXPECT_EQ(repair("ab\xC3", true).first, "ab" + r);
  EXPECT_EQ(repair("\xE4\xBD" "A", true).first, r + "A");               // truncated 3-byte sequence
  EXPECT_EQ(repair("\xED\xA0\x80", true).first, r + r + r);             // surrogate: 3 replacements
  EXPECT_EQ(repair("\xC0\x80", true).first, r + r);                     // overlong
  EXPECT_EQ(repair("\xF4\x90\x80\x80", true).first, r + r + r + r);     // > U+10FFFF
  EXPECT_EQ(repair("\xF0\x9F\x98\x80", false).first, "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8_first_invalid("ok\xFFno"), 2u);
}

TEST(TokenizerUtf8, ByteLevelAlphabetIsABijection) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string mapped = bytes_to_byte_level(all), back;
  ASSERT_TRUE(byte_level_to_bytes(mapped, &back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(bytes_to_byte_level(" "), "\u0120");   // 'Ġ'
  EXPECT_EQ(bytes_to_byte_level("\n"), "\u010A");  // 'Ċ'
  EXPECT_FALSE(byte_level_to_bytes("\u2581", &back));
  EXPECT_EQ(parse_byte_token("<0x0A>"), 10);
  EXPECT_EQ(parse_byte_token("<0xZZ>"), -1);
}

TEST(TokenizerAddedTokens, LongestMatchAndFlags) {
  AddedTokenMatcher m;
  m.add({"<a>", 1, true, false, false, false, false});
  m.add({"<a><b>", 2, true, false, false, false, false});
  m.add({"[L]", 3, false, false, /*lstrip=*/true, /*rstrip=*/true, false});
  m.add({"word", 4, false, false, false, false, /*single_word=*/true});
  std::vector<Segment> segs;
  m.split("x<a><b>y<a>", true, &segs);
  ASSERT_EQ(segs.size(), 4u);
  EXPECT_EQ(segs[1].id, 2);  // longest wins
  EXPECT_EQ(segs[3].id, 1);
  segs.clear();
  m.split("x<a>", /*allow_special=*/false, &segs);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].id, -1);
  segs.clear();
  m.split("a  [L]  b", true, &segs);  // lstrip/rstrip absorb the surrounding spaces
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].end, 1u);
  EXPECT_EQ(segs[1].id, 3);
  EXPECT_EQ(segs[2].begin, 8u);
  segs.clear();
  m.split("swordfish word", true, &segs);  // single_word: only the free-standing "word"
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[1].id, 4);
  EXPECT_EQ(segs[1].begin, 10u);
}

}  // namespace
}  // namespace mote::tok
