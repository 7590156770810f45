// Malformed tokenizer.json / tokenizer_config.json / tokenizer.model inputs return a Status that
// names the field at fault; nothing crashes, aborts or throws.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

#include "tokenizer/tok_test_util.h"

namespace mote::test {
namespace {

using nlohmann::json;

// A minimal valid tokenizer: characters a, b and their merge.
json tiny() {
  return json::parse(R"({
    "added_tokens": [{"id": 3, "content": "<eos>", "special": true}],
    "normalizer": null, "pre_tokenizer": null, "decoder": null,
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})");
}

Status load(const json& j, const std::string& config = "") { return Tokenizer::from_hf_json(j.dump(), config).status(); }

void expect_error(const Status& s, StatusCode code, const std::string& needle) {
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_NE(s.message().find(needle), std::string::npos) << "message '" << s.message() << "' lacks '" << needle << "'";
}

TEST(TokenizerMalformed, TinyTokenizerWorks) {
  auto t = Tokenizer::from_hf_json(tiny().dump(), "");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  std::vector<int32_t> ids;
  ASSERT_TRUE((*t)->encode("abab<eos>", false, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 2, 3}));
  json arrays = tiny();
  arrays["model"]["merges"] = json::parse(R"([["a", "b"]])");  // the newer merge format
  ASSERT_TRUE(Tokenizer::from_hf_json(arrays.dump(), "").is_ok());
}

TEST(TokenizerMalformed, InvalidJson) {
  expect_error(Tokenizer::from_hf_json("{\"model\": ", "").status(), StatusCode::kInvalidArgument, "invalid JSON");
  expect_error(Tokenizer::from_hf_json("", "").status(), StatusCode::kInvalidArgument, "invalid JSON");
  expect_error(Tokenizer::from_hf_json("[1, 2]", "").status(), StatusCode::kInvalidArgument, "not a JSON object");
  expect_error(Tokenizer::from_hf_json(tiny().dump(), "{oops").status(), StatusCode::kInvalidArgument,
               "tokenizer_config.json: invalid JSON");
}

TEST(TokenizerMalformed, ModelFields) {
  expect_error(load(json::object()), StatusCode::kInvalidArgument, "tokenizer.json: model");
  json j = tiny();
  j["model"]["type"] = "WordPiece";
  expect_error(load(j), StatusCode::kUnsupported, "model.type");
  j = tiny();
  j["model"].erase("type");
  j["model"].erase("merges");
  expect_error(load(j), StatusCode::kInvalidArgument, "model.type");
  j = tiny();
  j["model"]["vocab"] = json::array();
  expect_error(load(j), StatusCode::kInvalidArgument, "model.vocab");
  j = tiny();
  j["model"]["vocab"]["c"] = -4;
  expect_error(load(j), StatusCode::kInvalidArgument, "model.vocab[\"c\"]");
  j = tiny();
  j["model"]["vocab"]["c"] = 2000000000;  // would need gigabytes of per-id tables
  expect_error(load(j), StatusCode::kInvalidArgument, "model.vocab[\"c\"]");
  j = tiny();
  j["model"]["byte_fallback"] = "yes";
  expect_error(load(j), StatusCode::kInvalidArgument, "model.byte_fallback: expected a boolean");
  j = tiny();
  j["model"]["continuing_subword_prefix"] = "##";
  expect_error(load(j), StatusCode::kUnsupported, "continuing_subword_prefix");
}

TEST(TokenizerMalformed, BadMerges) {
  json j = tiny();
  j["model"]["merges"] = json::array({"a b", "a c"});
  expect_error(load(j), StatusCode::kInvalidArgument, "model.merges[1]: token 'c' is not in the vocabulary");
  j["model"]["merges"] = json::array({"b a"});
  expect_error(load(j), StatusCode::kInvalidArgument, "merged token 'ba'");
  j["model"]["merges"] = json::array({"ab"});
  expect_error(load(j), StatusCode::kInvalidArgument, "model.merges[0]: expected two tokens");
  j["model"]["merges"] = json::parse("[[1, 2]]");
  expect_error(load(j), StatusCode::kInvalidArgument, "model.merges[0]");
  j["model"]["merges"] = "a b";
  expect_error(load(j), StatusCode::kInvalidArgument, "model.merges: expected an array");
}

TEST(TokenizerMalformed, Components) {
  json j = tiny();
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  expect_error(load(j), StatusCode::kUnsupported, "pre_tokenizer.type: pre_tokenizer type 'BertPreTokenizer'");
  j["pre_tokenizer"] = json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}]})");
  expect_error(load(j), StatusCode::kInvalidArgument, "pre_tokenizer.pretokenizers[0].pattern.Regex: bad regex");
  j["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"})");
  expect_error(load(j), StatusCode::kInvalidArgument, "pre_tokenizer.behavior");
  j["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Glob": "a"}, "behavior": "Isolated"})");
  expect_error(load(j), StatusCode::kInvalidArgument, "pre_tokenizer.pattern");
  j["pre_tokenizer"] = json::parse(R"({"pretokenizers": []})");
  expect_error(load(j), StatusCode::kInvalidArgument, "pre_tokenizer.type");
  j = tiny();
  j["normalizer"] = {{"type", "Precompiled"}};
  expect_error(load(j), StatusCode::kUnsupported, "normalizer.type");
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", 5}};
  expect_error(load(j), StatusCode::kInvalidArgument, "normalizer.normalizers");
  j = tiny();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_error(load(j), StatusCode::kUnsupported, "decoder.type");
}

