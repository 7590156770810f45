// OLMoE (transformers' OlmoeConfig / modeling_olmoe.py): model_type "olmoe".
// Config: num_experts, the per-expert width is intermediate_size, head_dim = hidden_size /
// num_attention_heads (no key), num_key_value_heads defaults to num_attention_heads, q/k
// RMS-normalised over the whole projection (QkNorm::Full); clip_qkv and attention_bias refused.
// Tensors: mlp.gate, mlp.experts.E.{gate,up,down}_proj, q_norm / k_norm [n_heads*head_dim] /
// [n_kv_heads*head_dim].
#include "arch/family.h"
#include "arch/gqa.h"

namespace mote::convert {
namespace {

using detail::Fields;

void refuse_olmoe(const Fields& f, const HfConfig& c) {
  detail::refuse_attention_bias(f, c);
  if (f.has("clip_qkv")) f.bad("clip_qkv", "is set: OLMoE's q/k/v clipping is not supported yet");
}

void validate_olmoe(const Fields& f, const HfConfig& c) {
  if (c.hidden_size % c.num_attention_heads != 0)
    f.bad("num_attention_heads", "must divide hidden_size (OLMoE's head_dim is hidden_size / num_attention_heads)");
}

constexpr detail::GqaFamilyTraits kTraits{
    .defaults = {50304, 2048, 16, 16, 16, 64, 8, 2048, 0, 0, 10000.0f, 1e-5f, 4096, -1, 50279},
    .kv_heads_follow_heads = true,
    .head_dim_is_split = true,
    .qk_norm = fb::QkNorm::Full,
    .refuse = refuse_olmoe,
    .validate = validate_olmoe,
};

constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj"};

}  // namespace

extern const ConverterFamily kOlmoeConverter = {
    .architecture = fb::Architecture::Olmoe,
    .model_type = "olmoe",
    .gqa = true,
    .dense = false,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const Fields& f, HfConfig& c) { detail::parse_gqa_config(root, f, c, kTraits); },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kNames); },
};

}  // namespace mote::convert
