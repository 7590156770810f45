// config.json of the grouped-query-attention families -> HfConfig (gpt-oss: parse_gpt_oss_keys).
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

#include "hf/config_fields.h"

namespace mote::convert::detail {
namespace {

using A = fb::Architecture;

// transformers' defaults for the keys every family has.
struct FamilyDefaults {
  uint32_t vocab, hidden, layers, heads, kv_heads, experts, top_k;
  uint32_t expert_width;      // intermediate_size (Mixtral, OLMoE) or moe_intermediate_size (Qwen)
  uint32_t intermediate;      // Qwen: the dense width (unused while every layer is MoE)
  uint32_t shared_width;      // Qwen2-MoE shared_expert_intermediate_size
  float rope_theta, eps;
  uint64_t max_position;
  int32_t bos, eos;           // -1 = none
};

FamilyDefaults defaults_for(A arch) {
  switch (arch) {
    case A::Mixtral: return {32000, 4096, 32, 32, 8, 8, 2, 14336, 0, 0, 1e6f, 1e-5f, 131072, 1, 2};
    case A::Qwen2Moe: return {151936, 2048, 24, 16, 16, 60, 4, 1408, 5632, 5632, 10000.0f, 1e-6f, 32768, -1, -1};
    case A::Qwen3Moe: return {151936, 2048, 24, 32, 4, 128, 8, 768, 6144, 0, 10000.0f, 1e-6f, 32768, -1, -1};
    case A::Llama: return {32000, 4096, 32, 32, 32, 0, 0, 0, 11008, 0, 10000.0f, 1e-6f, 2048, 1, 2};
    case A::Qwen2: return {151936, 4096, 32, 32, 32, 0, 0, 0, 22016, 0, 10000.0f, 1e-6f, 32768, -1, -1};
    case A::GptOss: return {201088, 2880, 36, 64, 8, 128, 4, 2880, 0, 0, 150000.0f, 1e-5f, 131072, -1, 200002};
    default: return {50304, 2048, 16, 16, 16, 64, 8, 2048, 0, 0, 10000.0f, 1e-5f, 4096, -1, 50279};  // Olmoe
  }
}

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

// gpt-oss: softmax over the selected biased logits, biases on every
// projection, the clamped SwiGLU, per-layer sliding window from layer_types (default: even
// layers sliding, as transformers' GptOssConfig).
void parse_gpt_oss_keys(const Fields& f, HfConfig& c) {
  c.scoring_func = fb::ScoringFunc::SoftmaxTopk;
  c.norm_topk_prob = false;
  c.attention_bias = f.boolean("attention_bias", true);
  if (!c.attention_bias) f.bad("attention_bias", "is false: gpt-oss without attention biases is not supported");
  c.swiglu_limit = f.f32("swiglu_limit", 7.0f);
  if (!(c.swiglu_limit > 0.0f) || !std::isfinite(c.swiglu_limit)) f.bad("swiglu_limit", "must be positive");
  // transformers 5 writes swiglu_alpha; the runtime's clamped SwiGLU has alpha 1.702 built in.
  if (const float alpha = f.f32("swiglu_alpha", 1.702f); alpha != 1.702f)
    f.bad("swiglu_alpha", "is " + std::to_string(alpha) + ": only gpt-oss's 1.702 is supported");
  c.sliding_window = f.u32("sliding_window", 128, true);
  check_bounds(f, {{"num_hidden_layers", c.num_hidden_layers, kMaxLayers}});  // before the per-layer list
  c.layer_sliding.assign(c.num_hidden_layers, 0);
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) c.layer_sliding[l] = l % 2 == 0;
  const json* types = f.get("layer_types");
  if (types == nullptr || types->is_null()) return;
  if (!types->is_array() || types->size() != c.num_hidden_layers)
    f.bad("layer_types", "must be a list of num_hidden_layers (" + std::to_string(c.num_hidden_layers) + ") entries");
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    const json& t = (*types)[l];
    if (t == "sliding_attention") c.layer_sliding[l] = 1;
    else if (t == "full_attention") c.layer_sliding[l] = 0;
    else f.bad("layer_types", "entry " + std::to_string(l) + " is " + t.dump() + " (expected sliding_attention or full_attention)");
  }
}

// The expert count: released configs say num_local_experts (Mixtral, gpt-oss) or num_experts
// (Qwen, OLMoE); transformers 5 writes num_local_experts for Qwen3-MoE too, and every class maps
// one spelling onto the other (attribute_map), so either is accepted for every family.
const char* experts_key(const Fields& f, A arch) {
  const bool local = arch == A::Mixtral || arch == A::GptOss;
  return local ? f.pick({"num_local_experts", "num_experts"}) : f.pick({"num_experts", "num_local_experts"});
}

