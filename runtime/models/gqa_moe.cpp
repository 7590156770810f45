#include "models/gqa_moe.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "graph/norm.h"
#include "graph/rope.h"
#include "kernels/kernels.h"
#include "models/forward_common.h"

namespace mote::models {
namespace {

GqaMoeScratch carve(const HParams& hp, int64_t T, int64_t max_context, Carver<float>& f, Carver<int32_t>& i) {
  const int64_t H = hp.hidden_size, q = hp.n_heads * hp.head_dim;
  const int64_t E = std::max<int64_t>(hp.n_routed_experts, 1), K = std::max<int64_t>(hp.n_experts_per_tok, 1);
  int64_t I = std::max(hp.moe_intermediate_size, hp.shared_intermediate_size());
  for (int64_t l = 0; l < hp.n_layers; ++l)
    if (!hp.is_moe_layer(l)) I = std::max(I, hp.intermediate_size);  // dense FFN (Llama, Qwen2)
  GqaMoeScratch s;
  s.max_tokens = T;
  s.max_context = max_context;
  s.hidden = f.take(T * H);
  s.normed = f.take(T * H);
  s.branch = f.take(T * H);
  s.rope_cos = f.take(T * hp.head_dim / 2);
  s.rope_sin = f.take(T * hp.head_dim / 2);
  s.shared_scale = f.take(T);
  s.attn.q = f.take(T * q);
  s.attn.ctx = f.take(T * q);
  s.attn.scores = f.take(max_context);
  s.ffn.gate = f.take(T * I);
  s.ffn.up = f.take(T * I);
  s.ffn.gathered = f.take(T * H);
  s.ffn.expert_out = f.take(T * H);
  s.ffn.router_logits = f.take(T * E);
  s.ffn.route_scratch = f.take(graph::RouterParams::from_hparams(hp).scratch_size());
  s.ffn.sel_weight = f.take(T * K);
  s.ffn.slot_weight = f.take(T * K);
  s.ffn.sel_idx = i.take(T * K);
  s.ffn.expert_end = i.take(E + 1);
  s.ffn.slot_token = i.take(T * K);
  s.ffn.predicted = i.take(E);
  return s;
}

// Qwen2-MoE (spec §5.3): out += sigmoid(shared_gate . x_t) * SharedExpert(x_t) for every token.
void add_gated_shared(const FfnWeights& w, const float* x, int64_t T, int64_t H, const GqaMoeScratch& s,
                      float* out) {
  kernels::matmul(w.shared_gate, x, T, s.shared_scale);  // [T, 1] gate logits
  graph::swiglu_mlp(w.gated_shared, x, T, s.ffn.gate, s.ffn.up, s.ffn.expert_out);
  for (int64_t t = 0; t < T; ++t) {
    const float g = 1.0f / (1.0f + std::exp(-s.shared_scale[t]));
    kernels::axpy(g, s.ffn.expert_out + t * H, out + t * H, H);
  }
}

// next: the following layer (null for the last), for the expert prefetch hint.
Status run_layer(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t T, int64_t start,
                 float* cache, const GqaMoeScratch& s) {
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  graph::rms_norm_rows(s.hidden, H, T, lw.attn.norm, H, hp.rms_norm_eps, s.normed, H);
  graph::GqaDims dims = graph::GqaDims::from_hparams(hp);
  dims.sliding_window = hp.window_for(lw.index);  // gpt-oss: sliding on some layers only
  graph::gqa_attention(dims, lw.attn, s.normed, T, start, s.rope_cos, s.rope_sin, cache, s.attn, s.branch);
  add_rows(s.hidden, s.branch, T * H);
  graph::rms_norm_rows(s.hidden, H, T, lw.ffn.norm, H, hp.rms_norm_eps, s.normed, H);
  if (lw.ffn.moe) {
    const graph::RouterParams router = graph::RouterParams::from_hparams(hp);
    const graph::ExpertHint hint = next_layer_hint(model, next, router, T, s.hidden, s.ffn, s.branch);
    MOTE_RETURN_IF_ERROR(graph::moe_ffn(router, lw.ffn, model.expert_store(), lw.index, s.normed, T, H, s.ffn,
                                        s.branch, &hint));
    if (!lw.ffn.gated_shared.gate.empty()) add_gated_shared(lw.ffn, s.normed, T, H, s, s.branch);
  } else {
    graph::swiglu_mlp(lw.ffn.dense, s.normed, T, s.ffn.gate, s.ffn.up, s.branch);
  }
  add_rows(s.hidden, s.branch, T * H);
  return Status::ok();
}

Status check_inputs(const HParams& hp, const int32_t* ids, int64_t T, int64_t start, const GqaMoeScratch& s) {
  return check_forward_inputs(hp, ids, T, start, s.max_tokens, s.max_context);
}

}  // namespace

ScratchSize gqa_moe_scratch_size(const HParams& hp, int64_t max_tokens, int64_t max_context) {
  Carver<float> f(nullptr);
  Carver<int32_t> i(nullptr);
  carve(hp, max_tokens, max_context, f, i);
  return {f.used(), i.used()};
}

GqaMoeScratch gqa_moe_carve_scratch(const HParams& hp, int64_t max_tokens, int64_t max_context, float* floats,
                                    int32_t* ints) {
  Carver<float> f(floats);
  Carver<int32_t> i(ints);
  return carve(hp, max_tokens, max_context, f, i);
}

Status gqa_moe_forward(const Model& model, const int32_t* ids, int64_t T, int64_t start, float* kv_cache,
                       const GqaMoeScratch& s, LogitsMode mode, float* logits) {
  const HParams& hp = model.hparams();
  const ModelWeights& w = model.weights();
  MOTE_RETURN_IF_ERROR(check_inputs(hp, ids, T, start, s));
  const int64_t H = hp.hidden_size;
  for (int64_t t = 0; t < T; ++t) kernels::embedding_row(w.embedding, ids[t], s.hidden + t * H);
  graph::rope_tables(hp.rope, start, T, s.rope_cos, s.rope_sin);
  const int64_t layer_cache = s.max_context * hp.kv_cache_dim;
  for (int64_t l = 0; l < hp.n_layers; ++l) {
    const LayerWeights* next = l + 1 < hp.n_layers ? &w.layers[size_t(l + 1)] : nullptr;
    MOTE_RETURN_IF_ERROR(run_layer(model, w.layers[size_t(l)], next, T, start, kv_cache + l * layer_cache, s));
  }
  if (mode == LogitsMode::kNone) return Status::ok();
  const int64_t first = mode == LogitsMode::kAll ? 0 : T - 1;
  const int64_t rows = T - first;
  graph::rms_norm_rows(s.hidden + first * H, H, rows, w.output_norm, H, hp.rms_norm_eps, s.normed, H);
  kernels::matmul(w.output, s.normed, rows, logits);
  return Status::ok();
}

}  // namespace mote::models
