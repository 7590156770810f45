// StreamDecoder: pushing ids one at a time yields valid UTF-8 at every step, holds back the
// bytes of an unfinished character (byte-level tokens and <0xNN> byte-fallback tokens split
// CJK and emoji), and ends with exactly Tokenizer::decode's text.
#include <gtest/gtest.h>

#include "tokenizer/tok_test_util.h"
#include "tokenizer/utf8.h"

namespace mote::test {
namespace {

const char kCjkEmoji[] =
    "Streaming 测试：你好，世界！龘靐齉 こんにちは 😀👍🏽👨‍👩‍👧‍👦🇯🇵 𠜎𠜱𠝹 done.";

bool valid_utf8(const std::string& s) { return tok::utf8_first_invalid(s) == s.size(); }

class Stream : public ::testing::TestWithParam<const char*> {};

TEST_P(Stream, OneByOneIsValidUtf8AndMatchesDecode) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, GetParam());
  for (bool add_special : {false, true}) {
    std::vector<int32_t> ids;
    ASSERT_TRUE(tok->encode(kCjkEmoji, add_special, &ids).is_ok());
    for (bool skip_special : {true, false}) {
      StreamDecoder sd(*tok, skip_special);
      std::string all;
      size_t held_back = 0;  // steps where a token produced bytes but no text yet
      for (int32_t id : ids) {
        std::string chunk;
        sd.push(id, &chunk);
        EXPECT_TRUE(valid_utf8(chunk)) << GetParam() << ": chunk after id " << id;
        if (chunk.empty() && !tok->token_bytes(id).empty() && !(skip_special && tok->is_special(id))) ++held_back;
        all += chunk;
        EXPECT_TRUE(valid_utf8(all));
      }
      sd.flush(&all);
      auto whole = tok->decode(ids, skip_special);
      ASSERT_TRUE(whole.is_ok());
      EXPECT_EQ(all, *whole) << GetParam();
      if (skip_special) {
        EXPECT_EQ(all, kCjkEmoji) << GetParam();
      }
      // Every tokenizer here splits at least one of the rare CJK/emoji characters into bytes.
      EXPECT_GT(held_back, 0u) << GetParam();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, Stream,
                         ::testing::Values("deepseek-v3", "qwen3", "gpt-oss", "mixtral-8x7b", "olmoe", "llama2.model"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(StreamDecoder, ByteFallbackTokensAreHeldUntilComplete) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "llama2.model");
  // "😀" = F0 9F 98 80 is not in the Llama-2 vocabulary: four <0xNN> tokens.
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("😀", false, &ids).is_ok());
  ASSERT_EQ(ids.size(), 5u);  // "▁" + 4 bytes
  EXPECT_EQ(tok->token_text(ids[1]), "<0xF0>");
  StreamDecoder sd(*tok);
  std::string out;
  sd.push(ids[0], &out);  // "▁": the dummy-prefix space is stripped
  EXPECT_EQ(out, "");
  for (size_t i = 1; i < 4; ++i) {
    sd.push(ids[i], &out);
    EXPECT_EQ(out, "") << "byte " << i << " must be held back";
  }
  sd.push(ids[4], &out);
  EXPECT_EQ(out, "😀");
}

TEST(StreamDecoder, SentencePieceSpacesAndLeadingStrip) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "mixtral-8x7b");
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("Hello world", true, &ids).is_ok());
  ASSERT_EQ(ids, (std::vector<int32_t>{1, 22557, 1526}));
  StreamDecoder sd(*tok, /*skip_special=*/true);
  std::string a, b, c;
  sd.push(ids[0], &a);
  sd.push(ids[1], &b);
  sd.push(ids[2], &c);
  EXPECT_EQ(a, "");
  EXPECT_EQ(b, "Hello");   // leading "▁" of the first text token stripped
  EXPECT_EQ(c, " world");  // later "▁" become spaces
  StreamDecoder keep(*tok, /*skip_special=*/false);
  std::string all;
  for (int32_t id : ids) keep.push(id, &all);
  EXPECT_EQ(all, "<s> Hello world");  // as HF: Strip only touches the very first character
}

TEST(StreamDecoder, InvalidSequencesBecomeReplacementCharacters) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "deepseek-v3");
  // Byte-level single-byte tokens: 0xE4 (lead of a 3-byte sequence) then 'A'.
  int32_t lead = tok->find_token(tok::bytes_to_byte_level("\xE4"));
  int32_t cont = tok->find_token(tok::bytes_to_byte_level("\x80"));
  int32_t a = tok->find_token("A");
  ASSERT_GE(lead, 0);
  ASSERT_GE(cont, 0);
  ASSERT_GE(a, 0);
  StreamDecoder sd(*tok);
  std::string out;
  sd.push(lead, &out);
  EXPECT_EQ(out, "");  // could still complete
  sd.push(a, &out);
  EXPECT_EQ(out, "\xEF\xBF\xBD" "A");
  out.clear();
  sd.push(cont, &out);  // stray continuation byte
  EXPECT_EQ(out, "\xEF\xBF\xBD");
  out.clear();
  sd.push(lead, &out);
  sd.flush(&out);  // unfinished at the end
  EXPECT_EQ(out, "\xEF\xBF\xBD");
  std::vector<int32_t> ids = {lead, a, cont, lead};
  EXPECT_EQ(*tok->decode(ids), "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD" "\xEF\xBF\xBD");
  out.clear();
  sd.push(-5, &out);  // out of range ids are ignored
  sd.push(1 << 30, &out);
  EXPECT_EQ(out, "");
  EXPECT_FALSE(tok->decode(std::vector<int32_t>{1 << 30}).is_ok());
}

}  // namespace
}  // namespace mote::test
