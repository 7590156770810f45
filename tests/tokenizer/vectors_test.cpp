// llama.cpp tokenizer test vectors (shared/data/tokenizer-tests): X.gguf.inp holds test strings
// separated by "\n__ggml_vocab_test__\n" (the file also ends with the separator); X.gguf.out
// holds one line of space-separated expected ids per string, encoded without BOS.
//
// Reproducible with our tokenizer files: qwen2 and deepseek-r1-qwen (Qwen2/3 vocabulary, by
// tokenizers/qwen3/tokenizer.json) and llama-spm (by tokenizers/llama2/tokenizer.model).
// Not reproducible: gpt-2, llama-bpe (Llama-3) and qwen35 (no matching vocabulary here), and
// deepseek-llm / deepseek-coder (their vocabularies exist only as GGUF files, which the
// tokenizer does not load).
#include <gtest/gtest.h>

#include <sstream>

#include "tokenizer/tok_test_util.h"

namespace mote::test {
namespace {

struct VectorCase {
  std::string input;
  std::vector<int32_t> expected;
};

std::vector<VectorCase> read_vectors(const std::string& stem) {
  auto dir = shared_data() / "tokenizer-tests";
  std::string inp = read_file_bytes(dir / (stem + ".gguf.inp"));
  std::string out = read_file_bytes(dir / (stem + ".gguf.out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0, hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
    inputs.push_back(inp.substr(pos, hit - pos));
  std::vector<VectorCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const std::string& s : inputs) {
    if (!std::getline(lines, line)) break;
    VectorCase c{s, {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.expected.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(cases.size(), inputs.size()) << stem << ": .inp and .out disagree on the number of cases";
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

void check_vectors(const Tokenizer& tok, const std::string& stem, size_t expected_cases) {
  std::vector<VectorCase> cases = read_vectors(stem);
  ASSERT_EQ(cases.size(), expected_cases);
  size_t passed = 0;
  std::vector<int32_t> ids;
  for (const VectorCase& c : cases) {
    ASSERT_TRUE(tok.encode(c.input, false, &ids).is_ok());
    if (ids == c.expected) ++passed;
    else ADD_FAILURE() << stem << ": input '" << c.input << "'\n  expected" << show(c.expected) << "\n  got     " << show(ids);
  }
  std::printf("[ vectors  ] %s: %zu/%zu passed\n", stem.c_str(), passed, cases.size());
  EXPECT_EQ(passed, cases.size());
}

TEST(TokenizerVectors, Qwen2WithQwen3Json) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "qwen3");
  check_vectors(*tok, "ggml-vocab-qwen2", 46);
}

TEST(TokenizerVectors, DeepSeekR1QwenWithQwen3Json) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "qwen3");
  check_vectors(*tok, "ggml-vocab-deepseek-r1-qwen", 46);
}

TEST(TokenizerVectors, LlamaSpmWithLlama2Model) {
  MOTE_LOAD_TOKENIZER_OR_SKIP(tok, "llama2.model");
  check_vectors(*tok, "ggml-vocab-llama-spm", 46);
}

TEST(TokenizerVectors, Gpt2NotAvailable) {
  GTEST_SKIP() << "no GPT-2 vocabulary in shared/data/tokenizers (ggml-vocab-gpt-2 vectors unused)";
}

}  // namespace
}  // namespace mote::test
