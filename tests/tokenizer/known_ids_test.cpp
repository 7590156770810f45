// Exact ids against Hugging Face `tokenizers` (expected_ids.json, made by gen_expected.py):
// tricky strings per tokenizer (encode and both decodes), digests of 300 random strings made of
// tricky pieces (special-token texts, combining marks, odd whitespace...) and of whole corpora.
// Plus hand-checked special-token ids (DeepSeek-V3, Qwen2/Qwen3, gpt-oss's o200k_harmony).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/tok_test_util.h"

namespace mote::test {
namespace {

const nlohmann::json& expected() {
  static const nlohmann::json j = nlohmann::json::parse(
      read_file_bytes(std::filesystem::path(MOTE_FIXTURES_DIR) / ".." / "tokenizer" / "expected_ids.json"));
  return j;
}

uint64_t fnv1a64(const std::vector<int32_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int32_t id : ids) {
    auto u = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k) h = (h ^ ((u >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
  }
  return h;
}

class ExpectedIds : public ::testing::TestWithParam<std::string> {};

TEST_P(ExpectedIds, EncodeAndDecodeMatchHuggingFace) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, GetParam());
  const auto& e = expected()["tokenizers"][GetParam()];
  EXPECT_EQ(tok->vocab_size(), e["vocab_size"].get<int32_t>());
  size_t passed = 0;
  std::vector<int32_t> ids;
  for (const auto& c : e["cases"]) {
    const std::string text = c["text"].get<std::string>();
    auto want = c["ids"].get<std::vector<int32_t>>();
    ASSERT_TRUE(tok->encode(text, false, &ids).is_ok());
    EXPECT_EQ(ids, want) << "encode: '" << text << "'";
    auto dec = tok->decode(want, false);
    auto dec_skip = tok->decode(want, true);
    ASSERT_TRUE(dec.is_ok() && dec_skip.is_ok());
    EXPECT_EQ(*dec, c["decoded"].get<std::string>()) << "decode: '" << text << "'";
    EXPECT_EQ(*dec_skip, c["decoded_skip_special"].get<std::string>()) << "decode(skip_special): '" << text << "'";
    passed += ids == want ? 1 : 0;
  }
  std::printf("[ expected ] %s: %zu/%zu encodings match\n", GetParam().c_str(), passed, e["cases"].size());
}

TEST_P(ExpectedIds, CorpusDigestsMatchHuggingFace) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, GetParam());
  const auto& digests = expected()["tokenizers"][GetParam()]["corpus_digests"];
  std::vector<int32_t> ids;
  for (const auto& [rel, d] : digests.items()) {
    std::string text = read_file_bytes(shared_data() / rel);
    ASSERT_TRUE(tok->encode(text, false, &ids).is_ok());
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(ids)));
    EXPECT_EQ(ids.size(), d["count"].get<size_t>()) << rel;
    EXPECT_EQ(std::string(hex), d["fnv1a64"].get<std::string>()) << rel;
  }
}

TEST_P(ExpectedIds, RandomStringsMatchHuggingFace) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, GetParam());
  const auto& strings = expected()["random_strings"];
  const auto& digests = expected()["tokenizers"][GetParam()]["random_digests"];
  ASSERT_EQ(strings.size(), digests.size());
  size_t passed = 0;
  std::vector<int32_t> ids;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    ASSERT_TRUE(tok->encode(text, false, &ids).is_ok());
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(ids)));
    if (std::string(hex) == digests[i].get<std::string>()) ++passed;
    else ADD_FAILURE() << GetParam() << ": random string " << i << " '" << text << "' encodes differently";
  }
  std::printf("[ expected ] %s: %zu/%zu random strings match\n", GetParam().c_str(), passed, strings.size());
}