TEST(TokenizerMalformed, AddedTokensAndConfig) {
  json j = tiny();
  j["added_tokens"] = json::parse(R"([{"content": "<x>"}])");
  expect_error(load(j), StatusCode::kInvalidArgument, "added_tokens[0].id");
  j["added_tokens"] = json::parse(R"([{"id": 4, "content": ""}])");
  expect_error(load(j), StatusCode::kInvalidArgument, "added_tokens[0].content");
  j["added_tokens"] = json::parse(R"([{"id": 4, "content": "<x>", "special": 1}])");
  expect_error(load(j), StatusCode::kInvalidArgument, "added_tokens[0].special");
  expect_error(load(tiny(), R"({"bos_token": "<nope>"})"), StatusCode::kInvalidArgument,
               "tokenizer_config.json: bos_token");
  expect_error(load(tiny(), R"({"eos_token": 7})"), StatusCode::kInvalidArgument, "tokenizer_config.json: eos_token");
  expect_error(load(tiny(), R"({"add_bos_token": "true"})"), StatusCode::kInvalidArgument, "add_bos_token");
  auto ok = Tokenizer::from_hf_json(tiny().dump(), R"({"eos_token": {"content": "<eos>"}, "bos_token": null})");
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ((*ok)->eos_ids(), std::vector<int32_t>{3});
}

TEST(TokenizerMalformed, TruncatedAndMutatedJsonNeverCrash) {
  std::string good = tiny().dump();
  for (size_t n = 0; n < good.size(); ++n) (void)Tokenizer::from_hf_json(good.substr(0, n), "");
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s = good;
    for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(rng() % 128);
    auto t = Tokenizer::from_hf_json(s, "");
    if (t.is_ok()) {  // whatever loaded must also encode and decode without crashing
      std::vector<int32_t> ids;
      (void)(*t)->encode("abba <eos> \xFF", true, &ids);
      (void)(*t)->decode(ids);
    }
  }
}

// --- SentencePiece ModelProto ---------------------------------------------------------------

void put_varint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void put_bytes(uint32_t field, const std::string& b, std::string* out) {
  put_varint((field << 3) | 2, out);
  put_varint(b.size(), out);
  *out += b;
}
void put_int(uint32_t field, uint64_t v, std::string* out) {
  put_varint(field << 3, out);
  put_varint(v, out);
}
std::string piece(const std::string& text, float score, int type) {
  std::string p;
  put_bytes(1, text, &p);
  p.push_back(static_cast<char>((2 << 3) | 5));
  p.append(reinterpret_cast<const char*>(&score), 4);
  put_int(3, static_cast<uint64_t>(type), &p);
  return p;
}
std::string tiny_model(int model_type) {
  std::string m, trainer;
  put_bytes(1, piece("<unk>", 0, 2), &m);
  put_bytes(1, piece("<s>", 0, 3), &m);
  put_bytes(1, piece("</s>", 0, 3), &m);
  put_bytes(1, piece("\xE2\x96\x81", -1, 1), &m);
  put_bytes(1, piece("a", -2, 1), &m);
  put_bytes(1, piece("\xE2\x96\x81" "a", -3, 1), &m);
  put_int(3, static_cast<uint64_t>(model_type), &trainer);
  put_int(43, static_cast<uint64_t>(-1), &trainer);  // pad_id = -1: a 10-byte varint
  put_bytes(2, trainer, &m);
  return m;
}

TEST(TokenizerMalformed, SentencePieceModel) {
  auto t = Tokenizer::from_sentencepiece_model(tiny_model(2));
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  std::vector<int32_t> ids;
  ASSERT_TRUE((*t)->encode("a a", true, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 5, 5}));
  EXPECT_EQ(*(*t)->decode(ids, true), "a a");
  expect_error(Tokenizer::from_sentencepiece_model(tiny_model(1)).status(), StatusCode::kUnsupported, "model_type 1");
  expect_error(Tokenizer::from_sentencepiece_model("").status(), StatusCode::kInvalidArgument, "no pieces");
  expect_error(Tokenizer::from_sentencepiece_model("\x0A\xFF\xFF\xFF\x0F").status(), StatusCode::kInvalidArgument,
               "past the end");
  expect_error(Tokenizer::from_sentencepiece_model("\x0B").status(), StatusCode::kInvalidArgument, "wire type 3");
  expect_error(Tokenizer::from_sentencepiece_model(R"({"model": {}})").status(), StatusCode::kInvalidArgument,
               "tokenizer.model");
}

TEST(TokenizerMalformed, TruncatedAndMutatedModelsNeverCrash) {
  std::string good = tiny_model(2);
  for (size_t n = 0; n < good.size(); ++n) (void)Tokenizer::from_sentencepiece_model(good.substr(0, n));
  std::mt19937 rng(11);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = good;
    for (int k = 0; k < 2; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    auto t = Tokenizer::from_sentencepiece_model(s);
    if (t.is_ok()) {
      std::vector<int32_t> ids;
      (void)(*t)->encode("a <s> aa\xC3", true, &ids);
      (void)(*t)->decode(ids);
    }
  }
  std::string real = read_file_bytes(shared_data() / "tokenizers/llama2/tokenizer.model");
  if (real.empty()) GTEST_SKIP() << "llama2 tokenizer.model not available";
  for (size_t n : {size_t{1}, size_t{100}, real.size() / 2, real.size() - 1}) {
    // Pieces come first in the file, so any truncation loses trainer_spec (model_type BPE).
    EXPECT_FALSE(Tokenizer::from_sentencepiece_model(real.substr(0, n)).is_ok()) << n;
  }
}

}  // namespace
}  // namespace mote::test
