// config.json of the grouped-query-attention families -> HfConfig: the parsing they share. What
// one family changes (defaults, key spellings, its own keys and refusals) comes in its
// GqaFamilyTraits from its file in converter/arch/ (mixtral.cpp, qwen_moe.cpp, olmoe.cpp,
// dense.cpp, gpt_oss.cpp).
//
// Every MoE family maps onto the generic fields: routed experts -> n_routed_experts, the
// per-expert width -> moe_intermediate_size (Mixtral and OLMoE call it intermediate_size),
// softmax scoring with greedy top-k over all experts (n_group = topk_group = 1,
// routed_scaling_factor 1), every layer MoE (first_k_dense_replace 0, moe_layer_freq 1). The
// dense Llama and Qwen2 (the DeepSeek-R1 distills) have no experts: intermediate_size is their
// FFN width and first_k_dense_replace = num_hidden_layers. Absent keys take the defaults of the
// transformers config class (checked against transformers 5.23). What the runtime does not
// implement yet is refused with a message naming the key: YaRN variants other than HF's default
// (refuse_yarn_variants), Llama-3 scaling outside Llama and Qwen2, Qwen's per-layer sliding
// window, decoder_sparse_step != 1 / mlp_only_layers, OLMoE clip_qkv, attention_bias where it
// would add an o_proj bias, Llama's mlp_bias.
#include <cmath>
#include <string_view>

#include "hf/config_fields.h"

