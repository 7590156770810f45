// tokenizer.ggml.* from the tokenizer files a .mote embeds (blobs "tokenizer.json",
// "tokenizer_config.json", "chat_template"; or a folder's tokenizer.json, tokenizer_config.json and
// chat_template.jinja / its config's chat_template, for a .mote written without them), written as llama.cpp's convert_hf_to_gguf.py writes a
// byte-level BPE ("gpt2") vocabulary:
//   tokens      [vocab_size] the vocabulary's stored text ("Ġthe"); added tokens by content; ids
//               no token has become "[PAD<id>]" (vocab_size is the model's, often padded);
//   token_type  1 normal, 3 control (special, or spelled <|...|> / <｜...｜>), 4 user-defined
//               (other added tokens), 5 unused (the [PAD] fillers);
//   merges      "a b" (pair-form merges joined with one space, spaces inside a part as U+0120);
//   bos/eos/padding/unknown ids from tokenizer_config.json's *_token, bos/eos falling back to the
//   model config's bos_token_id / first eos id; add_bos_token / add_eos_token from
//   tokenizer_config.json, else from the post-processor (ByteLevel: false; TemplateProcessing:
//   whether it starts with BOS / ends with EOS).
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>

#include "mote_to_gguf.h"

namespace mote::gguf {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

bool looks_special(const std::string& s) {
  auto wrapped = [&](const char* open, const char* close) {
    const std::string o = open, c = close;
    return s.size() >= o.size() + c.size() && s.compare(0, o.size(), o) == 0 && s.compare(s.size() - c.size(), c.size(), c) == 0;
  };
  return s == "<pad>" || s == "<mask>" || wrapped("<|", "|>") || wrapped("<｜", "｜>") || wrapped("<unused", ">");
}

// A tokenizer_config.json *_token value: a string, or an object with "content"; nullopt if absent.
std::optional<std::string> token_text(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return std::nullopt;
}

// "▁" (U+2581) -> " ".
std::string spaces_for_metaspace(const std::string& s) {
  std::string r;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
      r += ' ';
      i += 3;
    } else {
      r += s[i++];
    }
  }
  return r;
}

std::string merge_part(const std::string& s) {
  std::string r;
  for (char ch : s) r += ch == ' ' ? std::string("\xC4\xA0") : std::string(1, ch);  // U+0120
  return r;
}

}  // namespace

namespace {

// The vocabulary padded to the model's vocab_size: text and llama.cpp token type per id.
struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::map<std::string, int64_t> by_text;
};

Vocab read_vocab(const json& tok, int64_t n_vocab, const std::string& where) {
  Vocab v;
  v.tokens.resize(static_cast<size_t>(n_vocab));
  v.types.assign(static_cast<size_t>(n_vocab), 5);
  auto set = [&](int64_t id, const std::string& text, int32_t type) {
    if (id < 0 || id >= n_vocab)
      fail(where + ": token id " + std::to_string(id) + " (" + text + ") is outside the model's vocab_size " + std::to_string(n_vocab));
    v.tokens[size_t(id)] = text;
    v.types[size_t(id)] = type;
    v.by_text[text] = id;
  };
  for (const auto& [text, id] : tok["model"]["vocab"].items()) {
    if (!id.is_number_integer()) fail(where + ": model.vocab[" + text + "] is not an integer id");
    set(id.get<int64_t>(), text, 1);
  }
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array())
    for (const json& a : tok["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
        fail(where + ": added_tokens entry without an integer id and string content");
      std::string text = a["content"].get<std::string>();
      const bool control = a.value("special", false) || looks_special(text);
      if (!control) text = spaces_for_metaspace(text);  // pre-normalised user-defined spaces, as llama.cpp's converter does
      set(a["id"].get<int64_t>(), text, control ? 3 : 4);
    }
  for (int64_t i = 0; i < n_vocab; ++i)
    if (v.types[size_t(i)] == 5) v.tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
  return v;
}

std::vector<std::string> read_merges(const json& model, const std::string& where) {
  std::vector<std::string> merges;
  if (model.contains("merges") && model["merges"].is_array())
    for (const json& m : model["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        merges.push_back(merge_part(m[0].get<std::string>()) + " " + merge_part(m[1].get<std::string>()));
      else fail(where + ": model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
    }
  if (merges.empty()) fail(where + ": model.merges is empty (a BPE vocabulary needs merges)");
  return merges;
}

// add_bos_token / add_eos_token: tokenizer_config.json, else the post-processor.
void add_special_flags(const json& tok, const json& config, const Vocab& v, int64_t bos, int64_t eos, Metadata* meta) {
  std::optional<bool> add_bos, add_eos;
  if (tok.contains("post_processor") && tok["post_processor"].is_object()) {
    const json& pp = tok["post_processor"];
    const json procs = pp.contains("processors") && pp["processors"].is_array() ? pp["processors"] : json::array({pp});
    for (const json& p : procs) {
      const std::string type = p.is_object() ? p.value("type", "") : "";
      if (type == "ByteLevel") {
        if (!add_bos) add_bos = false;
        if (!add_eos) add_eos = false;
      } else if (type == "TemplateProcessing" && p.contains("single") && p["single"].is_array() && p["single"].size() > 1) {
        auto special = [&](const json& e) -> int64_t {
          if (!e.is_object() || !e.contains("SpecialToken") || !e["SpecialToken"].is_object()) return -2;
          auto it = v.by_text.find(e["SpecialToken"].value("id", ""));
          return it == v.by_text.end() ? -2 : it->second;
        };
        add_bos = special(p["single"].front()) == bos;
        add_eos = special(p["single"].back()) == eos;
      }
    }
  }
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) add_bos = config["add_bos_token"].get<bool>();
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) add_eos = config["add_eos_token"].get<bool>();
  if (add_bos) meta->add_bool("tokenizer.ggml.add_bos_token", *add_bos);
  if (add_eos) meta->add_bool("tokenizer.ggml.add_eos_token", *add_eos);
}

}  // namespace

