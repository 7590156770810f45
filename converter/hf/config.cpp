#include "hf/config.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "arch/family.h"
#include "hf/config_fields.h"
#include "hf/error.h"

namespace mote::convert {

using namespace detail;

namespace {

void set_defaults(HfConfig& c, const MlaDefaults& d) {
  c.vocab_size = d.vocab;
  c.hidden_size = d.hidden;
  c.intermediate_size = d.intermediate;
  c.moe_intermediate_size = d.moe_intermediate;
  c.num_hidden_layers = d.layers;
  c.num_attention_heads = d.heads;
  c.n_shared_experts = d.shared_experts;
  c.n_routed_experts = d.routed_experts;
  c.routed_scaling_factor = d.routed_scaling_factor;
  c.n_group = d.n_group;
  c.topk_group = d.topk_group;
  c.num_experts_per_tok = d.experts_per_tok;
  c.first_k_dense_replace = d.first_k_dense_replace;
  c.norm_topk_prob = d.norm_topk_prob;
  c.max_position_embeddings = d.max_position;
  c.bos_token_id = d.bos;
  c.eos_token_ids = {d.eos};
  c.topk_method = d.topk_method;
  c.scoring_func = d.scoring_func;
  c.q_lora_rank = d.q_lora_rank;
  c.kv_lora_rank = d.kv_lora_rank;
  c.qk_nope_head_dim = d.qk_nope_head_dim;
  c.qk_rope_head_dim = d.qk_rope_head_dim;
  c.v_head_dim = d.v_head_dim;
}

void parse_dims(const Fields& f, HfConfig& c) {
  c.vocab_size = f.u32("vocab_size", c.vocab_size);
  c.hidden_size = f.u32("hidden_size", c.hidden_size);
  c.intermediate_size = f.u32("intermediate_size", c.intermediate_size);
  c.moe_intermediate_size = f.u32("moe_intermediate_size", c.moe_intermediate_size);
  c.num_hidden_layers = f.u32("num_hidden_layers", c.num_hidden_layers);
  // transformers 5 DeepseekV3Config also names it num_mtp_layers (attribute_map).
  c.num_nextn_predict_layers = f.u32(f.pick({"num_nextn_predict_layers", "num_mtp_layers"}), 0, true);
  c.num_attention_heads = f.u32("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = f.u32("num_key_value_heads", c.num_attention_heads, true);
  c.q_lora_rank = f.u32("q_lora_rank", f.get("q_lora_rank") ? 0 : c.q_lora_rank, true);
  c.kv_lora_rank = f.u32("kv_lora_rank", c.kv_lora_rank);
  c.qk_nope_head_dim = f.u32("qk_nope_head_dim", c.qk_nope_head_dim);
  c.qk_rope_head_dim = f.u32("qk_rope_head_dim", c.qk_rope_head_dim);
  c.v_head_dim = f.u32("v_head_dim", c.v_head_dim);
  c.max_position_embeddings = f.u64("max_position_embeddings", c.max_position_embeddings);
}

void parse_moe(const Fields& f, HfConfig& c) {
  // transformers 5 attribute_map: num_local_experts (V3), num_experts (V2).
  c.experts_key = f.pick({"n_routed_experts", "num_local_experts", "num_experts"});
  c.n_routed_experts = f.u32(c.experts_key.c_str(), c.n_routed_experts);
  c.n_shared_experts = f.u32("n_shared_experts", f.get("n_shared_experts") ? 0 : c.n_shared_experts, true);
  c.num_experts_per_tok = f.u32("num_experts_per_tok", c.num_experts_per_tok);
  c.first_k_dense_replace = f.u32("first_k_dense_replace", c.first_k_dense_replace);
  c.moe_layer_freq = f.u32("moe_layer_freq", c.moe_layer_freq);
  c.n_group = f.u32("n_group", f.get("n_group") ? 1 : c.n_group, true);
  c.topk_group = f.u32("topk_group", f.get("topk_group") ? 1 : c.topk_group, true);
  c.norm_topk_prob = f.boolean("norm_topk_prob", c.norm_topk_prob);
  c.routed_scaling_factor = f.f32("routed_scaling_factor", c.routed_scaling_factor);
  if (auto m = f.str("topk_method")) {
    if (*m == "noaux_tc") c.topk_method = fb::TopkMethod::NoauxTc;
    else if (*m == "greedy") c.topk_method = fb::TopkMethod::Greedy;
    else if (*m == "group_limited_greedy") c.topk_method = fb::TopkMethod::GroupLimitedGreedy;
    else f.bad("topk_method", "has unsupported value '" + *m + "' (supported: noaux_tc, greedy, group_limited_greedy)");
  }
  if (auto s = f.str("scoring_func")) {
    if (*s == "sigmoid") c.scoring_func = fb::ScoringFunc::Sigmoid;
    else if (*s == "softmax") c.scoring_func = fb::ScoringFunc::Softmax;
    else f.bad("scoring_func", "has unsupported value '" + *s + "' (supported: sigmoid, softmax)");
  }
  if (auto act = f.str("hidden_act"); act && *act != "silu")
    f.bad("hidden_act", "has unsupported value '" + *act + "' (supported: silu)");
}

// Keys of transformers' DeepseekV3Config / DeepseekV2Config whose non-default values the MLA
// runtime does not implement (it always rotates interleaved pairs, has no projection biases).
void refuse_unsupported_mla(const Fields& f) {
  if (!f.boolean("rope_interleave", true))
    f.bad("rope_interleave", "is false: only DeepSeek's interleaved RoPE layout is supported");
  if (f.boolean("attention_bias", false)) f.bad("attention_bias", "is true: attention biases are not supported for MLA");
  if (f.boolean("mlp_bias", false)) f.bad("mlp_bias", "is true: MLP biases are not supported");
}

void validate(const Fields& f, const HfConfig& c) {
  refuse_unsupported_mla(f);
  const char* experts = f.pick({"n_routed_experts", "num_local_experts", "num_experts"});
  const char* nextn = f.pick({"num_nextn_predict_layers", "num_mtp_layers"});
  const std::pair<const char*, uint64_t> positive[] = {
      {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads}, {"kv_lora_rank", c.kv_lora_rank},
      {"qk_nope_head_dim", c.qk_nope_head_dim}, {"qk_rope_head_dim", c.qk_rope_head_dim},
      {"v_head_dim", c.v_head_dim}, {"moe_intermediate_size", c.moe_intermediate_size},
      {experts, c.n_routed_experts}, {"num_experts_per_tok", c.num_experts_per_tok},
      {"moe_layer_freq", c.moe_layer_freq}, {"n_group", c.n_group}, {"topk_group", c.topk_group},
      {"max_position_embeddings", c.max_position_embeddings}};
  for (const auto& [name, value] : positive)
    if (value == 0) f.bad(name, f.has(name) ? "must be positive" : "is missing (required)");
  check_bounds(f, {{"vocab_size", c.vocab_size, kMaxWidth}, {"hidden_size", c.hidden_size, kMaxWidth},
                   {"intermediate_size", c.intermediate_size, kMaxWidth},
                   {"moe_intermediate_size", c.moe_intermediate_size, kMaxWidth},
                   {"num_hidden_layers", c.num_hidden_layers, kMaxLayers},
                   {"num_attention_heads", c.num_attention_heads, kMaxHeads},
                   {"num_key_value_heads", c.num_key_value_heads, kMaxHeads},
                   {"q_lora_rank", c.q_lora_rank, kMaxWidth}, {"kv_lora_rank", c.kv_lora_rank, kMaxWidth},
                   {"qk_nope_head_dim", c.qk_nope_head_dim, kMaxHeadDim},
                   {"qk_rope_head_dim", c.qk_rope_head_dim, kMaxHeadDim}, {"v_head_dim", c.v_head_dim, kMaxHeadDim},
                   {experts, c.n_routed_experts, kMaxExperts}, {"n_shared_experts", c.n_shared_experts, kMaxExperts},
                   {"first_k_dense_replace", c.first_k_dense_replace, kMaxLayers},
                   {"moe_layer_freq", c.moe_layer_freq, kMaxLayers},
                   {nextn, c.num_nextn_predict_layers, kMaxMtpLayers},
                   {"max_position_embeddings", c.max_position_embeddings, kMaxPositions}});
  const bool has_dense = c.first_k_dense_replace > 0 || c.moe_layer_freq > 1;
  if (has_dense && c.intermediate_size == 0) f.bad("intermediate_size", "must be positive (model has dense layers)");
  if (c.qk_rope_head_dim % 2 != 0) f.bad("qk_rope_head_dim", "must be even");
  if (c.n_routed_experts % c.n_group != 0)
    f.bad("n_group", "(" + std::to_string(c.n_group) + ") must divide n_routed_experts (" +
                         std::to_string(c.n_routed_experts) + ")");
  if (c.topk_group > c.n_group) f.bad("topk_group", "must be <= n_group");
  if (c.num_experts_per_tok > c.n_routed_experts) f.bad("num_experts_per_tok", "must be <= n_routed_experts");
  const uint64_t per_group = c.n_routed_experts / c.n_group;
  if (c.topk_method != fb::TopkMethod::Greedy && c.num_experts_per_tok > per_group * c.topk_group)
    f.bad("num_experts_per_tok", "exceeds the experts in topk_group groups");
  if (c.topk_method == fb::TopkMethod::NoauxTc && per_group < 2)
    f.bad("n_group", "leaves fewer than 2 experts per group (noaux_tc scores groups by their top 2)");
  if (!(c.rms_norm_eps > 0.0f)) f.bad("rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 0.0f) || !std::isfinite(c.rope_theta)) f.bad("rope_theta", "must be positive");
  if (c.rope_scaling.type == fb::RopeScalingType::Llama3)
    f.bad(f.has("rope_scaling") ? "rope_scaling" : "rope_parameters",
          "type llama3 is not supported for " + c.model_type);
  if (!std::isfinite(c.routed_scaling_factor) || !(c.routed_scaling_factor > 0.0f))
    f.bad("routed_scaling_factor", "must be positive");
}

}  // namespace

namespace detail {

void parse_rope(const json& root, const Fields& f, HfConfig& c) {
  c.rope_theta = f.f32("rope_theta", c.rope_theta);
  const char* key = f.has("rope_scaling") ? "rope_scaling" : f.has("rope_parameters") ? "rope_parameters" : nullptr;
  if (key == nullptr) return;
  const json& r = root.at(key);
  if (!r.is_object()) f.bad(key, "must be an object or null, got " + r.dump());
  const Fields rf(r, f.path(), std::string(key) + ".");
  if (f.has("rope_parameters")) {
    const Fields pf(root.at("rope_parameters"), f.path(), "rope_parameters.");
    c.rope_theta = pf.f32("rope_theta", c.rope_theta);
  }
  std::optional<std::string> type = rf.has("type") ? rf.str("type") : rf.str("rope_type");
  if (!type || *type == "default") return;
  if (*type == "llama3") {
    RopeScalingConfig& r = c.rope_scaling;
    r.type = fb::RopeScalingType::Llama3;
    r.factor = rf.f32("factor", 8.0f);
    r.low_freq_factor = rf.f32("low_freq_factor", 1.0f);
    r.high_freq_factor = rf.f32("high_freq_factor", 4.0f);
    r.original_max_position_embeddings = rf.u64("original_max_position_embeddings", c.max_position_embeddings);
    if (!(r.factor > 0.0f) || !std::isfinite(r.factor)) rf.bad("factor", "must be positive");
    if (!(r.high_freq_factor > r.low_freq_factor) || !(r.low_freq_factor > 0.0f))
      rf.bad("high_freq_factor", "must be > low_freq_factor > 0");
    if (r.original_max_position_embeddings == 0) rf.bad("original_max_position_embeddings", "must be positive");
    return;
  }
  if (*type != "yarn")
    fail("unsupported " + std::string(key) + " type '" + *type + "' in " + f.path() +
         " (supported: yarn, llama3)");
  RopeScalingConfig& y = c.rope_scaling;
  y.type = fb::RopeScalingType::Yarn;
  y.factor = rf.f32("factor", 1.0f);
  y.original_max_position_embeddings = rf.u64("original_max_position_embeddings", c.max_position_embeddings);
  y.beta_fast = rf.f32("beta_fast", 32.0f);
  y.beta_slow = rf.f32("beta_slow", 1.0f);
  y.mscale = rf.f32("mscale", 1.0f);
  y.mscale_all_dim = rf.f32("mscale_all_dim", 0.0f);
  y.truncate = rf.boolean("truncate", true);
  if (!(y.factor > 0.0f) || !std::isfinite(y.factor)) rf.bad("factor", "must be positive");
  if (y.original_max_position_embeddings == 0) rf.bad("original_max_position_embeddings", "must be positive");
}

void parse_mla_config(const json& root, const Fields& f, HfConfig& c, const MlaDefaults& defaults) {
  set_defaults(c, defaults);
  parse_dims(f, c);
  parse_moe(f, c);
  parse_rope(root, f, c);
  parse_tokens(f, c);
  validate(f, c);
}

void parse_tokens(const Fields& f, HfConfig& c) {
  if (const json* bos = f.get("bos_token_id"))
    c.bos_token_id = bos->is_null() ? -1 : int32_t(*f.opt_uint("bos_token_id", false, INT32_MAX));
  if (const json* eos = f.get("eos_token_id")) {
    c.eos_token_ids.clear();
    auto one = [&](const json& v) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
        f.bad("eos_token_id", "must be a token id or a list of token ids, got " + eos->dump());
      c.eos_token_ids.push_back(int32_t(v.get<int64_t>()));
    };
    if (eos->is_array()) for (const json& v : *eos) one(v);
    else if (!eos->is_null()) one(*eos);
  }
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", c.tie_word_embeddings);
  c.rms_norm_eps = f.f32("rms_norm_eps", c.rms_norm_eps);
}

}  // namespace detail

bool HfConfig::is_gqa() const {
  const ConverterFamily* family = find_converter_family(architecture);
  return family != nullptr && family->gqa;
}

bool HfConfig::is_dense() const {
  const ConverterFamily* family = find_converter_family(architecture);
  return family != nullptr && family->dense;
}

bool HfConfig::is_moe_layer(uint32_t layer) const {
  if (layer >= num_hidden_layers) return true;
  return layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
}

HfConfig parse_config(std::string_view json_text, const std::string& path) {
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    fail(path + ": invalid JSON: " + e.what());
  }
  if (!root.is_object()) fail(path + ": invalid config: the JSON root is not an object");
  const Fields f(root, path);
  HfConfig c;
  const auto model_type = f.str("model_type");
  if (!model_type) f.bad("model_type", "is missing (required)");
  c.model_type = *model_type;
  const ConverterFamily* family = find_converter_family(c.model_type);
  if (family == nullptr)
    fail("unsupported architecture '" + c.model_type + "' in " + path + " (supported: " + supported_model_types() +
         ")");
  c.architecture = family->architecture;
  family->parse_config(root, f, c);
  return c;
}

HfConfig load_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path + ": " + (std::filesystem::exists(path) ? "permission denied or not a file" : "no such file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

flatbuffers::Offset<fb::ModelConfig> build_model_config(flatbuffers::FlatBufferBuilder& b,
                                                        const HfConfig& c, uint32_t nextn_layers) {
  const RopeScalingConfig& r = c.rope_scaling;
  auto rope = fb::CreateRopeScaling(b, r.type, r.factor, r.original_max_position_embeddings, r.beta_fast,
                                    r.beta_slow, r.mscale, r.mscale_all_dim, r.low_freq_factor, r.high_freq_factor,
                                    r.truncate);
  auto model_type = b.CreateString(c.model_type);
  auto eos = b.CreateVector(c.eos_token_ids);
  auto sliding = c.layer_sliding.empty() ? 0 : b.CreateVector(c.layer_sliding);
  return fb::CreateModelConfig(
      b, c.architecture, model_type, c.vocab_size, c.hidden_size, c.intermediate_size,
      c.moe_intermediate_size, c.num_hidden_layers, nextn_layers, c.num_attention_heads,
      c.num_key_value_heads, c.q_lora_rank, c.kv_lora_rank, c.qk_nope_head_dim, c.qk_rope_head_dim,
      c.v_head_dim, c.n_routed_experts, c.n_shared_experts, c.num_experts_per_tok,
      c.first_k_dense_replace, c.moe_layer_freq, c.n_group, c.topk_group, c.topk_method,
      c.scoring_func, c.norm_topk_prob, c.routed_scaling_factor, c.rms_norm_eps, c.rope_theta, rope,
      c.max_position_embeddings, c.bos_token_id, eos, c.tie_word_embeddings, c.head_dim,
      c.sliding_window, c.qk_norm, c.attention_bias, c.shared_expert_intermediate_size, c.swiglu_limit, sliding);
}

}  // namespace mote::convert
