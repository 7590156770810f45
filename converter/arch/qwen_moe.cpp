// Qwen2-MoE and Qwen3-MoE (transformers' Qwen2MoeConfig / Qwen3MoeConfig): model_type
// "qwen2_moe", "qwen3_moe".
// Config: num_experts, moe_intermediate_size per expert (intermediate_size is the dense width),
// norm_topk_prob. Qwen2-MoE: q/k/v biases (qkv_bias, default true) and one shared expert of
// shared_expert_intermediate_size with a sigmoid gate. Qwen3-MoE: per-head q/k norms
// (QkNorm::PerHead), attention_bias refused. Both refuse Qwen's per-layer sliding window,
// decoder_sparse_step > 1 and mlp_only_layers.
// Tensors: mlp.gate, mlp.experts.E.{gate,up,down}_proj; Qwen2-MoE mlp.shared_expert.* and
// mlp.shared_expert_gate; Qwen3-MoE q_norm / k_norm [head_dim].
#include "arch/family.h"
#include "arch/gqa.h"

namespace mote::convert {
namespace {

using detail::Fields;

void parse_qwen2_moe_keys(const Fields& f, HfConfig& c) {
  c.shared_expert_intermediate_size = f.u32("shared_expert_intermediate_size", c.shared_expert_intermediate_size);
  c.n_shared_experts = c.shared_expert_intermediate_size > 0 ? 1 : 0;
  c.attention_bias = f.boolean("qkv_bias", true);
}

void refuse_qwen3_moe(const Fields& f, const HfConfig& c) {
  detail::refuse_qwen_layer_variants(f);
  detail::refuse_attention_bias(f, c);
}

constexpr detail::GqaFamilyTraits kQwen2MoeTraits{
    .defaults = {151936, 2048, 24, 16, 16, 60, 4, 1408, 5632, 5632, 10000.0f, 1e-6f, 32768, -1, -1},
    .expert_width_key = "moe_intermediate_size",
    .parse_keys = parse_qwen2_moe_keys,
    .refuse = [](const Fields& f, const HfConfig&) { detail::refuse_qwen_layer_variants(f); },
};

constexpr detail::GqaFamilyTraits kQwen3MoeTraits{
    .defaults = {151936, 2048, 24, 32, 4, 128, 8, 768, 6144, 0, 10000.0f, 1e-6f, 32768, -1, -1},
    .expert_width_key = "moe_intermediate_size",
    .qk_norm = fb::QkNorm::PerHead,
    .refuse = refuse_qwen3_moe,
};

constexpr GqaNaming kQwen2MoeNames{"mlp.", "gate_proj", "up_proj", "down_proj", "gate", "mlp.shared_expert"};
constexpr GqaNaming kQwen3MoeNames{"mlp.", "gate_proj", "up_proj", "down_proj"};

}  // namespace

extern const ConverterFamily kQwen2MoeConverter = {
    .architecture = fb::Architecture::Qwen2Moe,
    .model_type = "qwen2_moe",
    .gqa = true,
    .dense = false,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const Fields& f, HfConfig& c) {
      detail::parse_gqa_config(root, f, c, kQwen2MoeTraits);
    },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kQwen2MoeNames); },
};

extern const ConverterFamily kQwen3MoeConverter = {
    .architecture = fb::Architecture::Qwen3Moe,
    .model_type = "qwen3_moe",
    .gqa = true,
    .dense = false,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const Fields& f, HfConfig& c) {
      detail::parse_gqa_config(root, f, c, kQwen3MoeTraits);
    },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kQwen3MoeNames); },
};

}  // namespace mote::convert
