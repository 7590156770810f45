#include "model/weights.h"

#include <string>

#include "format/mote_file.h"
#include "model/family.h"
#include "model/tensor_binder.h"

namespace mote {
namespace {

using Role = fb::TensorRole;
using Binder = TensorBinder;

// Grouped-query attention: q/k/v/o, then the optional biases and q/k norms the config declares,
// then the family's own extras (gpt-oss: o_proj bias, sinks).
Status bind_gqa_attention(Binder& b, const FamilySpec& family, const HParams& hp, int64_t l, AttentionWeights* a) {
  const int64_t H = hp.hidden_size, q = hp.n_heads * hp.head_dim, kv = hp.n_kv_heads * hp.head_dim;
  MOTE_ASSIGN_OR_RETURN(a->q, b.matrix(Role::AttnQ, l, {q, H}));
  MOTE_ASSIGN_OR_RETURN(a->k, b.matrix(Role::AttnK, l, {kv, H}));
  MOTE_ASSIGN_OR_RETURN(a->v, b.matrix(Role::AttnV, l, {kv, H}));
  MOTE_ASSIGN_OR_RETURN(a->o, b.matrix(Role::AttnOut, l, {H, q}));
  if (hp.attention_bias) {
    MOTE_ASSIGN_OR_RETURN(a->q_bias, b.vector(Role::AttnQBias, l, q));
    MOTE_ASSIGN_OR_RETURN(a->k_bias, b.vector(Role::AttnKBias, l, kv));
    MOTE_ASSIGN_OR_RETURN(a->v_bias, b.vector(Role::AttnVBias, l, kv));
  }
  if (hp.qk_norm != QkNorm::kNone) {
    const bool per_head = hp.qk_norm == QkNorm::kPerHead;
    MOTE_ASSIGN_OR_RETURN(a->q_norm, b.vector(Role::AttnQNorm, l, per_head ? hp.head_dim : q));
    MOTE_ASSIGN_OR_RETURN(a->k_norm, b.vector(Role::AttnKNorm, l, per_head ? hp.head_dim : kv));
  }
  if (family.bind_attention_extras != nullptr) return family.bind_attention_extras(b, hp, l, a);
  return Status::ok();
}

// The family's attention kind decides the tensor set: GQA, or MLA (q-LoRA or q_proj, kv_a, kv_b).
Status bind_attention(Binder& b, const FamilySpec& family, const HParams& hp, int64_t l, AttentionWeights* a) {
  const int64_t H = hp.hidden_size, nh = hp.n_heads, qk = hp.qk_head_dim;
  MOTE_ASSIGN_OR_RETURN(a->norm, b.vector(Role::AttnNorm, l, H));
  if (family.attention == AttentionKind::kGqa) return bind_gqa_attention(b, family, hp, l, a);
  if (hp.q_lora_rank > 0) {
    MOTE_ASSIGN_OR_RETURN(a->q_a, b.matrix(Role::AttnQA, l, {hp.q_lora_rank, H}));
    MOTE_ASSIGN_OR_RETURN(a->q_a_norm, b.vector(Role::AttnQANorm, l, hp.q_lora_rank));
    MOTE_ASSIGN_OR_RETURN(a->q_b, b.matrix(Role::AttnQB, l, {nh * qk, hp.q_lora_rank}));
  } else {
    MOTE_ASSIGN_OR_RETURN(a->q, b.matrix(Role::AttnQ, l, {nh * qk, H}));
  }
  MOTE_ASSIGN_OR_RETURN(a->kv_a, b.matrix(Role::AttnKvA, l, {hp.kv_lora_rank + hp.qk_rope_head_dim, H}));
  MOTE_ASSIGN_OR_RETURN(a->kv_a_norm, b.vector(Role::AttnKvANorm, l, hp.kv_lora_rank));
  const int64_t kv_b_rows = nh * (hp.qk_nope_head_dim + hp.v_head_dim);
  MOTE_ASSIGN_OR_RETURN(a->kv_b, b.row_major_matrix(Role::AttnKvB, l, {kv_b_rows, hp.kv_lora_rank}));
  MOTE_ASSIGN_OR_RETURN(a->o, b.matrix(Role::AttnOut, l, {H, nh * hp.v_head_dim}));
  return Status::ok();
}

// The routed experts of MoE layer l from the file's expert table, each followed by the family's
// per-expert extras (gpt-oss: biases in the expert's segment).
Status bind_experts(Binder& b, const MoteFile& file, const FamilySpec& family, const HParams& hp, int64_t l,
                    FfnWeights* f) {
  const fb::ExpertLayer* table = nullptr;
  if (file.model().expert_layers() != nullptr)
    for (const fb::ExpertLayer* el : *file.model().expert_layers())
      if (int64_t(el->layer()) == l) table = el;
  if (table == nullptr) return not_found("missing expert table for MoE layer " + std::to_string(l));
  const int64_t E = hp.n_routed_experts, H = hp.hidden_size, I = hp.moe_intermediate_size;
  if (int64_t(table->experts()->size()) != E)
    return corrupt_file("expert table of layer " + std::to_string(l) + " has " +
                        std::to_string(table->experts()->size()) + " experts, expected n_routed_experts = " +
                        std::to_string(E));
  f->experts.resize(size_t(E));
  for (int64_t e = 0; e < E; ++e) {
    const fb::Expert* x = table->experts()->Get(uint32_t(e));
    ExpertWeights& w = f->experts[size_t(e)];
    MOTE_ASSIGN_OR_RETURN(w.gate, b.expert_tensor(x->gate(), Role::ExpertGate, l, e, {I, H}));
    MOTE_ASSIGN_OR_RETURN(w.up, b.expert_tensor(x->up(), Role::ExpertUp, l, e, {I, H}));
    MOTE_ASSIGN_OR_RETURN(w.down, b.expert_tensor(x->down(), Role::ExpertDown, l, e, {H, I}));
    if (family.bind_expert_extras != nullptr) MOTE_RETURN_IF_ERROR(family.bind_expert_extras(b, hp, l, e, &w));
  }
  f->swiglu_limit = hp.swiglu_limit;
  return Status::ok();
}

Status bind_ffn(Binder& b, const MoteFile& file, const FamilySpec& family, const HParams& hp, int64_t l,
               FfnWeights* f) {
  const int64_t H = hp.hidden_size;
  MOTE_ASSIGN_OR_RETURN(f->norm, b.vector(Role::FfnNorm, l, H));
  f->moe = hp.is_moe_layer(l);
  if (!f->moe) {
    const int64_t I = hp.intermediate_size;
    MOTE_ASSIGN_OR_RETURN(f->dense.gate, b.matrix(Role::FfnGate, l, {I, H}));
    MOTE_ASSIGN_OR_RETURN(f->dense.up, b.matrix(Role::FfnUp, l, {I, H}));
    MOTE_ASSIGN_OR_RETURN(f->dense.down, b.matrix(Role::FfnDown, l, {H, I}));
    return Status::ok();
  }
  MOTE_ASSIGN_OR_RETURN(f->router, b.matrix(Role::Router, l, {hp.n_routed_experts, H}));
  // noaux_tc: e_score_correction_bias; gpt-oss (kSoftmaxTopk): the router's linear bias.
  if (hp.topk_method == TopkMethod::kNoauxTc || hp.scoring_func == ScoringFunc::kSoftmaxTopk) {
    MOTE_ASSIGN_OR_RETURN(f->router_bias, b.vector(Role::RouterBias, l, hp.n_routed_experts));
  }
  if (hp.n_shared_experts > 0) {
    const int64_t I = hp.shared_intermediate_size();
    ExpertWeights& shared = hp.shared_expert_gated ? f->gated_shared : f->shared;
    MOTE_ASSIGN_OR_RETURN(shared.gate, b.matrix(Role::SharedGate, l, {I, H}));
    MOTE_ASSIGN_OR_RETURN(shared.up, b.matrix(Role::SharedUp, l, {I, H}));
    MOTE_ASSIGN_OR_RETURN(shared.down, b.matrix(Role::SharedDown, l, {H, I}));
  }
  if (hp.shared_expert_gated) {
    MOTE_ASSIGN_OR_RETURN(f->shared_gate, b.matrix(Role::SharedExpertGate, l, {1, H}));
  }
  return bind_experts(b, file, family, hp, l, f);
}

Status bind_layer(Binder& b, const MoteFile& file, const FamilySpec& family, const HParams& hp, int64_t l,
                  LayerWeights* lw) {
  lw->index = l;
  MOTE_RETURN_IF_ERROR(bind_attention(b, family, hp, l, &lw->attn));
  return bind_ffn(b, file, family, hp, l, &lw->ffn);
}

// MTP layer l: its own norms/projection/block; embedding and head fall back to the main ones
// when the file aliases them (stores no separate tensor).
Status bind_mtp(Binder& b, const MoteFile& file, const FamilySpec& family, const HParams& hp, int64_t l,
                ModelWeights* out) {
  const int64_t H = hp.hidden_size, V = hp.vocab_size;
  MtpWeights m;
  m.embedding = out->embedding;
  m.head = out->output;
  if (b.has(Role::MtpEmbedding, l)) {
    MOTE_ASSIGN_OR_RETURN(m.embedding, b.matrix(Role::MtpEmbedding, l, {V, H}));
  }
  if (b.has(Role::MtpHead, l)) {
    MOTE_ASSIGN_OR_RETURN(m.head, b.matrix(Role::MtpHead, l, {V, H}));
  }
  MOTE_ASSIGN_OR_RETURN(m.enorm, b.vector(Role::MtpEnorm, l, H));
  MOTE_ASSIGN_OR_RETURN(m.hnorm, b.vector(Role::MtpHnorm, l, H));
  MOTE_ASSIGN_OR_RETURN(m.eh_proj, b.matrix(Role::MtpEhProj, l, {H, 2 * H}));
  MOTE_ASSIGN_OR_RETURN(m.head_norm, b.vector(Role::MtpHeadNorm, l, H));
  MOTE_RETURN_IF_ERROR(bind_layer(b, file, family, hp, l, &m.block));
  out->mtp.push_back(std::move(m));
  return Status::ok();
}

}  // namespace

Result<ModelWeights> bind_weights(const MoteFile& file, const HParams& hp) {
  const FamilySpec* family = find_family(hp.arch);
  if (family == nullptr) return unsupported("bind_weights: no family registered for architecture " +
                                            std::to_string(int(hp.arch)));
  ModelWeights w;
  Binder b(file, &w);
  MOTE_RETURN_IF_ERROR(b.build_index());
  const int64_t H = hp.hidden_size, V = hp.vocab_size;
  MOTE_ASSIGN_OR_RETURN(w.embedding, b.matrix(Role::TokenEmbedding, -1, {V, H}));
  MOTE_ASSIGN_OR_RETURN(w.output_norm, b.vector(Role::OutputNorm, -1, H));
  MOTE_ASSIGN_OR_RETURN(w.output, b.matrix(Role::Output, -1, {V, H}));
  w.layers.resize(size_t(hp.n_layers));
  for (int64_t l = 0; l < hp.n_layers; ++l)
    MOTE_RETURN_IF_ERROR(bind_layer(b, file, *family, hp, l, &w.layers[size_t(l)]));
  if (file.model().has_mtp())
    for (int64_t l = hp.n_layers; l < hp.n_layers + hp.n_mtp_layers; ++l)
      MOTE_RETURN_IF_ERROR(bind_mtp(b, file, *family, hp, l, &w));
  MOTE_RETURN_IF_ERROR(b.check_all_used());
  return w;
}

}  // namespace mote
