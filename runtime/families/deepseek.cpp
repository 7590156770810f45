#include "families/deepseek.h"

#include <algorithm>
#include <string>

#include "kernels/norm.h"
#include "kernels/rope.h"
#include "families/forward_common.h"
#include "kernels/kernels.h"

namespace mote::families {
namespace {

int64_t max_ffn_width(const HParams& hp) {
  int64_t width = std::max(hp.moe_intermediate_size, hp.shared_intermediate_size());
  for (int64_t l = 0; l < hp.n_layers; ++l)
    if (!hp.is_moe_layer(l)) width = std::max(width, hp.intermediate_size);
  return width;
}

DeepSeekScratch carve(const HParams& hp, int64_t T, int64_t max_context, Carver<float>& f, Carver<int32_t>& i) {
  const int64_t H = hp.hidden_size, nh = hp.n_heads, c = hp.kv_lora_rank;
  const int64_t I = max_ffn_width(hp);
  DeepSeekScratch s;
  s.max_tokens = T;
  s.max_context = max_context;
  s.hidden = f.take(T * H);
  s.normed = f.take(T * H);
  s.branch = f.take(T * H);
  s.rope_cos = f.take(T * hp.qk_rope_head_dim / 2);
  s.rope_sin = f.take(T * hp.qk_rope_head_dim / 2);
  s.mla.q_a = f.take(T * hp.q_lora_rank);
  s.mla.q = f.take(T * nh * hp.qk_head_dim);
  s.mla.kv_a = f.take(T * hp.kv_cache_dim);
  s.mla.q_lat = f.take(T * nh * c);
  s.mla.ctx = f.take(T * nh * c);
  s.mla.o = f.take(T * nh * hp.v_head_dim);
  s.mla.work_floats = blocks::mla_workspace_floats(blocks::MlaDims::from_hparams(hp));
  s.mla.work = f.take(s.mla.work_floats);
  s.ffn = carve_ffn_scratch(hp, T, I, f, i);
  s.mtp_cat = hp.n_mtp_layers > 0 ? f.take(T * 2 * H) : nullptr;
  return s;
}

// next: the following layer (null for the last), whose experts are prefetched while this
// layer's experts compute.
Status run_layer(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t T, int64_t start,
                 float* cache, const DeepSeekScratch& s) {
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  kernels::rms_norm_rows(s.hidden, H, T, lw.attn.norm, H, hp.rms_norm_eps, s.normed, H);
  blocks::mla_attention(blocks::MlaDims::from_hparams(hp), lw.attn, s.normed, T, start, s.rope_cos, s.rope_sin,
                       cache, s.mla, s.branch);
  add_rows(s.hidden, s.branch, T * H);
  return ffn_residual(model, lw, next, T, s.hidden, s.normed, s.branch, s.ffn);
}

Status check_inputs(const HParams& hp, const int32_t* ids, int64_t T, int64_t start, const DeepSeekScratch& s) {
  return check_forward_inputs(hp, ids, T, start, s.max_tokens, s.max_context);
}

}  // namespace

ScratchSize deepseek_scratch_size(const HParams& hp, int64_t max_tokens, int64_t max_context) {
  Carver<float> f(nullptr);
  Carver<int32_t> i(nullptr);
  carve(hp, max_tokens, max_context, f, i);
  return {f.used(), i.used()};
}

DeepSeekScratch deepseek_carve_scratch(const HParams& hp, int64_t max_tokens, int64_t max_context, float* floats,
                                       int32_t* ints) {
  Carver<float> f(floats);
  Carver<int32_t> i(ints);
  return carve(hp, max_tokens, max_context, f, i);
}

namespace {

// Final norm and logits of rows [0, T) of s.hidden. final_hidden (optional) receives every row.
void finish(const Model& model, int64_t T, const DeepSeekScratch& s, LogitsMode mode, float* logits,
            const float* norm, const WeightView& head, float* final_hidden) {
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  if (final_hidden != nullptr) kernels::rms_norm_rows(s.hidden, H, T, norm, H, hp.rms_norm_eps, final_hidden, H);
  if (mode == LogitsMode::kNone) return;
  const int64_t first = mode == LogitsMode::kAll ? 0 : T - 1;
  const int64_t rows = T - first;
  const float* normed = final_hidden != nullptr ? final_hidden + first * H : s.normed;
  if (final_hidden == nullptr)
    kernels::rms_norm_rows(s.hidden + first * H, H, rows, norm, H, hp.rms_norm_eps, s.normed, H);
  kernels::matmul(head, normed, rows, logits);
}

}  // namespace

Status deepseek_forward(const Model& model, const int32_t* ids, int64_t T, int64_t start, float* kv_cache,
                        const DeepSeekScratch& s, LogitsMode mode, float* logits, float* final_hidden) {
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
  finish(model, T, s, mode, logits, w.output_norm, w.output, final_hidden);
  return Status::ok();
}

Status deepseek_mtp_forward(const Model& model, const int32_t* next_ids, const float* main_hidden, int64_t T,
                            int64_t start, float* mtp_cache, const DeepSeekScratch& s, LogitsMode mode,
                            float* logits) {
  const HParams& hp = model.hparams();
  if (model.weights().mtp.empty() || s.mtp_cat == nullptr)
    return unsupported("this model has no MTP module (or the session did not carve its scratch)");
  const MtpWeights& m = model.weights().mtp[0];
  MOTE_RETURN_IF_ERROR(check_inputs(hp, next_ids, T, start, s));
  const int64_t H = hp.hidden_size;
  for (int64_t t = 0; t < T; ++t) kernels::embedding_row(m.embedding, next_ids[t], s.normed + t * H);
  // Embedding first, hidden second (as the released DeepSeek-V3 weights and vLLM/SGLang).
  kernels::rms_norm_rows(s.normed, H, T, m.enorm, H, hp.rms_norm_eps, s.mtp_cat, 2 * H);
  kernels::rms_norm_rows(main_hidden, H, T, m.hnorm, H, hp.rms_norm_eps, s.mtp_cat + H, 2 * H);
  kernels::matmul(m.eh_proj, s.mtp_cat, T, s.hidden);
  kernels::rope_tables(hp.rope, start, T, s.rope_cos, s.rope_sin);
  MOTE_RETURN_IF_ERROR(run_layer(model, m.block, nullptr, T, start, mtp_cache, s));
  finish(model, T, s, mode, logits, m.head_norm, m.head, nullptr);
  return Status::ok();
}

}  // namespace mote::families
