#include "real_shaped/gguf_vocab.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

namespace mote::test {
namespace {

using nlohmann::json;

// GGUF v3 (little endian): magic "GGUF", u32 version, u64 tensor count, u64 key count, then
// key/value pairs: string key (u64 length + bytes), u32 type, value. Types: 0-7 and 10-12 are
// scalars (u8 i8 u16 i16 u32 i32 f32 bool, u64 i64 f64), 8 string, 9 array (u32 type, u64 n).
struct Reader {
  std::string data;
  size_t pos = 0;
  template <class T>
  T get() {
    if (pos + sizeof(T) > data.size()) throw std::runtime_error("gguf: truncated");
    T v;
    std::memcpy(&v, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = get<uint64_t>();
    if (n > data.size() - pos) throw std::runtime_error("gguf: string past the end");
    std::string s = data.substr(pos, n);
    pos += n;
    return s;
  }
  // One value as JSON (integers as int64, strings, arrays).
  json value(uint32_t type) {
    switch (type) {
      case 0: return get<uint8_t>();
      case 1: return get<int8_t>();
      case 2: return get<uint16_t>();
      case 3: return get<int16_t>();
      case 4: return get<uint32_t>();
      case 5: return get<int32_t>();
      case 6: return get<float>();
      case 7: return get<uint8_t>() != 0;
      case 8: return str();
      case 10: return get<uint64_t>();
      case 11: return get<int64_t>();
      case 12: return get<double>();
      case 9: {
        const uint32_t et = get<uint32_t>();
        const uint64_t n = get<uint64_t>();
        if (n > data.size()) throw std::runtime_error("gguf: array too long");
        json a = json::array();
        for (uint64_t i = 0; i < n; ++i) a.push_back(value(et));
        return a;
      }
      default: throw std::runtime_error("gguf: unknown value type " + std::to_string(type));
    }
  }
};

std::map<std::string, json> read_gguf_keys(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path.string());
  Reader r{std::string(std::istreambuf_iterator<char>(f), {}), 0};
  if (r.data.compare(0, 4, "GGUF") != 0) throw std::runtime_error(path.string() + ": not a GGUF file");
  r.pos = 4;
  if (r.get<uint32_t>() != 3) throw std::runtime_error(path.string() + ": not GGUF version 3");
  r.get<uint64_t>();  // tensors: none in a vocab-only file, and not needed
  const uint64_t n_keys = r.get<uint64_t>();
  std::map<std::string, json> keys;
  for (uint64_t i = 0; i < n_keys; ++i) {
    std::string key = r.str();
    keys[key] = r.value(r.get<uint32_t>());
  }
  return keys;
}

// DeepSeek-LLM's pre-tokenizer (its tokenizer.json: Split regexes, each Isolated, then byte
// level without a regex of its own), as llama.cpp transcribes it for pre = "deepseek-llm".
json deepseek_llm_pre_tokenizer() {
  const char* regexes[] = {
      "[\r\n]",
      "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-"
      "ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-"
      "ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
      "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
      "\\s+$",
      "[一-龥ࠀ-一가-퟿]+",
      "\\p{N}+",
  };
  json steps = json::array();
  for (const char* re : regexes)
    steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
  steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
  return {{"type", "Sequence"}, {"pretokenizers", steps}};
}

}  // namespace

HfTokenizerFiles gguf_deepseek_llm_to_hf(const std::filesystem::path& gguf) {
  auto keys = read_gguf_keys(gguf);
  if (keys["tokenizer.ggml.model"] != "gpt2" || keys["tokenizer.ggml.pre"] != "deepseek-llm")
    throw std::runtime_error(gguf.string() + ": not a deepseek-llm BPE vocabulary");
  const json& tokens = keys.at("tokenizer.ggml.tokens");
  const json& types = keys.at("tokenizer.ggml.token_type");  // 1 normal, 3 control, 4 user-defined
  json vocab = json::object(), added = json::array();
  for (size_t id = 0; id < tokens.size(); ++id) {
    vocab[tokens[id].get<std::string>()] = id;
    const int type = types.at(id).get<int>();
    if (type == 3 || type == 4)
      added.push_back({{"id", id}, {"content", tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", type == 4}, {"special", type == 3}});
  }
  const json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                      {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                      {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
                      {"merges", keys.at("tokenizer.ggml.merges")}};
  const json tok = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
                    {"added_tokens", added}, {"normalizer", nullptr},
                    {"pre_tokenizer", deepseek_llm_pre_tokenizer()}, {"post_processor", nullptr},
                    {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                                 {"use_regex", true}}},
                    {"model", model}};
  const auto text = [&](const char* key) { return tokens.at(keys.at(key).get<size_t>()); };
  const json config = {{"add_bos_token", keys["tokenizer.ggml.add_bos_token"]},
                       {"add_eos_token", keys["tokenizer.ggml.add_eos_token"]},
                       {"bos_token", text("tokenizer.ggml.bos_token_id")},
                       {"eos_token", text("tokenizer.ggml.eos_token_id")},
                       {"tokenizer_class", "LlamaTokenizerFast"}};
  return {tok.dump(), config.dump(2)};
}

}  // namespace mote::test
