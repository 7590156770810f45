#include "families/gqa_moe.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/norm.h"
#include "kernels/rope.h"
#include "families/forward_common.h"
#include "kernels/kernels.h"

namespace mote::families {
namespace {

GqaMoeScratch carve(const HParams& hp, int64_t T, int64_t max_context, Carver<float>& f, Carver<int32_t>& i) {
  const int64_t H = hp.hidden_size, q = hp.n_heads * hp.head_dim;
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
  s.attn.q = f.take(T * q);
  s.attn.ctx = f.take(T * q);
  s.attn.work_floats = blocks::gqa_workspace_floats(blocks::GqaDims::from_hparams(hp));
  s.attn.work = f.take(s.attn.work_floats);
  s.ffn = carve_ffn_scratch(hp, T, I, f, i);
  return s;
}

// next: the following layer (null for the last), for the expert prefetch hint.
Status run_layer(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t T, int64_t start,
                 float* cache, const GqaMoeScratch& s) {
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  kernels::rms_norm_rows(s.hidden, H, T, lw.attn.norm, H, hp.rms_norm_eps, s.normed, H);
  blocks::GqaDims dims = blocks::GqaDims::from_hparams(hp);
  dims.sliding_window = hp.window_for(lw.index);  // gpt-oss: sliding on some layers only
  blocks::gqa_attention(dims, lw.attn, s.normed, T, start, s.rope_cos, s.rope_sin, cache, s.attn, s.branch);
  add_rows(s.hidden, s.branch, T * H);
  return ffn_residual(model, lw, next, T, s.hidden, s.normed, s.branch, s.ffn);
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
  kernels::rope_tables(hp.rope, start, T, s.rope_cos, s.rope_sin);
  const int64_t layer_cache = s.max_context * hp.kv_cache_dim;
  for (int64_t l = 0; l < hp.n_layers; ++l) {
    const LayerWeights* next = l + 1 < hp.n_layers ? &w.layers[size_t(l + 1)] : nullptr;
    MOTE_RETURN_IF_ERROR(run_layer(model, w.layers[size_t(l)], next, T, start, kv_cache + l * layer_cache, s));
  }
  if (mode == LogitsMode::kNone) return Status::ok();
  const int64_t first = mode == LogitsMode::kAll ? 0 : T - 1;
  const int64_t rows = T - first;
  kernels::rms_norm_rows(s.hidden + first * H, H, rows, w.output_norm, H, hp.rms_norm_eps, s.normed, H);
  kernels::matmul(w.output, s.normed, rows, logits);
  return Status::ok();
}

}  // namespace mote::families
