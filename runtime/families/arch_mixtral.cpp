// Mixtral: grouped-query attention (half-rotated RoPE, an optional sliding window on every layer),
// top-2 softmax routing over SwiGLU experts, no shared expert. Everything is a shared block
// option set from the config; no hook.
#include "model/family.h"

namespace mote {

extern const FamilySpec kMixtralFamily = {
    .arch = Arch::kMixtral,
    .file_arch = fb::Architecture::Mixtral,
    .name = "mixtral",
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
