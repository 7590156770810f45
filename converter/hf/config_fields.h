// Internal to the config parser (hf/config.cpp, hf/config_gqa.cpp) and the family files that
// drive it (arch/<family>.cpp): typed access to the keys of one config.json object with one-line
// errors naming the file and the key, the parsing steps every family shares, and the shared MLA
// and GQA parsers with the per-family inputs they take. Not a public interface of the converter.
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

// --- MLA (DeepSeek-V3 / V2; hf/config.cpp) ---

// The defaults of the family's transformers config class (DeepseekV3Config / DeepseekV2Config)
// for the keys the MLA parser reads.
struct MlaDefaults {
  uint32_t vocab, hidden, intermediate, moe_intermediate, layers, heads;
  uint32_t shared_experts, routed_experts, experts_per_tok;  // experts_per_tok 0: required
  float routed_scaling_factor;
  uint32_t n_group, topk_group, first_k_dense_replace;
  bool norm_topk_prob;
  uint64_t max_position;
  int32_t bos, eos;
  fb::TopkMethod topk_method;
  fb::ScoringFunc scoring_func;
  uint32_t q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
};
// Defaults, dims, router keys, rope, tokens and validation of an MLA family.
void parse_mla_config(const json& root, const Fields& f, HfConfig& c, const MlaDefaults& defaults);

// --- GQA (every other family; hf/config_gqa.cpp) ---

// transformers' defaults for the keys every GQA family has.
struct FamilyDefaults {
  uint32_t vocab, hidden, layers, heads, kv_heads, experts, top_k;
  uint32_t expert_width;      // intermediate_size (Mixtral, OLMoE) or moe_intermediate_size (Qwen)
  uint32_t intermediate;      // Qwen: the dense width (unused while every layer is MoE)
  uint32_t shared_width;      // Qwen2-MoE shared_expert_intermediate_size
  float rope_theta, eps;
  uint64_t max_position;
  int32_t bos, eos;           // -1 = none
};

// What one GQA family changes in the shared GQA parser: its defaults, the spelling of a few keys,
// and hooks for its own keys, refusals and checks. Every hook may be null.
struct GqaFamilyTraits {
  FamilyDefaults defaults;
  bool dense = false;                   // Llama, Qwen2: intermediate_size is the FFN width, no experts
  bool local_experts_key = false;       // num_local_experts is the released spelling (Mixtral, gpt-oss),
                                        // else num_experts; both are accepted
  const char* expert_width_key = "intermediate_size";  // the per-expert width (Qwen: moe_intermediate_size,
                                        // and intermediate_size is then read as the dense width)
  bool kv_heads_follow_heads = false;   // OLMoE: num_key_value_heads defaults to num_attention_heads
  bool head_dim_is_split = false;       // OLMoE: head_dim = hidden / heads, no key
  uint32_t default_head_dim = 0;        // absent head_dim: 0 = hidden / heads (gpt-oss: 64)
  bool always_renormalise = false;      // Mixtral: norm_topk_prob is true, no key
  fb::QkNorm qk_norm = fb::QkNorm::None;
  bool llama3_rope = false;             // Llama-3 rope scaling supported (the dense families)
  bool yarn_untruncated = false;        // YaRN truncate = false supported (gpt-oss)
  // The family's own keys, after the shared ones (dims, experts, norm_topk_prob, qk_norm).
  void (*parse_keys)(const Fields& f, HfConfig& c) = nullptr;
  // Refusals of what the runtime does not implement, before the shared rope-scaling refusals.
  void (*refuse)(const Fields& f, const HfConfig& c) = nullptr;
  // Checks after the shared head checks (heads divisible by KV heads, head_dim even).
  void (*validate)(const Fields& f, const HfConfig& c) = nullptr;
};
void parse_gqa_config(const json& root, const Fields& f, HfConfig& c, const GqaFamilyTraits& traits);

// Refusals several GQA families share.
// Qwen's per-layer sliding window, decoder_sparse_step > 1 and mlp_only_layers (Qwen2, Qwen2-MoE,
// Qwen3-MoE).
void refuse_qwen_layer_variants(const Fields& f);
// attention_bias = true where the family has no attention biases.
void refuse_attention_bias(const Fields& f, const HfConfig& c);

}  // namespace mote::convert::detail
