// Parsing of tokenizer.json components: normalizer, pre_tokenizer, decoder (see
// hf_json_parse.h). Type names and defaults follow Hugging Face tokenizers' serde formats.
#include "tokenizer/hf_json_parse.h"
#include "tokenizer/utf8.h"

namespace mote::tok {
namespace {

// Split / Replace "pattern": {"String": "..."} or {"Regex": "..."}.
Status parse_pattern(const json& obj, const std::string& path, std::string* literal, std::string* regex,
                     bool* is_regex) {
  std::string p = child_path(path, "pattern");
  auto it = obj.find("pattern");
  if (it == obj.end() || !it->is_object()) return field_error(p, "expected {\"String\": ...} or {\"Regex\": ...}");
  if (auto s = it->find("String"); s != it->end() && s->is_string()) {
    *literal = s->get<std::string>();
    *is_regex = false;
    return Status::ok();
  }
  if (auto r = it->find("Regex"); r != it->end() && r->is_string()) {
    *regex = r->get<std::string>();
    *is_regex = true;
    return Status::ok();
  }
  return field_error(p, "expected {\"String\": ...} or {\"Regex\": ...}");
}

Status need_array(const json& obj, const char* key, const std::string& path, const json** out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return field_error(child_path(path, key), "expected an array");
  *out = &*it;
  return Status::ok();
}

Status parse_behavior(const json& obj, const std::string& path, SplitBehavior* out) {
  std::string b;
  MOTE_RETURN_IF_ERROR(get_string(obj, "behavior", path, &b));
  if (b == "Removed") *out = SplitBehavior::kRemoved;
  else if (b == "Isolated") *out = SplitBehavior::kIsolated;
  else if (b == "MergedWithPrevious") *out = SplitBehavior::kMergedWithPrevious;
  else if (b == "MergedWithNext") *out = SplitBehavior::kMergedWithNext;
  else if (b == "Contiguous") *out = SplitBehavior::kContiguous;
  else return field_error(child_path(path, "behavior"), "unknown split behavior '" + b + "'");
  return Status::ok();
}

// Metaspace: replacement ("str_rep" in old files), prepend_scheme or the older add_prefix_space.
Status parse_metaspace(const json& j, const std::string& path, PreTokStep* s) {
  s->replacement = kSpmSpace;
  MOTE_RETURN_IF_ERROR(get_string(j, "str_rep", path, &s->replacement));
  MOTE_RETURN_IF_ERROR(get_string(j, "replacement", path, &s->replacement));
  bool add_prefix = true;
  MOTE_RETURN_IF_ERROR(get_bool(j, "add_prefix_space", path, &add_prefix));
  std::string scheme = add_prefix ? "always" : "never";
  MOTE_RETURN_IF_ERROR(get_string(j, "prepend_scheme", path, &scheme));
  if (scheme == "always") s->prepend = PreTokStep::Prepend::kAlways;
  else if (scheme == "first") s->prepend = PreTokStep::Prepend::kFirst;
  else if (scheme == "never") s->prepend = PreTokStep::Prepend::kNever;
  else return field_error(child_path(path, "prepend_scheme"), "unknown value '" + scheme + "'");
  return get_bool(j, "split", path, &s->split);
}

Status compile_into(std::string_view pattern, const std::string& path, PreTokStep* s) {
  auto re = Regex::compile(pattern, path);
  if (!re.is_ok()) return re.status();
  s->regex = std::move(re).value();
  return Status::ok();
}

Status parse_split(const json& j, const std::string& path, PreTokStep* s) {
  std::string regex;
  bool is_regex = false;
  MOTE_RETURN_IF_ERROR(parse_pattern(j, path, &s->literal, &regex, &is_regex));
  if (is_regex) MOTE_RETURN_IF_ERROR(compile_into(regex, child_path(path, "pattern.Regex"), s));
  else if (s->literal.empty()) return field_error(child_path(path, "pattern.String"), "empty pattern");
  MOTE_RETURN_IF_ERROR(parse_behavior(j, path, &s->behavior));
  return get_bool(j, "invert", path, &s->invert);
}

}  // namespace

Status get_bool(const json& obj, const char* key, const std::string& path, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::ok();
  if (!it->is_boolean()) return field_error(child_path(path, key), "expected a boolean");
  *out = it->get<bool>();
  return Status::ok();
}

Status get_string(const json& obj, const char* key, const std::string& path, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::ok();
  if (!it->is_string()) return field_error(child_path(path, key), "expected a string");
  *out = it->get<std::string>();
  return Status::ok();
}

Status get_int(const json& obj, const char* key, const std::string& path, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::ok();
  if (!it->is_number_integer()) return field_error(child_path(path, key), "expected an integer");
  *out = it->get<int64_t>();
  return Status::ok();
}

Status get_type(const json& obj, const std::string& path, std::string* type) {
  if (!obj.is_object()) return field_error(path, "expected an object");
  auto it = obj.find("type");
  if (it == obj.end() || !it->is_string()) return field_error(child_path(path, "type"), "missing or not a string");
  *type = it->get<std::string>();
  return Status::ok();
}

Status parse_normalizer(const json& j, const std::string& path, Normalizer* out) {
  if (j.is_null()) return Status::ok();
  std::string type;
  MOTE_RETURN_IF_ERROR(get_type(j, path, &type));
  if (type == "Sequence") {
    const json* list = nullptr;
    MOTE_RETURN_IF_ERROR(need_array(j, "normalizers", path, &list));
    for (size_t i = 0; i < list->size(); ++i)
      MOTE_RETURN_IF_ERROR(parse_normalizer((*list)[i], index_path(child_path(path, "normalizers"), i), out));
    return Status::ok();
  }
  NormalizerStep s;
  using K = NormalizerStep::Kind;
  if (type == "NFC") s.kind = K::kNfc;
  else if (type == "NFD") s.kind = K::kNfd;
  else if (type == "NFKC") s.kind = K::kNfkc;
  else if (type == "NFKD") s.kind = K::kNfkd;
  else if (type == "Lowercase") s.kind = K::kLowercase;
  else if (type == "Prepend") {
    s.kind = K::kPrepend;
    MOTE_RETURN_IF_ERROR(get_string(j, "prepend", path, &s.a));
  } else if (type == "Replace") {
    s.kind = K::kReplace;
    std::string regex;
    bool is_regex = false;
    MOTE_RETURN_IF_ERROR(parse_pattern(j, path, &s.a, &regex, &is_regex));
    if (is_regex) return unsupported(child_path(path, "pattern") + ": Regex patterns in Replace are not supported");
    MOTE_RETURN_IF_ERROR(get_string(j, "content", path, &s.b));
  } else if (type == "Strip") {
    s.kind = K::kStrip;
    MOTE_RETURN_IF_ERROR(get_bool(j, "strip_left", path, &s.left));
    MOTE_RETURN_IF_ERROR(get_bool(j, "strip_right", path, &s.right));
  } else {
    return unsupported(child_path(path, "type") + ": normalizer type '" + type + "' is not supported");
  }
  out->add(std::move(s));
  return Status::ok();
}

Status parse_pretokenizer(const json& j, const std::string& path, PreTokenizer* out) {
  if (j.is_null()) return Status::ok();
  std::string type;
  MOTE_RETURN_IF_ERROR(get_type(j, path, &type));
  if (type == "Sequence") {
    const json* list = nullptr;
    MOTE_RETURN_IF_ERROR(need_array(j, "pretokenizers", path, &list));
    for (size_t i = 0; i < list->size(); ++i)
      MOTE_RETURN_IF_ERROR(parse_pretokenizer((*list)[i], index_path(child_path(path, "pretokenizers"), i), out));
    return Status::ok();
  }
  PreTokStep s;
  using K = PreTokStep::Kind;
  if (type == "Split") {
    s.kind = K::kSplit;
    MOTE_RETURN_IF_ERROR(parse_split(j, path, &s));
  } else if (type == "ByteLevel") {
    s.kind = K::kByteLevel;
    bool use_regex = true;
    s.add_prefix_space = true;  // HF defaults
    MOTE_RETURN_IF_ERROR(get_bool(j, "add_prefix_space", path, &s.add_prefix_space));
    MOTE_RETURN_IF_ERROR(get_bool(j, "use_regex", path, &use_regex));
    if (use_regex) MOTE_RETURN_IF_ERROR(compile_into(kGpt2Pattern, path, &s));
  } else if (type == "Digits") {
    s.kind = K::kDigits;
    MOTE_RETURN_IF_ERROR(get_bool(j, "individual_digits", path, &s.individual_digits));
    MOTE_RETURN_IF_ERROR(compile_into("\\p{N}", path, &s));
  } else if (type == "Metaspace") {
    s.kind = K::kMetaspace;
    MOTE_RETURN_IF_ERROR(parse_metaspace(j, path, &s));
  } else if (type == "Whitespace") {
    s.kind = K::kWhitespace;
    MOTE_RETURN_IF_ERROR(compile_into("\\w+|[^\\w\\s]+", path, &s));
  } else if (type == "WhitespaceSplit") {
    s.kind = K::kWhitespaceSplit;
    MOTE_RETURN_IF_ERROR(compile_into("\\s+", path, &s));
  } else {
    return unsupported(child_path(path, "type") + ": pre_tokenizer type '" + type + "' is not supported");
  }
  out->add(std::move(s));
  return Status::ok();
}

Status parse_decoder(const json& j, const std::string& path, DecodeRules* out) {
  if (j.is_null()) return Status::ok();
  std::string type;
  MOTE_RETURN_IF_ERROR(get_type(j, path, &type));
  if (type == "Sequence") {
    const json* list = nullptr;
    MOTE_RETURN_IF_ERROR(need_array(j, "decoders", path, &list));
    for (size_t i = 0; i < list->size(); ++i)
      MOTE_RETURN_IF_ERROR(parse_decoder((*list)[i], index_path(child_path(path, "decoders"), i), out));
  } else if (type == "ByteLevel") {
    out->byte_level = true;
  } else if (type == "ByteFallback") {
    out->byte_fallback = true;
  } else if (type == "Fuse") {
    // Joining tokens is what decode does anyway.
  } else if (type == "Replace") {
    std::string from, regex, to;
    bool is_regex = false;
    MOTE_RETURN_IF_ERROR(parse_pattern(j, path, &from, &regex, &is_regex));
    if (is_regex) return unsupported(child_path(path, "pattern") + ": Regex patterns in Replace are not supported");
    MOTE_RETURN_IF_ERROR(get_string(j, "content", path, &to));
    out->replace.emplace_back(from, to);
  } else if (type == "Strip") {
    std::string content = " ";
    int64_t start = 0;
    MOTE_RETURN_IF_ERROR(get_string(j, "content", path, &content));
    MOTE_RETURN_IF_ERROR(get_int(j, "start", path, &start));
    if (content != " " || start < 0 || start > 16)
      return unsupported(path + ": only Strip of up to 16 leading spaces is supported");
    out->strip_left = static_cast<int>(start);  // "stop" (trailing strip) is not applied
  } else if (type == "Metaspace") {
    PreTokStep s;
    MOTE_RETURN_IF_ERROR(parse_metaspace(j, path, &s));
    out->replace.emplace_back(s.replacement, " ");
    out->strip_left = s.prepend == PreTokStep::Prepend::kNever ? 0 : 1;
  } else {
    return unsupported(child_path(path, "type") + ": decoder type '" + type + "' is not supported");
  }
  return Status::ok();
}

}  // namespace mote::tok
