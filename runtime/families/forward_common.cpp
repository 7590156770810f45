#include "families/forward_common.h"

#include <string>

#include "kernels/norm.h"

namespace mote::families {

Status check_forward_inputs(const HParams& hp, const int32_t* ids, int64_t T, int64_t start, int64_t max_tokens,
                            int64_t max_context) {
  if (T < 1 || T > max_tokens)
    return invalid_argument("forward of " + std::to_string(T) + " tokens: must be in [1, " +
                            std::to_string(max_tokens) + "]");
  if (start < 0 || start + T > max_context)
    return out_of_range("context full: positions " + std::to_string(start) + ".." + std::to_string(start + T - 1) +
                        " exceed max_context " + std::to_string(max_context));
  for (int64_t t = 0; t < T; ++t)
    if (ids[t] < 0 || ids[t] >= hp.vocab_size)
      return invalid_argument("token id " + std::to_string(ids[t]) + " at index " + std::to_string(t) +
                              " is outside the vocabulary [0, " + std::to_string(hp.vocab_size) + ")");
  return Status::ok();
}

void add_rows(float* h, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] += b[i];
}

ExpertHint next_layer_hint(const Model& model, const LayerWeights* next, const kernels::RouterParams& router,
                                  int64_t T, const float* hidden, const blocks::FfnScratch& ffn, float* normed) {
  ExpertHint hint;
  if (next == nullptr || !next->ffn.moe || !model.expert_store().wants_prefetch()) return hint;
  const HParams& hp = model.hparams();
  hint.layer = next->index;
  hint.ids = ffn.predicted;
  hint.n = blocks::predict_experts(router, next->ffn, hp.rms_norm_eps, hidden, T, hp.hidden_size, ffn, normed);
  return hint;
}

Status ffn_residual(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t T, float* hidden,
                    float* normed, float* branch, const blocks::FfnScratch& ffn) {
  const HParams& hp = model.hparams();
  const int64_t H = hp.hidden_size;
  // RMSNorm fused with the int8 quantisation of its output (fast tables): the dense MLP, the
  // shared expert and every routed expert then start from these rows.
  kernels::QuantizedRows quantized{ffn.quantized, H, false};
  kernels::rms_norm_rows(hidden, T, lw.ffn.norm, H, hp.rms_norm_eps, normed, ffn.quantized ? &quantized : nullptr);
  blocks::FfnScratch s = ffn;
  s.x_quantized = quantized.valid ? quantized.data : nullptr;
  if (lw.ffn.moe) {
    const kernels::RouterParams router = kernels::RouterParams::from_hparams(hp);
    const ExpertHint hint = next_layer_hint(model, next, router, T, hidden, s, branch);
    MOTE_RETURN_IF_ERROR(
        blocks::moe_ffn(router, lw.ffn, model.expert_store(), lw.index, normed, T, H, s, branch, &hint));
  } else {
    blocks::swiglu_mlp(lw.ffn.dense, normed, T, s.gate, s.up, branch, s.x_quantized);
  }
  add_rows(hidden, branch, T * H);
  return Status::ok();
}

}  // namespace mote::families
