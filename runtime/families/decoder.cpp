#include "families/decoder.h"

#include <algorithm>
#include <string>

#include "blocks/ffn_tiers.h"
#include "kernels/kernels.h"
#include "kernels/router.h"

namespace mote::families {
namespace {

// The draft gate handles routers of at most this top-k (DeepSeek-V3: 8); larger ones run ungated.
constexpr int64_t kGateMaxTopK = 32;

// Errors of a forward call before any work: n_tokens outside [1, max_tokens], positions past
// max_context, a token id outside the vocabulary (ids: host).
Status check_inputs(const HParams& hp, const int32_t* ids, int64_t T, int64_t start, const DecoderScratch& s) {
  if (T < 1 || T > s.max_tokens)
    return invalid_argument("forward of " + std::to_string(T) + " tokens: must be in [1, " +
                            std::to_string(s.max_tokens) + "]");
  if (start < 0 || start + T > s.max_context)
    return out_of_range("context full: positions " + std::to_string(start) + ".." + std::to_string(start + T - 1) +
                        " exceed max_context " + std::to_string(s.max_context));
  for (int64_t t = 0; t < T; ++t)
    if (ids[t] < 0 || ids[t] >= hp.vocab_size)
      return invalid_argument("token id " + std::to_string(ids[t]) + " at index " + std::to_string(t) +
                              " is outside the vocabulary [0, " + std::to_string(hp.vocab_size) + ")");
  return Status::ok();
}

// s.branch = Attention(s.normed) for one layer, writing its cache rows start .. start+T-1.
void attention(const Model& model, const LayerWeights& lw, int64_t T, int64_t start, const LayerCache& cache,
               const DecoderScratch& s) {
  backend::Backend& b = model.backend();
  const HParams& hp = model.hparams();
  if (s.variants.attention == AttentionKind::kMla) {
    blocks::mla_attention(b, blocks::MlaDims::from_hparams(hp), lw.attn, s.normed, T, start, s.rope_cos, s.rope_sin,
                          cache, s.mla, s.branch);
    return;
  }
  blocks::GqaDims dims = blocks::GqaDims::from_hparams(hp);
  dims.sliding_window = hp.window_for(lw.index);  // gpt-oss: sliding on some layers only
  blocks::gqa_attention(b, dims, lw.attn, s.normed, T, start, s.rope_cos, s.rope_sin, cache, s.gqa, s.branch);
}

// The prefetch hint for the layer after this one (`next`, null for the last): its router applied
// to the residual stream s.hidden, written to s.ffn.predicted (host); s.branch is scratch.
// Empty when `next` is not MoE or the expert store reads nothing ahead.
ExpertHint next_layer_hint(const Model& model, const LayerWeights* next, const kernels::RouterParams& router,
                           int64_t T, const DecoderScratch& s) {
  ExpertHint hint;
  if (next == nullptr || !next->ffn.moe || !model.expert_store().wants_prefetch()) return hint;
  const HParams& hp = model.hparams();
  hint.layer = next->index;
  hint.ids = s.ffn.predicted;
  hint.n = blocks::predict_experts(model.backend(), router, next->ffn, hp.rms_norm_eps, s.hidden, T, hp.hidden_size,
                                   s.ffn, s.branch);
  return hint;
}

// Row r's routed experts under `ffn`'s router (its norm applied to s.hidden row r): host ids
// into out[0, top_k), returns how many. s.branch is scratch.
int64_t route_row(const Model& model, const FfnWeights& ffn, const kernels::RouterParams& router, int64_t r,
                  const DecoderScratch& s, int32_t* out) {
  const HParams& hp = model.hparams();
  const int64_t n = blocks::predict_experts(model.backend(), router, ffn, hp.rms_norm_eps, s.hidden + r * hp.hidden_size,
                                            1, hp.hidden_size, s.ffn, s.branch);
  std::copy(s.ffn.predicted, s.ffn.predicted + n, out);
  return n;
}

// Priced seconds of the reads that row 1's experts (ids1) need at `layer` beyond row 0's (ids0).
double draft_row_miss_seconds(const Model& model, int64_t layer, const int32_t* ids0, int64_t n0, const int32_t* ids1,
                              int64_t n1, const DraftRowGate& gate) {
  int32_t own[kGateMaxTopK];
  int64_t n = 0;
  for (int64_t i = 0; i < n1; ++i)
    if (std::find(ids0, ids0 + n0, ids1[i]) == ids0 + n0) own[n++] = ids1[i];
  return double(model.expert_store().missing_bytes(layer, own, n)) * gate.seconds_per_byte;
}

// The draft gate (draft_gate.h) at MoE layer lw of a two-row pass: the exact price of row 1's
// own misses here, then the pre-gate's predicted price at `next`. Returns the rows to run from
// here on (2, or 1 once row 1 is dropped) and sets the prefetch hint for those rows.
int64_t gate_draft_row(const Model& model, const LayerWeights& lw, const LayerWeights* next,
                       const kernels::RouterParams& router, const DecoderScratch& s, ExpertHint* hint) {
  DraftRowGate& gate = *s.draft_gate;
  int32_t row0[kGateMaxTopK], row1[kGateMaxTopK];
  const auto drop = [&](bool predicted) {
    gate.dropped = true;
    gate.predicted = predicted;
    gate.dropped_at_layer = lw.index;
    *hint = next_layer_hint(model, next, router, 1, s);
    return int64_t(1);
  };
  ++gate.checks;
  int64_t n0 = route_row(model, lw.ffn, router, 0, s, row0), n1 = route_row(model, lw.ffn, router, 1, s, row1);
  const double here = draft_row_miss_seconds(model, lw.index, row0, n0, row1, n1, gate);
  if (gate.spent_seconds + here > gate.allowance_seconds) return drop(false);
  gate.spent_seconds += here;
  if (next != nullptr && next->ffn.moe) {
    n0 = route_row(model, next->ffn, router, 0, s, row0);
    n1 = route_row(model, next->ffn, router, 1, s, row1);
    const double ahead = draft_row_miss_seconds(model, next->index, row0, n0, row1, n1, gate);
    if (gate.spent_seconds + ahead > gate.allowance_seconds) return drop(true);
    if (model.expert_store().wants_prefetch()) {  // the hint: row 0's experts, then row 1's own
      int64_t n = 0;
      for (int64_t i = 0; i < n0; ++i) s.ffn.predicted[n++] = row0[i];
      for (int64_t i = 0; i < n1; ++i)
        if (std::find(row0, row0 + n0, row1[i]) == row0 + n0) s.ffn.predicted[n++] = row1[i];
      *hint = ExpertHint{next->index, s.ffn.predicted, n};
    }
  }
  return 2;
}

// s.hidden += FFN(rms_norm(s.hidden; lw.ffn.norm)): the dense SwiGLU or the routed MoE (experts
// from the model's expert store; the experts of `next` are prefetched). A two-row pass with a
// draft gate may drop row 1 here (T becomes 1). Errors: expert reads.
Status ffn_residual(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t& T,
                    const DecoderScratch& s) {
  backend::Backend& b = model.backend();
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  // RMSNorm fused with the int8 quantisation of its output (fast tables): the dense MLP, the
  // shared expert and every routed expert then start from these rows.
  kernels::QuantizedRows quantized{s.ffn.quantized, H, false};
  b.rms_norm_rows(s.hidden, H, T, lw.ffn.norm, H, hp.rms_norm_eps, s.normed, H,
                  s.ffn.quantized ? &quantized : nullptr);
  blocks::FfnScratch ffn = s.ffn;
  ffn.x_quantized = quantized.valid ? quantized.data : nullptr;
  if (lw.ffn.moe) {
    const kernels::RouterParams router = router_params(hp);
    ExpertHint hint;
    if (s.draft_gate != nullptr && !s.draft_gate->dropped && T == 2 && router.top_k <= kGateMaxTopK)
      T = gate_draft_row(model, lw, next, router, s, &hint);
    else
      hint = next_layer_hint(model, next, router, T, s);
    // A backend with separate memory serves experts through the device cache first
    // (blocks/ffn_tiers.h); the same sums as moe_ffn, in the same order.
    if (DeviceExpertCache* device = model.device_experts())
      MOTE_RETURN_IF_ERROR(blocks::moe_ffn_tiered(b, router, lw.ffn, model.expert_store(), *device, lw.index, s.normed,
                                                  T, H, ffn, s.branch, &hint));
    else
      MOTE_RETURN_IF_ERROR(
          blocks::moe_ffn(b, router, lw.ffn, model.expert_store(), lw.index, s.normed, T, H, ffn, s.branch, &hint));
  } else {
    blocks::swiglu_mlp(b, lw.ffn.dense, s.normed, T, ffn.gate, ffn.up, s.branch, ffn.x_quantized);
  }
  b.add(s.hidden, s.branch, T * H);
  return Status::ok();
}

// One pre-norm layer; next: the following layer (null for the last), for the prefetch hint.
// T: the rows; a draft gate may lower it (ffn_residual).
Status run_layer(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t& T, int64_t start,
                 const LayerCache& cache, const DecoderScratch& s) {
  backend::Backend& b = model.backend();
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  b.rms_norm_pieces(s.hidden, H, T, 1, 0, lw.attn.norm, H, hp.rms_norm_eps, s.normed, H);
  attention(model, lw, T, start, cache, s);
  b.add(s.hidden, s.branch, T * H);
  return ffn_residual(model, lw, next, T, s);
}

// Final norm and logits (host) of rows [0, T) of s.hidden. final_hidden (optional, device)
// receives every row normalised.
void finish(const Model& model, int64_t T, const DecoderScratch& s, LogitsMode mode, float* logits,
            const float* norm, const WeightView& head, float* final_hidden) {
  backend::Backend& b = model.backend();
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  if (final_hidden != nullptr) b.rms_norm_pieces(s.hidden, H, T, 1, 0, norm, H, hp.rms_norm_eps, final_hidden, H);
  if (mode == LogitsMode::kNone) return;
  const int64_t first = mode == LogitsMode::kAll ? 0 : T - 1;
  const int64_t rows = T - first;
  const float* normed = final_hidden != nullptr ? final_hidden + first * H : s.normed;
  if (final_hidden == nullptr)
    b.rms_norm_pieces(s.hidden + first * H, H, rows, 1, 0, norm, H, hp.rms_norm_eps, s.normed, H);
  float* out = b.unified_memory() ? logits : s.logits;
  b.matmul(head, normed, head.cols, rows, out, head.rows);
  if (!b.unified_memory()) b.download(logits, s.logits, uint64_t(rows * head.rows) * sizeof(float));
}

}  // namespace

Status forward(const Model& model, const int32_t* ids, int64_t T, int64_t start, std::span<const LayerCache> caches,
               const DecoderScratch& s, LogitsMode mode, float* logits, float* final_hidden) {
  const FamilySpec* family = find_family(model.hparams().arch);
  return forward_as(family != nullptr ? *family : FamilySpec{}, model, ids, T, start, caches, s, mode, logits,
                    final_hidden);
}

Status forward_as(const FamilySpec& family, const Model& model, const int32_t* ids, int64_t T, int64_t start,
                  std::span<const LayerCache> caches, const DecoderScratch& s, LogitsMode mode, float* logits,
                  float* final_hidden) {
  if (family.own_forward != nullptr)
    return family.own_forward(model, ids, T, start, caches, s, mode, logits, final_hidden);
  const HParams& hp = model.hparams();
  const ModelWeights& w = model.device_weights();
  MOTE_RETURN_IF_ERROR(check_inputs(hp, ids, T, start, s));
  if (int64_t(caches.size()) != hp.n_layers)
    return invalid_argument("forward: " + std::to_string(caches.size()) + " layer caches for " +
                            std::to_string(hp.n_layers) + " layers");
  backend::Backend& b = model.backend();
  b.embed(w.embedding, ids, T, s.hidden);
  b.rope_tables(hp.rope, start, T, s.rope_cos, s.rope_sin);
  int64_t rows = T;  // 1 once a draft gate dropped row 1 (draft_gate.h)
  for (int64_t l = 0; l < hp.n_layers; ++l) {
    const LayerWeights* next = l + 1 < hp.n_layers ? &w.layers[size_t(l + 1)] : nullptr;
    MOTE_RETURN_IF_ERROR(run_layer(model, w.layers[size_t(l)], next, rows, start, caches[size_t(l)], s));
  }
  finish(model, rows, s, mode, logits, w.output_norm, w.output, final_hidden);
  return Status::ok();
}

Status mtp_forward(const Model& model, const int32_t* next_ids, const float* main_hidden, int64_t T, int64_t start,
                   const LayerCache& mtp_cache, const DecoderScratch& s, LogitsMode mode, float* logits) {
  const HParams& hp = model.hparams();
  if (model.device_weights().mtp.empty() || s.mtp_cat == nullptr)
    return unsupported("this model has no MTP module (or the session did not carve its scratch)");
  const MtpWeights& m = model.device_weights().mtp[0];
  MOTE_RETURN_IF_ERROR(check_inputs(hp, next_ids, T, start, s));
  backend::Backend& b = model.backend();
  const int64_t H = hp.hidden_size;
  b.embed(m.embedding, next_ids, T, s.normed);
  // Embedding first, hidden second (as the released DeepSeek-V3 weights and vLLM/SGLang).
  b.rms_norm_pieces(s.normed, H, T, 1, 0, m.enorm, H, hp.rms_norm_eps, s.mtp_cat, 2 * H);
  b.rms_norm_pieces(main_hidden, H, T, 1, 0, m.hnorm, H, hp.rms_norm_eps, s.mtp_cat + H, 2 * H);
  b.matmul(m.eh_proj, s.mtp_cat, m.eh_proj.cols, T, s.hidden, m.eh_proj.rows);
  b.rope_tables(hp.rope, start, T, s.rope_cos, s.rope_sin);
  int64_t rows = T;
  MOTE_RETURN_IF_ERROR(run_layer(model, m.block, nullptr, rows, start, mtp_cache, s));
  finish(model, T, s, mode, logits, m.head_norm, m.head, nullptr);
  return Status::ok();
}

}  // namespace mote::families
