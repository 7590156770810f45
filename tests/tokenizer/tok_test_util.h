// Helpers for the tokenizer tests: shared-data paths and tokenizer loading (cached per
// process, since gpt-oss's 28 MB tokenizer.json takes a moment to parse).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/test_util.h"
#include "tokenizer/tokenizer.h"

namespace mote::test {

inline std::filesystem::path shared_data() { return std::filesystem::path(MOTE_SHARED_DATA_DIR); }

// Names: the HF tokenizer.json directories ("deepseek-v3", "qwen3", "gpt-oss", "mixtral-8x7b",
// "olmoe") and the SentencePiece models "llama2.model", "mixtral-8x7b.model",
// "mixtral-8x22b-v3.model". Returns nullptr when the files are absent.
inline const Tokenizer* load_tokenizer(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(name); it != cache.end()) return it->second.get();
  auto dir = shared_data() / "tokenizers";
  Result<std::unique_ptr<Tokenizer>> r = invalid_argument("unknown tokenizer name " + name);
  std::filesystem::path spm;
  if (name == "llama2.model") spm = dir / "llama2" / "tokenizer.model";
  else if (name == "mixtral-8x7b.model") spm = dir / "mixtral-8x7b" / "tokenizer.model";
  else if (name == "mixtral-8x22b-v3.model") spm = dir / "mixtral-8x7b" / "tokenizer.model.v3-mixtral-8x22b";
  if (!spm.empty()) {
    if (!std::filesystem::exists(spm)) return nullptr;
    r = Tokenizer::from_sentencepiece_model(read_file_bytes(spm));
  } else {
    auto json = dir / name / "tokenizer.json";
    auto config = dir / name / "tokenizer_config.json";
    if (!std::filesystem::exists(json)) return nullptr;
    r = Tokenizer::from_hf_json(read_file_bytes(json),
                                std::filesystem::exists(config) ? read_file_bytes(config) : std::string());
  }
  EXPECT_TRUE(r.is_ok()) << name << ": " << r.status().to_string();
  if (!r.is_ok()) return nullptr;
  return (cache[name] = std::move(r).value()).get();
}

#define MOTE_LOAD_TOKENIZER_OR_SKIP(var, name)                                  \
  const ::mote::Tokenizer* var = ::mote::test::load_tokenizer(name);            \
  if (var == nullptr) GTEST_SKIP() << "tokenizer files for " << (name) << " are not available"

}  // namespace mote::test
