#include "pipeline/blobs.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chat/chat_template.h"
#include "hf/error.h"
#include "tokenizer/tokenizer.h"

namespace mote::convert {

namespace fs = std::filesystem;

namespace {

std::string read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The chat template inside tokenizer_config.json, or "" if it has none.
std::string template_from_tokenizer_config(const fs::path& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_small_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) return "";
  auto it = j.find("chat_template");
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    const nlohmann::json* chosen = nullptr;
    for (const auto& entry : *it) {
      if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) continue;
      if (chosen == nullptr || (entry.contains("name") && entry["name"] == "default")) chosen = &entry;
    }
    if (chosen != nullptr) return (*chosen)["template"].get<std::string>();
  }
  fail(path.string() + ": field 'chat_template' must be a string or a list of {name, template}");
}

// Identifies the chat template's family now, so the runtime need not parse Jinja: stored as the
// blob "chat_family" (e.g. "deepseek-r1"). An unrecognised template is kept verbatim with a note;
// the runtime then asks for --chat-template NAME.
void add_chat_family(std::vector<BlobSource>& blobs, std::vector<std::string>* notes) {
  for (const BlobSource& b : blobs) {
    if (b.name != "chat_template") continue;
    const std::string text = b.path.empty() ? b.bytes : read_small_file(b.path);
    auto family = detect_chat_family(text);
    if (!family) {
      notes->push_back(family.status().message());
      return;
    }
    const std::string name = chat_family_name(*family);
    blobs.push_back({"chat_family", "", name, uint64_t(name.size())});
    return;
  }
}

}  // namespace

void check_tokenizer_files(const std::string& dir, std::vector<std::string>* notes) {
  const fs::path json = fs::path(dir) / "tokenizer.json", spm = fs::path(dir) / "tokenizer.model";
  const fs::path config = fs::path(dir) / "tokenizer_config.json";
  const bool has_json = fs::exists(json);
  const fs::path path = has_json ? json : spm;
  if (!has_json && !fs::exists(spm)) return;
  if (!fs::is_regular_file(path)) fail(path.string() + ": not a regular file");
  const std::string bytes = read_small_file(path);
  if (bytes.empty()) fail(path.string() + ": empty file (0 bytes); a tokenizer is needed to chat or tokenize");
  const std::string config_bytes = has_json && fs::is_regular_file(config) ? read_small_file(config) : "";
  if (!config_bytes.empty() && !nlohmann::json::accept(config_bytes))
    (void)template_from_tokenizer_config(config);  // throws "<path>: invalid JSON: <where>"
  auto tok = has_json ? Tokenizer::from_hf_json(bytes, config_bytes) : Tokenizer::from_sentencepiece_model(bytes);
  // A tokenizer feature mote does not implement yet is not a broken file: the model still runs
  // on token ids (the runtime reports the tokenizer's status when text is used).
  if (!tok.is_ok() && tok.status().code() == StatusCode::kUnsupported) {
    notes->push_back(path.string() + ": tokenizer not supported by mote yet (stored anyway): " + tok.status().message());
    return;
  }
  if (!tok.is_ok())
    fail(path.string() + ": invalid tokenizer (the runtime could not load it): " + tok.status().message());
}

std::vector<BlobSource> find_blobs(const std::string& dir, std::vector<std::string>* notes) {
  std::vector<BlobSource> blobs;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "tokenizer.model", "generation_config.json"}) {
    const fs::path p = fs::path(dir) / name;
    if (!fs::exists(p)) continue;
    if (!fs::is_regular_file(p)) fail(p.string() + ": not a regular file");
    blobs.push_back({name, p.string(), "", uint64_t(fs::file_size(p))});
  }
  const fs::path jinja = fs::path(dir) / "chat_template.jinja";
  const fs::path tok_config = fs::path(dir) / "tokenizer_config.json";
  if (fs::is_regular_file(jinja)) {
    blobs.push_back({"chat_template", jinja.string(), "", uint64_t(fs::file_size(jinja))});
  } else if (fs::is_regular_file(tok_config)) {
    std::string tmpl = template_from_tokenizer_config(tok_config);
    if (!tmpl.empty()) {
      const uint64_t size = tmpl.size();
      blobs.push_back({"chat_template", "", std::move(tmpl), size});
    }
  }
  add_chat_family(blobs, notes);
  return blobs;
}

}  // namespace mote::convert