void parse_family_keys(const Fields& f, HfConfig& c, const FamilyDefaults& d) {
  const A arch = c.architecture;
  const bool qwen = arch == A::Qwen2Moe || arch == A::Qwen3Moe;
  const bool dense = c.is_dense();
  c.vocab_size = f.u32("vocab_size", c.vocab_size);
  c.hidden_size = f.u32("hidden_size", c.hidden_size);
  c.num_hidden_layers = f.u32("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = f.u32("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = f.u32("num_key_value_heads", arch == A::Olmoe ? c.num_attention_heads : d.kv_heads, true);
  const uint32_t even_split = c.num_attention_heads ? c.hidden_size / c.num_attention_heads : 0;
  // gpt-oss: head_dim 64 by default (transformers' GptOssConfig), not hidden / heads (2880 / 64).
  c.head_dim = arch == A::Olmoe ? even_split : f.u32("head_dim", arch == A::GptOss ? 64 : even_split, true);
  c.max_position_embeddings = f.u64("max_position_embeddings", c.max_position_embeddings);
  if (auto act = f.str("hidden_act"); act && *act != "silu")
    f.bad("hidden_act", "has unsupported value '" + *act + "' (supported: silu)");
  if (dense) {
    c.intermediate_size = f.u32("intermediate_size", c.intermediate_size);
    c.first_k_dense_replace = c.num_hidden_layers;  // no MoE layer
    c.attention_bias = arch == A::Qwen2;            // Qwen2's q/k/v always have biases
    return;
  }
  c.num_experts_per_tok = f.u32("num_experts_per_tok", c.num_experts_per_tok);
  if (qwen) {
    c.intermediate_size = f.u32("intermediate_size", c.intermediate_size);
    c.moe_intermediate_size = f.u32("moe_intermediate_size", c.moe_intermediate_size);
  } else {
    c.moe_intermediate_size = f.u32("intermediate_size", c.moe_intermediate_size);
  }
  c.experts_key = experts_key(f, arch);
  c.n_routed_experts = f.u32(c.experts_key.c_str(), c.n_routed_experts);
  // Mixtral always renormalises its top-2 (no key); the others read norm_topk_prob (default false).
  c.norm_topk_prob = arch == A::Mixtral ? true : f.boolean("norm_topk_prob", false);
  if (arch == A::GptOss) parse_gpt_oss_keys(f, c);
  if (arch == A::Qwen2Moe) {
    c.shared_expert_intermediate_size = f.u32("shared_expert_intermediate_size", c.shared_expert_intermediate_size);
    c.n_shared_experts = c.shared_expert_intermediate_size > 0 ? 1 : 0;
    c.attention_bias = f.boolean("qkv_bias", true);
  }
  c.qk_norm = arch == A::Qwen3Moe ? fb::QkNorm::PerHead : arch == A::Olmoe ? fb::QkNorm::Full : fb::QkNorm::None;
}

// Keys whose non-default values the runtime does not implement yet.
void refuse_unsupported(const Fields& f, const HfConfig& c) {
  const A arch = c.architecture;
  if (arch == A::Qwen2Moe || arch == A::Qwen3Moe || arch == A::Qwen2) {
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
  if ((arch == A::Qwen3Moe || arch == A::Olmoe || arch == A::Llama) && f.boolean("attention_bias", false))
    f.bad("attention_bias", "is true: attention biases are not supported for " + c.model_type);
  if (arch == A::Llama && f.boolean("mlp_bias", false)) f.bad("mlp_bias", "is true: MLP biases are not supported");
  if (arch == A::Olmoe && f.has("clip_qkv")) f.bad("clip_qkv", "is set: OLMoE's q/k/v clipping is not supported yet");
  const bool llama3_ok = c.is_dense() && c.rope_scaling.type == fb::RopeScalingType::Llama3;
  const bool yarn_ok = c.rope_scaling.type == fb::RopeScalingType::Yarn;
  if (c.rope_scaling.type != fb::RopeScalingType::None && !llama3_ok && !yarn_ok)
    f.bad(f.has("rope_scaling") ? "rope_scaling" : "rope_parameters",
          "is set: this rope scaling is not supported for " + c.model_type + " yet");
}

// YaRN as HF's generic _compute_yarn_parameters does it for these families (cos/sin multiplier
// get_mscale(factor), correction range floored/ceiled) is what the runtime computes; the variants
// it does not are refused: an explicit attention_factor, truncate = false (gpt-oss style).
void refuse_yarn_variants(const json& root, const Fields& f, const HfConfig& c) {
  if (c.rope_scaling.type != fb::RopeScalingType::Yarn) return;
  const char* key = f.has("rope_scaling") ? "rope_scaling" : "rope_parameters";
  const json& r = root.at(key);
  if (r.contains("attention_factor") && !r["attention_factor"].is_null())
    f.bad(key, "has attention_factor: an explicit YaRN attention factor is not supported yet");
  if (c.architecture != A::GptOss && r.contains("truncate") && r["truncate"].is_boolean() &&
      !r["truncate"].get<bool>())
    f.bad(key, "has truncate = false: YaRN without a truncated correction range is not supported yet");
}

// The FFN sizes: the dense width, or the experts of an MoE family.
void validate_ffn(const Fields& f, const HfConfig& c) {
  if (c.is_dense()) {
    if (c.intermediate_size == 0) f.bad("intermediate_size", "must be positive");
    return;
  }
  const std::pair<const char*, uint64_t> positive[] = {
      {c.architecture == A::Mixtral || c.architecture == A::Olmoe || c.architecture == A::GptOss
           ? "intermediate_size" : "moe_intermediate_size",
       c.moe_intermediate_size},
      {experts_key(f, c.architecture), c.n_routed_experts},
      {"num_experts_per_tok", c.num_experts_per_tok}};
  for (const auto& [name, value] : positive)
    if (value == 0) f.bad(name, f.has(name) ? "must be positive" : "is missing (required)");
  if (c.num_experts_per_tok > c.n_routed_experts) f.bad("num_experts_per_tok", "must be <= the number of experts");
}

void validate_gqa(const Fields& f, const HfConfig& c) {
  const std::pair<const char*, uint64_t> positive[] = {
      {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_position_embeddings}};
  for (const auto& [name, value] : positive)
    if (value == 0) f.bad(name, f.has(name) ? "must be positive" : "is missing (required)");
  validate_ffn(f, c);
  check_bounds(f, {{"vocab_size", c.vocab_size, kMaxWidth}, {"hidden_size", c.hidden_size, kMaxWidth},
                   {"head_dim", c.head_dim, kMaxHeadDim}, {"num_hidden_layers", c.num_hidden_layers, kMaxLayers},
                   {"num_attention_heads", c.num_attention_heads, kMaxHeads},
                   {"num_key_value_heads", c.num_key_value_heads, kMaxHeads},
                   {"intermediate_size", c.intermediate_size, kMaxWidth},
                   {"moe_intermediate_size", c.moe_intermediate_size, kMaxWidth},
                   {c.is_dense() ? "num_experts" : experts_key(f, c.architecture), c.n_routed_experts, kMaxExperts},
                   {"shared_expert_intermediate_size", c.shared_expert_intermediate_size, kMaxWidth},
                   {"max_position_embeddings", c.max_position_embeddings, kMaxPositions}});
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.bad("num_key_value_heads", "(" + std::to_string(c.num_key_value_heads) + ") must divide num_attention_heads (" +
                                     std::to_string(c.num_attention_heads) + ")");
  if (c.head_dim % 2 != 0) f.bad("head_dim", "must be even (RoPE rotates pairs)");
  if (c.architecture == A::Olmoe && c.hidden_size % c.num_attention_heads != 0)
    f.bad("num_attention_heads", "must divide hidden_size (OLMoE's head_dim is hidden_size / num_attention_heads)");
  if (!(c.rms_norm_eps > 0.0f)) f.bad("rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 1.0f) || !std::isfinite(c.rope_theta)) f.bad("rope_theta", "must be > 1");
}

}  // namespace

void parse_gqa_config(const json& root, const Fields& f, HfConfig& c) {
  const FamilyDefaults d = defaults_for(c.architecture);
  apply_defaults(c, d);
  parse_family_keys(f, c, d);
  // Mixtral's sliding_window applies to every layer when set (null = full attention).
  if (c.architecture == A::Mixtral) c.sliding_window = f.u32("sliding_window", 0, true);
  // gpt-oss MXFP4 experts: whole 32-blocks along both input widths (hidden, intermediate).
  if (c.architecture == A::GptOss && (c.hidden_size % 32 != 0 || c.moe_intermediate_size % 32 != 0))
    f.bad("hidden_size", "and intermediate_size must be multiples of 32 (MXFP4 blocks) for gpt_oss");
  parse_rope(root, f, c);
  parse_tokens(f, c);
  refuse_unsupported(f, c);
  refuse_yarn_variants(root, f, c);
  validate_gqa(f, c);
}

}  // namespace mote::convert::detail
