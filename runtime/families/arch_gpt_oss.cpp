// gpt-oss (openai/gpt-oss's torch/model.py): grouped-query attention with an o_proj bias and
// per-head attention sinks, sliding window on the layers layer_sliding marks (shared GQA field),
// a router with a linear bias and softmax over the top-k raw logits (ScoringFunc::kSoftmaxTopk,
// shared router field), and experts with biases and the clamped SwiGLU
// (ExpertKind::kClampedSwiglu, limit swiglu_limit). This file reads swiglu_limit and binds the
// attention and expert extras; the shared code binds everything else.
#include <cmath>

#include "model/family.h"
#include "model/tensor_binder.h"
#include "model/weights.h"

namespace mote {
namespace {

using Role = fb::TensorRole;

Status read_gpt_oss_hparams(const fb::ModelConfig& config, HParams* hp) {
  hp->swiglu_limit = config.swiglu_limit();
  if (!(hp->swiglu_limit >= 0.0f) || !std::isfinite(hp->swiglu_limit))
    return corrupt_file("model config: swiglu_limit must be >= 0");
  return Status::ok();
}

// o_proj.bias [H] and sinks [n_heads] (one logit per head, in the softmax denominator).
Status bind_gpt_oss_attention(TensorBinder& b, const HParams& hp, int64_t layer, AttentionWeights* a) {
  MOTE_ASSIGN_OR_RETURN(a->o_bias, b.vector(Role::AttnOutBias, layer, hp.hidden_size));
  MOTE_ASSIGN_OR_RETURN(a->sinks, b.vector(Role::AttnSinks, layer, hp.n_heads));
  return Status::ok();
}

// gate/up biases [I] and the down bias [H], stored in the expert's segment, bound by
// (role, layer, expert).
Status bind_gpt_oss_expert(TensorBinder& b, const HParams& hp, int64_t layer, int64_t expert, ExpertWeights* w) {
  const int64_t I = hp.moe_intermediate_size, H = hp.hidden_size;
  MOTE_ASSIGN_OR_RETURN(w->gate_bias, b.expert_vector(Role::ExpertGateBias, layer, expert, I));
  MOTE_ASSIGN_OR_RETURN(w->up_bias, b.expert_vector(Role::ExpertUpBias, layer, expert, I));
  MOTE_ASSIGN_OR_RETURN(w->down_bias, b.expert_vector(Role::ExpertDownBias, layer, expert, H));
  return Status::ok();
}

}  // namespace

extern const FamilySpec kGptOssFamily = {
    .arch = Arch::kGptOss,
    .file_arch = fb::Architecture::GptOss,
    .name = "gpt_oss",
    .attention = AttentionKind::kGqa,
    .rope = RopeStyle::kHalf,
    .experts = ExpertKind::kClampedSwiglu,
    .has_mtp_module = false,
    .read_hparams = read_gpt_oss_hparams,
    .bind_attention_extras = bind_gpt_oss_attention,
    .bind_expert_extras = bind_gpt_oss_expert,
    .own_forward = nullptr,
};

}  // namespace mote
