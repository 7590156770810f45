// Tokenizer::from_hf_json: builds a TokenizerImpl from Hugging Face tokenizer.json (+ optional
// tokenizer_config.json). nlohmann exceptions never escape: types are checked field by field,
// and a final catch turns anything unexpected into a Status.
#include <cstdio>
#include <exception>

#include "tokenizer/hf_json_parse.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace mote {
namespace tok {
namespace {

constexpr char kTj[] = "tokenizer.json";
constexpr char kCj[] = "tokenizer_config.json";

Status parse_json(std::string_view text, const char* file, json* out) {
  try {
    *out = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return invalid_argument(std::string(file) + ": invalid JSON: " + e.what());
  }
  if (!out->is_object()) return invalid_argument(std::string(file) + ": top level is not a JSON object");
  return Status::ok();
}

Status check_model_type(const json& model) {
  const std::string path = std::string(kTj) + ": model";
  if (!model.is_object()) return field_error(path, "missing or not an object");
  std::string type = model.contains("merges") ? "BPE" : "";
  MOTE_RETURN_IF_ERROR(get_string(model, "type", path, &type));
  if (type.empty()) return field_error(path + ".type", "missing");
  if (type != "BPE") return unsupported(path + ".type: model type '" + type + "' is not supported (only BPE)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::string affix;
    MOTE_RETURN_IF_ERROR(get_string(model, key, path, &affix));
    if (!affix.empty()) return unsupported(path + "." + key + ": non-empty affixes are not supported");
  }
  return Status::ok();
}

// Ids are bounded so a corrupt file cannot make the per-id tables explode (the largest real
// vocabularies are ~10^6).
constexpr int64_t kMaxId = int64_t{1} << 24;

bool valid_id(const json& v) { return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < kMaxId; }

// model.vocab -> per-id text, text -> id (for merges) and the BPE's model-form vocabulary.
Status load_vocab(const json& model, TokenizerImpl* d, TokenMap* text_ids) {
  const std::string path = std::string(kTj) + ": model.vocab";
  auto it = model.find("vocab");
  if (it == model.end() || !it->is_object()) return field_error(path, "missing or not an object");
  text_ids->reserve(it->size());
  d->bpe.vocab.reserve(it->size());
  std::string raw;
  for (const auto& [key, value] : it->items()) {
    if (!valid_id(value)) return field_error(path + "[\"" + key + "\"]", "id must be an integer in [0, 2^24)");
    auto id = static_cast<int32_t>(value.get<int64_t>());
    d->ensure_id(id);
    d->text[static_cast<size_t>(id)] = key;
    text_ids->emplace(key, id);
    if (!d->bpe.opt.byte_level) d->bpe.vocab.emplace(key, id);
    else if (byte_level_to_bytes(key, &raw)) d->bpe.vocab.emplace(raw, id);
    else d->added_ids.emplace(key, id);  // not reachable by BPE, but find_token() sees it
  }
  return Status::ok();
}

// Initial byte symbols (byte-level) or <0xNN> fallback tokens, and the unk token.
Status setup_model_options(const json& model, const TokenMap& text_ids, TokenizerImpl* d) {
  const std::string path = std::string(kTj) + ": model";
  BpeModel& bpe = d->bpe;
  MOTE_RETURN_IF_ERROR(get_bool(model, "byte_fallback", path, &bpe.opt.byte_fallback));
  MOTE_RETURN_IF_ERROR(get_bool(model, "fuse_unk", path, &bpe.opt.fuse_unk));
  MOTE_RETURN_IF_ERROR(get_bool(model, "ignore_merges", path, &bpe.opt.ignore_merges));
  std::string unk;
  MOTE_RETURN_IF_ERROR(get_string(model, "unk_token", path, &unk));
  if (auto u = text_ids.find(unk); !unk.empty() && u != text_ids.end()) bpe.opt.unk_id = u->second;
  for (int b = 0; b < 256; ++b) {
    if (bpe.opt.byte_level) {
      auto v = bpe.vocab.find(std::string(1, static_cast<char>(b)));
      if (v != bpe.vocab.end()) bpe.byte_ids[b] = v->second;
    } else if (bpe.opt.byte_fallback) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto v = text_ids.find(std::string_view(name));
      if (v != text_ids.end()) bpe.byte_ids[b] = v->second;
    }
  }
  return Status::ok();
}

// One merge entry: "a b" or ["a", "b"].
Status merge_parts(const json& m, const std::string& path, std::string* a, std::string* b) {
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      return field_error(path, "expected two tokens separated by one space, got '" + s + "'");
    *a = s.substr(0, sp);
    *b = s.substr(sp + 1);
    return Status::ok();
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    *a = m[0].get<std::string>();
    *b = m[1].get<std::string>();
    return Status::ok();
  }
  return field_error(path, "expected \"a b\" or [\"a\", \"b\"]");
}

