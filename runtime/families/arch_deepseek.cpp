// DeepSeek-V3 (and R1) and DeepSeek-V2 / V2-Lite: multi-head latent attention with interleaved
// RoPE on the qk_rope_head_dim part, SwiGLU experts with shared experts, the first
// first_k_dense_replace layers dense. V3 routes with noaux_tc (sigmoid scores plus
// e_score_correction_bias) and may carry the MTP module; V2 routes with greedy or
// group_limited_greedy softmax. Every difference is in the config (router fields, q-LoRA), so
// neither needs a hook: the shared HParams reader and tensor binding cover both.
#include "model/family.h"

namespace mote {

extern const FamilySpec kDeepSeekV3Family = {
    .arch = Arch::kDeepSeekV3,
    .file_arch = fb::Architecture::DeepSeekV3,
    .name = "deepseek_v3",
    .attention = AttentionKind::kMla,
    .rope = RopeStyle::kInterleaved,
    .experts = ExpertKind::kSwiglu,
    .has_mtp_module = true,
    .read_hparams = nullptr,
    .bind_attention_extras = nullptr,
    .bind_expert_extras = nullptr,
    .own_forward = nullptr,
};

extern const FamilySpec kDeepSeekV2Family = {
    .arch = Arch::kDeepSeekV2,
    .file_arch = fb::Architecture::DeepSeekV2,
    .name = "deepseek_v2",
    .attention = AttentionKind::kMla,
    .rope = RopeStyle::kInterleaved,
    .experts = ExpertKind::kSwiglu,
    .has_mtp_module = false,
    .read_hparams = nullptr,
    .bind_attention_extras = nullptr,
    .bind_expert_extras = nullptr,
    .own_forward = nullptr,
};

}  // namespace mote
