// OLMoE: grouped-query attention with q/k RMS-normalised over the whole projection
// (QkNorm::kFull, from the file's qk_norm), softmax top-8 routing over SwiGLU experts. No hook: the
// q/k norm kind is a shared GQA field.
#include "model/family.h"

namespace mote {

extern const FamilySpec kOlmoeFamily = {
    .arch = Arch::kOlmoe,
    .file_arch = fb::Architecture::Olmoe,
    .name = "olmoe",
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