Status load_merges(const json& model, const TokenMap& text_ids, TokenizerImpl* d) {
  const std::string path = std::string(kTj) + ": model.merges";
  auto it = model.find("merges");
  if (it == model.end() || it->is_null()) return Status::ok();
  if (!it->is_array()) return field_error(path, "expected an array");
  std::string a, b;
  for (size_t rank = 0; rank < it->size(); ++rank) {
    std::string p = index_path(path, rank);
    MOTE_RETURN_IF_ERROR(merge_parts((*it)[rank], p, &a, &b));
    auto ia = text_ids.find(a), ib = text_ids.find(b), ir = text_ids.find(a + b);
    if (ia == text_ids.end()) return field_error(p, "token '" + a + "' is not in the vocabulary");
    if (ib == text_ids.end()) return field_error(p, "token '" + b + "' is not in the vocabulary");
    if (ir == text_ids.end()) return field_error(p, "merged token '" + a + b + "' is not in the vocabulary");
    d->bpe.merges.add(ia->second, ib->second, static_cast<int32_t>(rank), ir->second);
  }
  d->bpe.merges.build();
  return Status::ok();
}

Status load_added_tokens(const json& root, TokenizerImpl* d) {
  const std::string path = std::string(kTj) + ": added_tokens";
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return Status::ok();
  if (!it->is_array()) return field_error(path, "expected an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    std::string p = index_path(path, i);
    if (!e.is_object()) return field_error(p, "expected an object");
    auto id = e.find("id");
    if (id == e.end() || !valid_id(*id)) return field_error(p + ".id", "missing or not an integer in [0, 2^24)");
    AddedToken t;
    t.id = static_cast<int32_t>(id->get<int64_t>());
    MOTE_RETURN_IF_ERROR(get_string(e, "content", p, &t.content));
    if (t.content.empty()) return field_error(p + ".content", "missing or empty");
    MOTE_RETURN_IF_ERROR(get_bool(e, "special", p, &t.special));
    t.normalized = !t.special;  // HF default
    MOTE_RETURN_IF_ERROR(get_bool(e, "normalized", p, &t.normalized));
    MOTE_RETURN_IF_ERROR(get_bool(e, "lstrip", p, &t.lstrip));
    MOTE_RETURN_IF_ERROR(get_bool(e, "rstrip", p, &t.rstrip));
    MOTE_RETURN_IF_ERROR(get_bool(e, "single_word", p, &t.single_word));
    d->add_token(t);
  }
  return Status::ok();
}

// post_processor TemplateProcessing (possibly inside a Sequence): special ids around $A.
Status template_ids(const json& pp, const std::string& path, std::vector<int32_t>* prefix,
                    std::vector<int32_t>* suffix) {
  if (!pp.is_object()) return Status::ok();
  std::string type;
  MOTE_RETURN_IF_ERROR(get_string(pp, "type", path, &type));
  if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    for (size_t i = 0; i < pp["processors"].size(); ++i)
      MOTE_RETURN_IF_ERROR(template_ids(pp["processors"][i], index_path(path + ".processors", i), prefix, suffix));
    return Status::ok();
  }
  if (type != "TemplateProcessing") return Status::ok();  // ByteLevel etc. add no tokens
  auto single = pp.find("single");
  auto specials = pp.find("special_tokens");
  if (single == pp.end() || !single->is_array() || specials == pp.end() || !specials->is_object())
    return field_error(path, "TemplateProcessing needs 'single' (array) and 'special_tokens' (object)");
  bool after = false;
  for (const json& item : *single) {
    if (item.contains("Sequence")) {
      after = true;
      continue;
    }
    auto st = item.find("SpecialToken");
    if (st == item.end() || !st->is_object() || !st->contains("id") || !(*st)["id"].is_string())
      return field_error(path + ".single", "expected SpecialToken or Sequence items");
    auto def = specials->find((*st)["id"].get<std::string>());
    if (def == specials->end() || !def->contains("ids") || !(*def)["ids"].is_array())
      return field_error(path + ".special_tokens", "no ids for '" + (*st)["id"].get<std::string>() + "'");
    for (const json& v : (*def)["ids"]) {
      if (!valid_id(v)) return field_error(path + ".special_tokens", "bad id");
      (after ? suffix : prefix)->push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
  }
  return Status::ok();
}