namespace mote::convert::detail {
namespace {

void apply_defaults(HfConfig& c, const FamilyDefaults& d) {
  c.vocab_size = d.vocab;
  c.hidden_size = d.hidden;
  c.num_hidden_layers = d.layers;
  c.num_attention_heads = d.heads;
  c.n_routed_experts = d.experts;
  c.num_experts_per_tok = d.top_k;
  c.moe_intermediate_size = d.expert_width;
  c.intermediate_size = d.intermediate;
  c.shared_expert_intermediate_size = d.shared_width;
  c.rope_theta = d.rope_theta;
  c.rms_norm_eps = d.eps;
  c.max_position_embeddings = d.max_position;
  c.bos_token_id = d.bos;
  c.eos_token_ids.clear();
  if (d.eos >= 0) c.eos_token_ids.push_back(d.eos);
  // The generic router and layer pattern (softmax, top-k over all experts, scale 1).
  c.topk_method = fb::TopkMethod::Greedy;
  c.scoring_func = fb::ScoringFunc::Softmax;
  c.n_group = c.topk_group = 1;
  c.routed_scaling_factor = 1.0f;
  c.first_k_dense_replace = 0;
  c.moe_layer_freq = 1;
}

// The expert count: released configs say num_local_experts (Mixtral, gpt-oss) or num_experts
// (Qwen, OLMoE); transformers 5 writes num_local_experts for Qwen3-MoE too, and every class maps
// one spelling onto the other (attribute_map), so either is accepted for every family.
const char* experts_key(const Fields& f, const GqaFamilyTraits& t) {
  return t.local_experts_key ? f.pick({"num_local_experts", "num_experts"}) : f.pick({"num_experts", "num_local_experts"});
}

void parse_family_keys(const Fields& f, HfConfig& c, const GqaFamilyTraits& t) {
  const FamilyDefaults& d = t.defaults;
  c.vocab_size = f.u32("vocab_size", c.vocab_size);
  c.hidden_size = f.u32("hidden_size", c.hidden_size);
  c.num_hidden_layers = f.u32("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = f.u32("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = f.u32("num_key_value_heads", t.kv_heads_follow_heads ? c.num_attention_heads : d.kv_heads, true);
  const uint32_t even_split = c.num_attention_heads ? c.hidden_size / c.num_attention_heads : 0;
  c.head_dim = t.head_dim_is_split ? even_split
                                   : f.u32("head_dim", t.default_head_dim != 0 ? t.default_head_dim : even_split, true);
  c.max_position_embeddings = f.u64("max_position_embeddings", c.max_position_embeddings);
  if (auto act = f.str("hidden_act"); act && *act != "silu")
    f.bad("hidden_act", "has unsupported value '" + *act + "' (supported: silu)");
  if (t.dense) {
    c.intermediate_size = f.u32("intermediate_size", c.intermediate_size);
    c.first_k_dense_replace = c.num_hidden_layers;  // no MoE layer
  } else {
    c.num_experts_per_tok = f.u32("num_experts_per_tok", c.num_experts_per_tok);
    if (std::string_view(t.expert_width_key) != "intermediate_size")
      c.intermediate_size = f.u32("intermediate_size", c.intermediate_size);
    c.moe_intermediate_size = f.u32(t.expert_width_key, c.moe_intermediate_size);
    c.experts_key = experts_key(f, t);
    c.n_routed_experts = f.u32(c.experts_key.c_str(), c.n_routed_experts);
    // Mixtral always renormalises its top-2 (no key); the others read norm_topk_prob (default false).
    c.norm_topk_prob = t.always_renormalise ? true : f.boolean("norm_topk_prob", false);
    c.qk_norm = t.qk_norm;
  }
  if (t.parse_keys != nullptr) t.parse_keys(f, c);
}

// Keys whose non-default values the runtime does not implement yet: the family's own refusals,
// then rope scaling other than YaRN (and Llama-3 where the family supports it).
void refuse_unsupported(const Fields& f, const HfConfig& c, const GqaFamilyTraits& t) {
  if (t.refuse != nullptr) t.refuse(f, c);
  const bool llama3_ok = t.llama3_rope && c.rope_scaling.type == fb::RopeScalingType::Llama3;
  const bool yarn_ok = c.rope_scaling.type == fb::RopeScalingType::Yarn;
  if (c.rope_scaling.type != fb::RopeScalingType::None && !llama3_ok && !yarn_ok)
    f.bad(f.has("rope_scaling") ? "rope_scaling" : "rope_parameters",
          "is set: this rope scaling is not supported for " + c.model_type + " yet");
}

// YaRN as HF's generic _compute_yarn_parameters does it for these families (cos/sin multiplier
// get_mscale(factor), correction range floored/ceiled) is what the runtime computes; the variants
// it does not are refused: an explicit attention_factor, truncate = false (gpt-oss style).
void refuse_yarn_variants(const json& root, const Fields& f, const HfConfig& c, const GqaFamilyTraits& t) {
  if (c.rope_scaling.type != fb::RopeScalingType::Yarn) return;
  const char* key = f.has("rope_scaling") ? "rope_scaling" : "rope_parameters";
  const json& r = root.at(key);
  if (r.contains("attention_factor") && !r["attention_factor"].is_null())
    f.bad(key, "has attention_factor: an explicit YaRN attention factor is not supported yet");
  if (!t.yarn_untruncated && r.contains("truncate") && r["truncate"].is_boolean() &&
      !r["truncate"].get<bool>())
    f.bad(key, "has truncate = false: YaRN without a truncated correction range is not supported yet");
}

// The FFN sizes: the dense width, or the experts of an MoE family.
void validate_ffn(const Fields& f, const HfConfig& c, const GqaFamilyTraits& t) {
  if (t.dense) {
    if (c.intermediate_size == 0) f.bad("intermediate_size", "must be positive");
    return;
  }
  const std::pair<const char*, uint64_t> positive[] = {
      {t.expert_width_key, c.moe_intermediate_size},
      {experts_key(f, t), c.n_routed_experts},
      {"num_experts_per_tok", c.num_experts_per_tok}};
  for (const auto& [name, value] : positive)
    if (value == 0) f.bad(name, f.has(name) ? "must be positive" : "is missing (required)");
  if (c.num_experts_per_tok > c.n_routed_experts) f.bad("num_experts_per_tok", "must be <= the number of experts");
}

void validate_gqa(const Fields& f, const HfConfig& c, const GqaFamilyTraits& t) {
  const std::pair<const char*, uint64_t> positive[] = {
      {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_position_embeddings}};
  for (const auto& [name, value] : positive)
    if (value == 0) f.bad(name, f.has(name) ? "must be positive" : "is missing (required)");
  validate_ffn(f, c, t);
  check_bounds(f, {{"vocab_size", c.vocab_size, kMaxWidth}, {"hidden_size", c.hidden_size, kMaxWidth},
                   {"head_dim", c.head_dim, kMaxHeadDim}, {"num_hidden_layers", c.num_hidden_layers, kMaxLayers},
                   {"num_attention_heads", c.num_attention_heads, kMaxHeads},
                   {"num_key_value_heads", c.num_key_value_heads, kMaxHeads},
                   {"intermediate_size", c.intermediate_size, kMaxWidth},
                   {"moe_intermediate_size", c.moe_intermediate_size, kMaxWidth},
                   {t.dense ? "num_experts" : experts_key(f, t), c.n_routed_experts, kMaxExperts},
                   {"shared_expert_intermediate_size", c.shared_expert_intermediate_size, kMaxWidth},
                   {"max_position_embeddings", c.max_position_embeddings, kMaxPositions}});
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.bad("num_key_value_heads", "(" + std::to_string(c.num_key_value_heads) + ") must divide num_attention_heads (" +
                                     std::to_string(c.num_attention_heads) + ")");
  if (c.head_dim % 2 != 0) f.bad("head_dim", "must be even (RoPE rotates pairs)");
  if (t.validate != nullptr) t.validate(f, c);
  if (!(c.rms_norm_eps > 0.0f)) f.bad("rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 1.0f) || !std::isfinite(c.rope_theta)) f.bad("rope_theta", "must be > 1");
}

}  // namespace

void refuse_qwen_layer_variants(const Fields& f) {
  if (f.boolean("use_sliding_window", false))
    f.bad("use_sliding_window", "is true: Qwen's per-layer sliding window is not supported yet");
  if (f.u32("decoder_sparse_step", 1, true) > 1)
    f.bad("decoder_sparse_step", "> 1 (dense layers between MoE layers) is not supported yet");
  // transformers 5 writes layer_types (all "full_attention" unless use_sliding_window).
  if (const json* types = f.get("layer_types"); types && types->is_array())
    for (const json& t : *types)
      if (t != "full_attention")
        f.bad("layer_types", "has " + t.dump() + ": Qwen's per-layer sliding window is not supported yet");
  if (const json* mlp_only = f.get("mlp_only_layers"); mlp_only && !mlp_only->is_null() &&
                                                       !(mlp_only->is_array() && mlp_only->empty()))
    f.bad("mlp_only_layers", "is not empty: dense layers in a Qwen MoE model are not supported yet");
}

void refuse_attention_bias(const Fields& f, const HfConfig& c) {
  if (f.boolean("attention_bias", false))
    f.bad("attention_bias", "is true: attention biases are not supported for " + c.model_type);
}

void parse_gqa_config(const json& root, const Fields& f, HfConfig& c, const GqaFamilyTraits& t) {
  apply_defaults(c, t.defaults);
  parse_family_keys(f, c, t);
  parse_rope(root, f, c);
  parse_tokens(f, c);
  refuse_unsupported(f, c, t);
  refuse_yarn_variants(root, f, c, t);
  validate_gqa(f, c, t);
}

}  // namespace mote::convert::detail
