// Internal helpers for reading Hugging Face tokenizer.json with nlohmann::json. Only the
// tokenizer's .cpp files include this (nlohmann stays out of public headers). Every helper
// checks types itself and returns a Status naming the field; none throws.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/status.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_impl.h"

namespace mote::tok {

using json = nlohmann::json;

// `path` names the field, starting with the file: "tokenizer.json: model.merges[12]".
inline Status field_error(const std::string& path, const std::string& what) {
  return invalid_argument(path + ": " + what);
}

inline std::string child_path(const std::string& path, const char* key) { return path + "." + key; }
inline std::string index_path(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// Optional fields: absent or null leaves *out unchanged; a value of the wrong type is an error.
Status get_bool(const json& obj, const char* key, const std::string& path, bool* out);
Status get_string(const json& obj, const char* key, const std::string& path, std::string* out);
Status get_int(const json& obj, const char* key, const std::string& path, int64_t* out);
// Required "type" string of a component object.
Status get_type(const json& obj, const std::string& path, std::string* type);

// Components; `j` may be null (no component), which leaves the output empty.
Status parse_normalizer(const json& j, const std::string& path, Normalizer* out);
Status parse_pretokenizer(const json& j, const std::string& path, PreTokenizer* out);
Status parse_decoder(const json& j, const std::string& path, DecodeRules* out);

}  // namespace mote::tok