// bos_token / eos_token: a string, {"content": ...} or null. *id = -1 when null/absent.
Status config_token(const json& cfg, const char* key, const TokenizerImpl& d, const TokenMap& text_ids, int32_t* id) {
  *id = -1;
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return Status::ok();
  std::string name;
  if (it->is_string()) name = it->get<std::string>();
  else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) name = (*it)["content"].get<std::string>();
  else return field_error(std::string(kCj) + ": " + key, "expected a string or {\"content\": ...}");
  if (auto a = d.added_ids.find(name); a != d.added_ids.end()) *id = a->second;
  else if (auto v = text_ids.find(name); v != text_ids.end()) *id = v->second;
  else return field_error(std::string(kCj) + ": " + key, "token '" + name + "' is not in the vocabulary");
  return Status::ok();
}

Status load_special_config(const json& root, std::string_view config_text, const TokenMap& text_ids, TokenizerImpl* d) {
  std::vector<int32_t> tpl_prefix, tpl_suffix;
  if (auto pp = root.find("post_processor"); pp != root.end())
    MOTE_RETURN_IF_ERROR(template_ids(*pp, std::string(kTj) + ": post_processor", &tpl_prefix, &tpl_suffix));
  json cfg = json::object();
  if (!config_text.empty()) MOTE_RETURN_IF_ERROR(parse_json(config_text, kCj, &cfg));
  int32_t eos = -1;
  MOTE_RETURN_IF_ERROR(config_token(cfg, "bos_token", *d, text_ids, &d->bos));
  MOTE_RETURN_IF_ERROR(config_token(cfg, "eos_token", *d, text_ids, &eos));
  if (eos >= 0) d->eos.push_back(eos);
  if (cfg.contains("add_bos_token") || cfg.contains("add_eos_token")) {
    bool add_bos = false, add_eos = false;  // transformers' defaults when only one is given
    MOTE_RETURN_IF_ERROR(get_bool(cfg, "add_bos_token", kCj, &add_bos));
    MOTE_RETURN_IF_ERROR(get_bool(cfg, "add_eos_token", kCj, &add_eos));
    if (add_bos && d->bos >= 0) d->prefix_ids.push_back(d->bos);
    if (add_eos && eos >= 0) d->suffix_ids.push_back(eos);
  } else {
    d->prefix_ids = tpl_prefix;
    d->suffix_ids = tpl_suffix;
  }
  if (d->bos < 0 && !tpl_prefix.empty()) d->bos = tpl_prefix.front();
  for (const auto* list : {&d->prefix_ids, &d->suffix_ids})
    for (int32_t id : *list)
      if (static_cast<size_t>(id) >= d->text.size())
        return field_error(std::string(kTj) + ": post_processor", "special id " + std::to_string(id) + " is outside the vocabulary");
  return Status::ok();
}

Result<std::unique_ptr<TokenizerImpl>> load_hf(std::string_view tokenizer_json, std::string_view config_json) {
  json root;
  MOTE_RETURN_IF_ERROR(parse_json(tokenizer_json, kTj, &root));
  auto model_it = root.find("model");
  if (model_it == root.end()) return field_error(std::string(kTj) + ": model", "missing");
  const json& model = *model_it;
  MOTE_RETURN_IF_ERROR(check_model_type(model));
  auto d = std::make_unique<TokenizerImpl>();
  const json null_json;
  auto component = [&](const char* key) -> const json& {
    auto it = root.find(key);
    return it == root.end() ? null_json : *it;
  };
  MOTE_RETURN_IF_ERROR(parse_normalizer(component("normalizer"), std::string(kTj) + ": normalizer", &d->normalizer));
  MOTE_RETURN_IF_ERROR(parse_pretokenizer(component("pre_tokenizer"), std::string(kTj) + ": pre_tokenizer", &d->pretok));
  MOTE_RETURN_IF_ERROR(parse_decoder(component("decoder"), std::string(kTj) + ": decoder", &d->rules));
  d->bpe.opt.byte_level = d->pretok.byte_level();
  TokenMap text_ids;
  MOTE_RETURN_IF_ERROR(load_vocab(model, d.get(), &text_ids));
  MOTE_RETURN_IF_ERROR(setup_model_options(model, text_ids, d.get()));
  MOTE_RETURN_IF_ERROR(load_merges(model, text_ids, d.get()));
  MOTE_RETURN_IF_ERROR(load_added_tokens(root, d.get()));
  MOTE_RETURN_IF_ERROR(load_special_config(root, config_json, text_ids, d.get()));
  d->bpe.finalize();
  d->build_decode_table();
  return d;
}

}  // namespace
}  // namespace tok

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_json(std::string_view tokenizer_json,
                                                           std::string_view tokenizer_config_json) {
  try {
    auto impl = tok::load_hf(tokenizer_json, tokenizer_config_json);
    if (!impl.is_ok()) return impl.status();
    return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl).value()));
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "tokenizer.json: out of memory while loading");
  } catch (const std::exception& e) {  // defensive: a JSON accessor we did not guard
    return invalid_argument(std::string("tokenizer.json: ") + e.what());
  }
}

}  // namespace mote