TokenizerFiles tokenizer_files(const MoteFile& file, const std::string& dir) {
  TokenizerFiles t;
  if (dir.empty()) {
    t.source = file.path();
    t.tokenizer_json = std::string(file.blob("tokenizer.json"));
    t.tokenizer_config_json = std::string(file.blob("tokenizer_config.json"));
    t.chat_template = std::string(file.blob("chat_template"));
    if (t.tokenizer_json.empty())
      fail(file.path() + ": no tokenizer.json inside (llama.cpp needs a vocabulary): convert from a checkpoint folder "
                         "that has tokenizer.json, or give --tokenizer DIR");
    return t;
  }
  auto read = [&](const char* name, bool required) {
    const std::string path = dir + "/" + name;
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      if (required) fail(path + ": cannot read");
      return std::string();
    }
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  t.source = dir;
  t.tokenizer_json = read("tokenizer.json", true);
  t.tokenizer_config_json = read("tokenizer_config.json", false);
  t.chat_template = read("chat_template.jinja", false);
  if (t.chat_template.empty() && !t.tokenizer_config_json.empty()) {
    const json c = json::parse(t.tokenizer_config_json, nullptr, false);
    if (c.is_object() && c.contains("chat_template") && c["chat_template"].is_string()) t.chat_template = c["chat_template"];
  }
  return t;
}

void add_tokenizer_metadata(const MoteFile& file, const TokenizerFiles& files, const std::string& pre, Metadata* meta) {
  const std::string where = files.source + ": tokenizer.json";
  const json tok = json::parse(files.tokenizer_json, nullptr, false);
  if (tok.is_discarded() || !tok.is_object()) fail(where + ": invalid JSON");
  const bool byte_level = tok.contains("decoder") && tok["decoder"].is_object() && tok["decoder"].value("type", "") == "ByteLevel";
  if (!tok.contains("model") || !tok["model"].is_object() || tok["model"].value("type", "") != "BPE" || !byte_level ||
      !tok["model"].contains("vocab") || !tok["model"]["vocab"].is_object())
    fail(where + ": only byte-level BPE vocabularies (llama.cpp model \"gpt2\") are supported");
  json config = json::object();
  if (!files.tokenizer_config_json.empty()) {
    config = json::parse(files.tokenizer_config_json, nullptr, false);
    if (config.is_discarded() || !config.is_object()) fail(files.source + ": tokenizer_config.json: invalid JSON");
  }
  const fb::ModelConfig& mc = file.config();
  const int64_t n_vocab = mc.vocab_size();
  const Vocab v = read_vocab(tok, n_vocab, where);
  meta->add_string("tokenizer.ggml.model", "gpt2");
  meta->add_string("tokenizer.ggml.pre", pre);
  meta->add_string_array("tokenizer.ggml.tokens", v.tokens);
  meta->add_i32_array("tokenizer.ggml.token_type", v.types);
  meta->add_string_array("tokenizer.ggml.merges", read_merges(tok["model"], where));

  // Special ids: tokenizer_config.json's *_token text, bos/eos falling back to the model config.
  auto id_of = [&](const char* key) -> int64_t {
    const auto text = token_text(config, key);
    if (!text) return -1;
    auto it = v.by_text.find(*text);
    return it == v.by_text.end() ? -1 : it->second;
  };
  int64_t bos = id_of("bos_token"), eos = id_of("eos_token");
  if (bos < 0 && mc.bos_token_id() >= 0 && mc.bos_token_id() < n_vocab) bos = mc.bos_token_id();
  if (eos < 0 && mc.eos_token_ids() != nullptr && mc.eos_token_ids()->size() > 0) eos = mc.eos_token_ids()->Get(0);
  if (eos >= 0) meta->add_u32("tokenizer.ggml.eos_token_id", uint32_t(eos));
  if (const int64_t pad = id_of("pad_token"); pad >= 0) meta->add_u32("tokenizer.ggml.padding_token_id", uint32_t(pad));
  if (bos >= 0) meta->add_u32("tokenizer.ggml.bos_token_id", uint32_t(bos));
  if (const int64_t unk = id_of("unk_token"); unk >= 0) meta->add_u32("tokenizer.ggml.unknown_token_id", uint32_t(unk));
  add_special_flags(tok, config, v, bos, eos, meta);
  if (!files.chat_template.empty()) meta->add_string("tokenizer.chat_template", files.chat_template);
}

}  // namespace mote::gguf
