// Dense Llama and Qwen2 (the DeepSeek-R1 distills; transformers' LlamaConfig / Qwen2Config):
// model_type "llama", "qwen2". Config: intermediate_size is the FFN width, no experts
// (first_k_dense_replace = num_hidden_layers), Llama-3 rope scaling supported. Qwen2's q/k/v
// always have biases and it refuses Qwen's per-layer sliding window; Llama refuses
// attention_bias and mlp_bias.
// Tensors: self_attn.{q,k,v,o}_proj (Qwen2 with q/k/v biases) and one mlp.{gate,up,down}_proj
// per layer, no router and no experts.
#include "arch/family.h"
#include "arch/gqa.h"

namespace mote::convert {
namespace {

using detail::Fields;

void refuse_llama(const Fields& f, const HfConfig& c) {
  detail::refuse_attention_bias(f, c);
  if (f.boolean("mlp_bias", false)) f.bad("mlp_bias", "is true: MLP biases are not supported");
}

constexpr detail::GqaFamilyTraits kLlamaTraits{
    .defaults = {32000, 4096, 32, 32, 32, 0, 0, 0, 11008, 0, 10000.0f, 1e-6f, 2048, 1, 2},
    .dense = true,
    .llama3_rope = true,
    .refuse = refuse_llama,
};

constexpr detail::GqaFamilyTraits kQwen2Traits{
    .defaults = {151936, 4096, 32, 32, 32, 0, 0, 0, 22016, 0, 10000.0f, 1e-6f, 32768, -1, -1},
    .dense = true,
    .llama3_rope = true,
    .parse_keys = [](const Fields&, HfConfig& c) { c.attention_bias = true; },  // q/k/v always biased
    .refuse = [](const Fields& f, const HfConfig&) { detail::refuse_qwen_layer_variants(f); },
};

// The MoE names are never used: config.is_moe_layer() is false for every layer.
constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj"};

}  // namespace

extern const ConverterFamily kLlamaConverter = {
    .architecture = fb::Architecture::Llama,
    .model_type = "llama",
    .gqa = true,
    .dense = true,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const Fields& f, HfConfig& c) {
      detail::parse_gqa_config(root, f, c, kLlamaTraits);
    },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kNames); },
};

extern const ConverterFamily kQwen2Converter = {
    .architecture = fb::Architecture::Qwen2,
    .model_type = "qwen2",
    .gqa = true,
    .dense = true,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const Fields& f, HfConfig& c) {
      detail::parse_gqa_config(root, f, c, kQwen2Traits);
    },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kNames); },
};

}  // namespace mote::convert
