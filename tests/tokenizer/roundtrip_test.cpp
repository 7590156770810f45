// decode(encode(text)) == text for every tokenizer in shared/data/tokenizers over the corpora and
// eval texts (whole files). SentencePiece-style tokenizers add one dummy-prefix "▁" when
// encoding and strip one leading space when decoding, so the round trip is exact for them too.
// Also: concurrent encodes on one const Tokenizer agree with a single-threaded encode.
#include <gtest/gtest.h>

#include <thread>

#include "tokenizer/tok_test_util.h"
#include "tokenizer/utf8.h"

namespace mote::test {
namespace {

const char* const kTokenizers[] = {"deepseek-v3", "qwen3",        "gpt-oss",           "mixtral-8x7b",
                                   "olmoe",       "llama2.model", "mixtral-8x7b.model", "mixtral-8x22b-v3.model"};
const char* const kTexts[] = {"corpora/tinyshakespeare.txt", "corpora/war-and-peace.txt",
                              "eval/wikitext-2-raw-test.txt", "eval/gsm8k-test.jsonl"};

// Multilingual text with emoji, combining marks (already NFC), odd whitespace and digits.
const char kMixed[] =
    "Hello, world! 你好，世界！ こんにちは、カタカナ。 안녕하세요 Привет мир Γειά σου κόσμε\n"
    "emoji: 😀👍🏽👨‍👩‍👧‍👦🇺🇸 math: ∑∫√∞≠ code:\tif (x <= 10) { return y**2; }\r\n"
    "   multiple   spaces\u00a0nbsp\u3000ideographic 1234567890 ½ ٣٤٥ Tiếng Việt हिन्दी ไทย עברית العربية\n\n";

std::string name_of(const ::testing::TestParamInfo<std::tuple<const char*, const char*>>& info) {
  std::string n = std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
  for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
}

class RoundTrip : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(RoundTrip, DecodeOfEncodeIsIdentity) {
  auto [tok_name, rel] = GetParam();
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, tok_name);
  std::string text = read_file_bytes(shared_data() / rel);
  ASSERT_FALSE(text.empty());
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode(text, false, &ids).is_ok());
  auto back = tok->decode(ids, false);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->size(), text.size());
  EXPECT_TRUE(*back == text) << tok_name << " " << rel << ": first difference at byte "
                             << std::distance(text.begin(), std::mismatch(text.begin(), text.end(), back->begin(), back->end()).first);
  std::printf("[ roundtrip] %-24s %-30s %9zu bytes -> %8zu tokens: %s\n", tok_name, rel, text.size(), ids.size(),
              *back == text ? "identical" : "DIFFERENT");
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, RoundTrip,
                         ::testing::Combine(::testing::ValuesIn(kTokenizers), ::testing::ValuesIn(kTexts)), name_of);

class RoundTripMixed : public ::testing::TestWithParam<const char*> {};

TEST_P(RoundTripMixed, MultilingualAndEmoji) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, GetParam());
  for (std::string text : {std::string(kMixed), std::string(" ") + kMixed, std::string("x"), std::string(" "),
                           std::string("\n"), std::string("  two leading")}) {
    std::vector<int32_t> ids;
    ASSERT_TRUE(tok->encode(text, false, &ids).is_ok());
    auto back = tok->decode(ids, true);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, text) << GetParam();
    // With BOS added and skipped on decode, the text is the same.
    ASSERT_TRUE(tok->encode(text, true, &ids).is_ok());
    EXPECT_EQ(*tok->decode(ids, true), text) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, RoundTripMixed, ::testing::ValuesIn(kTokenizers),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(TokenizerInput, IllFormedUtf8IsRepairedNotRejected) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "deepseek-v3");
  std::vector<int32_t> bad, fixed;
  ASSERT_TRUE(tok->encode("abc\xFF" "def\xE4\xBD", false, &bad).is_ok());
  ASSERT_TRUE(tok->encode("abc\xEF\xBF\xBD" "def\xEF\xBF\xBD", false, &fixed).is_ok());
  EXPECT_EQ(bad, fixed);
  EXPECT_EQ(*tok->decode(bad), "abc\xEF\xBF\xBD" "def\xEF\xBF\xBD");
}

TEST(TokenizerThreads, ConcurrentEncodesAgree) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "olmoe");
  std::string corpus = read_file_bytes(shared_data() / "corpora/tinyshakespeare.txt");
  const size_t kThreads = 4, kChunk = corpus.size() / kThreads;
  std::vector<std::vector<int32_t>> serial(kThreads);
  for (size_t t = 0; t < kThreads; ++t) ASSERT_TRUE(tok->encode(corpus.substr(t * kChunk, kChunk), false, &serial[t]).is_ok());
  // A second instance with a cold word cache, so that cache inserts race with lookups.
  auto loaded = Tokenizer::from_hf_json(read_file_bytes(shared_data() / "tokenizers/olmoe/tokenizer.json"), "");
  ASSERT_TRUE(loaded.is_ok());
  const Tokenizer* fresh = loaded->get();
  std::vector<std::thread> threads;
  std::vector<int> ok(kThreads, 0);
  for (size_t t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // Each thread encodes every chunk so that cache reads and writes interleave.
      for (size_t k = 0; k < kThreads; ++k) {
        size_t c = (t + k) % kThreads;
        std::vector<int32_t> ids;
        if (!fresh->encode(corpus.substr(c * kChunk, kChunk), false, &ids).is_ok() || ids != serial[c]) return;
      }
      ok[t] = 1;
    });
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < kThreads; ++t) EXPECT_EQ(ok[t], 1) << "thread " << t;
}

}  // namespace
}  // namespace mote::test
