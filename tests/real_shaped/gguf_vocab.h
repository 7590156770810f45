// A llama.cpp GGUF vocabulary (tokenizer.ggml.* keys of a BPE "gpt2" model) as Hugging Face
// tokenizer files, for the DeepSeek-V2 vocabulary that exists here only as
// shared/data/tokenizer-tests/ggml-vocab-deepseek-llm.gguf. make_goldens.py builds the same JSON.
#pragma once

#include <filesystem>
#include <string>

namespace mote::test {

struct HfTokenizerFiles {
  std::string tokenizer_json;         // model BPE (byte level), added_tokens, pre_tokenizer, decoder
  std::string tokenizer_config_json;  // bos/eos token text, add_bos_token, add_eos_token
};

// Throws std::runtime_error on a malformed file or a vocabulary that is not
// tokenizer.ggml.model = "gpt2" with tokenizer.ggml.pre = "deepseek-llm".
HfTokenizerFiles gguf_deepseek_llm_to_hf(const std::filesystem::path& gguf);

}  // namespace mote::test
