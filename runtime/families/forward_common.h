// Pieces every per-architecture forward shares (families/deepseek.cpp, families/gqa_moe.cpp):
// scratch carving, input checks, the residual add and the next layer's prefetch hint.
#pragma once

#include <algorithm>
#include <cstdint>

#include "blocks/ffn.h"
#include "kernels/router.h"
#include "core/status.h"
#include "kernels/kernels.h"
#include "model/model.h"

namespace mote::families {

// Carver: hands out consecutive 64-byte-aligned pieces of a caller-owned arena, so a model's
// scratch (activations, router buffers) is sized once and carved without allocation. With a null
// base it only counts, which is how the *_scratch_size() functions measure an arena.
// Not thread-safe; a carver lives for one carve() call.
template <typename T>
class Carver {
 public:
  explicit Carver(T* base) : base_(base) {}
  // n elements (null when only counting); the next piece starts on a 64-byte boundary.
  T* take(int64_t n) {
    T* p = base_ ? base_ + used_ : nullptr;
    used_ += (n + kAlign - 1) / kAlign * kAlign;
    return p;
  }
  int64_t used() const { return used_; }  // elements handed out, padding included

 private:
  static constexpr int64_t kAlign = 64 / int64_t(sizeof(T));
  T* base_;
  int64_t used_ = 0;
};

// The FFN/MoE scratch of a forward over T tokens, FFN widths up to `width` (shared across
// architectures; shared_gate is carved only for Qwen2-MoE's gated shared expert).
inline blocks::FfnScratch carve_ffn_scratch(const HParams& hp, int64_t T, int64_t width, Carver<float>& f,
                                           Carver<int32_t>& i) {
  const int64_t H = hp.hidden_size;
  const int64_t E = hp.n_routed_experts > 1 ? hp.n_routed_experts : 1;
  const int64_t K = hp.n_experts_per_tok > 1 ? hp.n_experts_per_tok : 1;
  blocks::FfnScratch s;
  s.gate = f.take(T * width);
  s.up = f.take(T * width);
  s.gathered = f.take(T * H);
  s.expert_out = f.take(T * H);
  s.router_logits = f.take(std::min(T, blocks::kRouteChunk) * E);
  s.route_scratch = f.take(kernels::RouterParams::from_hparams(hp).scratch_size());
  s.sel_weight = f.take(T * K);
  s.slot_weight = f.take(T * K);
  s.shared_gate = hp.shared_expert_gated ? f.take(T) : nullptr;
  const int64_t q_floats = (T * kernels::quantized_row_bytes(H) + 3) / 4;
  s.quantized = reinterpret_cast<uint8_t*>(f.take(q_floats));
  s.gathered_q = reinterpret_cast<uint8_t*>(f.take(q_floats));
  s.job_x = f.take(blocks::kJobSlots * H);
  s.job_q = reinterpret_cast<uint8_t*>(f.take((blocks::kJobSlots * kernels::quantized_row_bytes(H) + 3) / 4));
  s.job_hidden = f.take(blocks::kJobSlots * width);
  s.job_scratch = f.take(blocks::kJobSlots * width);
  s.job_out = f.take(blocks::kJobSlots * H);
  s.sel_idx = i.take(T * K);
  s.expert_end = i.take(E + 1);
  s.slot_token = i.take(T * K);
  s.predicted = i.take(E);
  return s;
}

// The FFN half of a pre-norm decoder layer: hidden [T, H] += FFN(rms_norm(hidden; lw.ffn.norm)).
// MoE layers take their experts from the model's expert store and prefetch the experts `next`
// (the following layer, or null) will probably use. normed and branch [T, H] are scratch.
// Errors: expert reads (hidden is then undefined).
Status ffn_residual(const Model& model, const LayerWeights& lw, const LayerWeights* next, int64_t n_tokens,
                    float* hidden, float* normed, float* branch, const blocks::FfnScratch& ffn);

// Errors of a forward call before any work: n_tokens outside [1, max_tokens], positions past
// max_context, a token id outside the vocabulary.
Status check_forward_inputs(const HParams& hp, const int32_t* ids, int64_t n_tokens, int64_t start, int64_t max_tokens,
                            int64_t max_context);

// h[i] += b[i] for i < n (the residual connection).
void add_rows(float* h, const float* b, int64_t n);

// The prefetch hint for the layer after this one (`next`, null for the last): its router applied
// to the residual stream `hidden` [T, H], written to ffn.predicted; `normed` [T, H] is scratch.
// Empty when `next` is not MoE or the expert store reads nothing ahead.
ExpertHint next_layer_hint(const Model& model, const LayerWeights* next, const kernels::RouterParams& router,
                                  int64_t n_tokens, const float* hidden, const blocks::FfnScratch& ffn, float* normed);

}  // namespace mote::families
