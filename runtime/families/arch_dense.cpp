// The dense Llama and Qwen2 (the DeepSeek-R1 distills): grouped-query attention (Qwen2 with q/k/v
// biases, from the file's attention_bias), one SwiGLU FFN per layer (first_k_dense_replace =
// num_hidden_layers, no routed experts), Llama-3 RoPE scaling where configured. No hook.
#include "model/family.h"

namespace mote {

extern const FamilySpec kLlamaFamily = {
    .arch = Arch::kLlama,
    .file_arch = fb::Architecture::Llama,
    .name = "llama",
    .attention = AttentionKind::kGqa,
    .rope = RopeStyle::kHalf,
    .experts = ExpertKind::kSwiglu,
    .has_mtp_module = false,
    .read_hparams = nullptr,
    .bind_attention_extras = nullptr,
    .bind_expert_extras = nullptr,
    .own_forward = nullptr,
};

extern const FamilySpec kQwen2Family = {
    .arch = Arch::kQwen2,
    .file_arch = fb::Architecture::Qwen2,
    .name = "qwen2",
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