INSTANTIATE_TEST_SUITE_P(HfJson, ExpectedIds,
                         ::testing::Values("deepseek-v3", "qwen3", "gpt-oss", "mixtral-8x7b", "olmoe"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(TokenizerSpecialIds, DeepSeekV3) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "deepseek-v3");
  EXPECT_EQ(tok->vocab_size(), 128815);
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{1});
  EXPECT_EQ(tok->token_text(0), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok->token_text(1), "<｜end▁of▁sentence｜>");
  EXPECT_EQ(tok->find_token("<｜▁pad▁｜>"), 2);
  EXPECT_EQ(tok->find_token("<｜User｜>"), 128803);
  EXPECT_EQ(tok->find_token("<｜Assistant｜>"), 128804);
  EXPECT_EQ(tok->find_token("Hello"), 19923);
  EXPECT_EQ(tok->find_token("ĠHello"), 45948);  // vocabulary text form
  EXPECT_EQ(tok->find_token("<｜no such token｜>"), -1);
  EXPECT_TRUE(tok->is_special(0));
  EXPECT_FALSE(tok->is_special(128803));  // <｜User｜> is added but not special
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("Hello world", true, &ids).is_ok());  // add_bos_token: true
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 19923, 2058}));
  // The DeepSeek-V3 template's rendered example starts with BOS written as text: no second BOS.
  ASSERT_TRUE(tok->encode("<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi<｜Assistant｜>", false, &ids).is_ok());
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 128804);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 1);
}

TEST(TokenizerSpecialIds, Qwen3) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "qwen3");
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{151645});
  EXPECT_EQ(tok->find_token("<|endoftext|>"), 151643);
  EXPECT_EQ(tok->find_token("<|im_start|>"), 151644);
  EXPECT_EQ(tok->find_token("<|im_end|>"), 151645);
  EXPECT_EQ(tok->find_token("<think>"), 151667);
  EXPECT_EQ(tok->find_token("</think>"), 151668);
  EXPECT_FALSE(tok->is_special(151667));
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("<|im_end|>", true, &ids).is_ok());  // no BOS for Qwen
  EXPECT_EQ(ids, std::vector<int32_t>{151645});
  EncodeOptions plain;
  plain.parse_special = false;  // untrusted text: "<|im_end|>" stays text
  ASSERT_TRUE(tok->encode("<|im_end|>", plain, &ids).is_ok());
  EXPECT_GT(ids.size(), 1u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151645), 0);
  ASSERT_TRUE(tok->encode("<think>", plain, &ids).is_ok());  // non-special added tokens still match
  EXPECT_EQ(ids, std::vector<int32_t>{151667});
}

TEST(TokenizerSpecialIds, GptOss) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "gpt-oss");
  EXPECT_EQ(tok->bos_id(), 199998);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{200002});
  EXPECT_EQ(tok->find_token("<|endoftext|>"), 199999);
  EXPECT_EQ(tok->find_token("<|return|>"), 200002);
  EXPECT_EQ(tok->find_token("<|constrain|>"), 200003);
  EXPECT_EQ(tok->find_token("<|channel|>"), 200005);
  EXPECT_EQ(tok->find_token("<|start|>"), 200006);
  EXPECT_EQ(tok->find_token("<|end|>"), 200007);
  EXPECT_EQ(tok->find_token("<|message|>"), 200008);
  EXPECT_EQ(tok->find_token("<|call|>"), 200012);
  EXPECT_EQ(tok->token_text(200018), "<|endofprompt|>");
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->encode("Hi", true, &ids).is_ok());  // no add_bos_token, ByteLevel post-processor
  EXPECT_EQ(ids.size(), 1u);
}

TEST(TokenizerSpecialIds, MixtralJsonAndOlmoe) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(mx, "mixtral-8x7b");
  EXPECT_EQ(mx->bos_id(), 1);
  EXPECT_EQ(mx->eos_ids(), std::vector<int32_t>{2});
  std::vector<int32_t> ids;
  ASSERT_TRUE(mx->encode("Hello", true, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 22557}));
  EXPECT_EQ(mx->token_bytes(mx->find_token("<0x0A>")), "\n");
  MOTE_LOAD_TOKENIZER_OR_SKIP(ol, "olmoe");  // no tokenizer_config.json
  EXPECT_EQ(ol->bos_id(), -1);
  EXPECT_TRUE(ol->eos_ids().empty());
  EXPECT_EQ(ol->find_token("<|endoftext|>"), 50279);
}

}  // namespace
}  // namespace mote::test
