// Internal to the config parser (hf/config.cpp, hf/config_gqa.cpp): typed access to the keys of
// one config.json object with one-line errors naming the file and the key, and the parsing steps
// every family shares. Not a public interface of the converter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hf/config.h"
#include "hf/error.h"

namespace mote::convert::detail {

using json = nlohmann::json;

// Typed access to the keys of one JSON object, with messages naming `path` and the key.
class Fields {
 public:
  Fields(const json& obj, std::string path, std::string prefix = "")
      : obj_(obj), path_(std::move(path)), prefix_(std::move(prefix)) {}

  // Present and not null.
  bool has(const char* key) const {
    auto it = obj_.find(key);
    return it != obj_.end() && !it->is_null();
  }
  [[noreturn]] void bad(const char* key, const std::string& problem) const {
    fail(path_ + ": field '" + prefix_ + key + "' " + problem);
  }
  const json* get(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  // Absent -> nullopt; null -> nullopt if allow_null, else an error.
  std::optional<uint64_t> opt_uint(const char* key, bool allow_null, uint64_t max) const {
    const json* v = get(key);
    if (v == nullptr || (v->is_null() && allow_null)) return std::nullopt;
    uint64_t u = 0;
    if (v->is_number_unsigned()) u = v->get<uint64_t>();
    else if (v->is_number_integer() && v->get<int64_t>() >= 0) u = uint64_t(v->get<int64_t>());
    else bad(key, "must be a non-negative integer, got " + v->dump());
    if (u > max) bad(key, "is " + std::to_string(u) + ", larger than " + std::to_string(max));
    return u;
  }
  uint32_t u32(const char* key, uint32_t def, bool allow_null = false) const {
    return uint32_t(opt_uint(key, allow_null, std::numeric_limits<uint32_t>::max()).value_or(def));
  }
  uint64_t u64(const char* key, uint64_t def) const {
    return opt_uint(key, false, std::numeric_limits<uint64_t>::max()).value_or(def);
  }
  float f32(const char* key, float def) const {
    const json* v = get(key);
    if (v == nullptr) return def;
    if (!v->is_number()) bad(key, "must be a number, got " + v->dump());
    return v->get<float>();
  }
  bool boolean(const char* key, bool def) const {
    const json* v = get(key);
    if (v == nullptr) return def;
    if (!v->is_boolean()) bad(key, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }
  std::optional<std::string> str(const char* key) const {
    const json* v = get(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_string()) bad(key, "must be a string, got " + v->dump());
    return v->get<std::string>();
  }
  // The first of `keys` present (not null), else keys[0]: one value with several spellings
  // (released vs transformers 5, e.g. num_experts / num_local_experts). Two spellings with
  // different values are an error naming both.
  const char* pick(std::initializer_list<const char*> keys) const {
    const char* chosen = nullptr;
    for (const char* k : keys) {
      if (!has(k)) continue;
      if (chosen == nullptr) chosen = k;
      else if (*get(k) != *get(chosen))
        bad(chosen, "is " + get(chosen)->dump() + " but '" + prefix_ + k + "' (the same value) is " + get(k)->dump());
    }
    return chosen ? chosen : *keys.begin();
  }
  const std::string& path() const { return path_; }

 private:
  const json& obj_;
  std::string path_;
  std::string prefix_;
};

// Upper bounds on the counts, far above any released model (DeepSeek-V3: 61 layers, 256 experts,
// 128 heads, 1 MTP layer); widths stay <= 2^24. The checkpoint must still back the counts
// (pipeline/backing.h): these only keep every later product and loop in range.
inline constexpr uint64_t kMaxWidth = uint64_t(1) << 24;
inline constexpr uint64_t kMaxLayers = 4096, kMaxExperts = 65536, kMaxMtpLayers = 64;
inline constexpr uint64_t kMaxHeads = 8192, kMaxHeadDim = 8192, kMaxPositions = uint64_t(1) << 32;

struct Bound {
  const char* name;
  uint64_t value, max;
};
inline void check_bounds(const Fields& f, std::initializer_list<Bound> bounds) {
  for (const Bound& b : bounds)
    if (b.value > b.max)
      f.bad(b.name, "is " + std::to_string(b.value) + ", implausibly large (at most " + std::to_string(b.max) + ")");
}

// rope_theta and rope_scaling / rope_parameters (DeepSeek-flavoured YaRN or none).
void parse_rope(const json& root, const Fields& f, HfConfig& c);
// bos/eos ids, tie_word_embeddings, rms_norm_eps.
void parse_tokens(const Fields& f, HfConfig& c);
// Qwen2-MoE, Qwen3-MoE, OLMoE, Mixtral: defaults, keys and validation (hf/config_gqa.cpp).
void parse_gqa_config(const json& root, const Fields& f, HfConfig& c);

}  // namespace mote::convert::detail
