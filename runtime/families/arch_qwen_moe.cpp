// Qwen2-MoE and Qwen3-MoE: grouped-query attention and softmax routing over SwiGLU experts.
// Qwen2-MoE has q/k/v biases (the file's attention_bias) and one shared expert scaled per token by
// sigmoid(shared_expert_gate . x) (transformers' modeling_qwen2_moe.py): its read_hparams marks
// the shared expert as gated, which makes model/weights.cpp bind it into FfnWeights::gated_shared
// with its gate. Qwen3-MoE has per-head q/k norms (the file's qk_norm) and no shared expert.
#include "model/family.h"

namespace mote {
namespace {

Status read_qwen2_moe_hparams(const fb::ModelConfig& /*config*/, HParams* hp) {
  hp->shared_expert_gated = hp->n_shared_experts > 0;
  return Status::ok();
}

}  // namespace

extern const FamilySpec kQwen2MoeFamily = {
    .arch = Arch::kQwen2Moe,
    .file_arch = fb::Architecture::Qwen2Moe,
    .name = "qwen2_moe",
    .attention = AttentionKind::kGqa,
    .rope = RopeStyle::kHalf,
    .experts = ExpertKind::kSwiglu,
    .has_mtp_module = false,
    .read_hparams = read_qwen2_moe_hparams,
    .bind_attention_extras = nullptr,
    .bind_expert_extras = nullptr,
    .own_forward = nullptr,
};

extern const FamilySpec kQwen3MoeFamily = {
    .arch = Arch::kQwen3Moe,
    .file_arch = fb::Architecture::Qwen3Moe,
    .name = "qwen3_moe",
    .attention = AttentionKind::kGqa,
    .rope = RopeStyle::kHalf,
    .experts = ExpertKind::kSwiglu,
    .has_mtp_module = false,
    .read_hparams = nullptr,
    .bind_attention_extras = nullptr,
    .bind_expert_extras = nullptr,
    .own_forward = nullptr,
};

}  // namespace mote
