// Pieces every per-architecture forward shares (models/deepseek.cpp, models/gqa_moe.cpp):
// scratch carving, input checks, the residual add and the next layer's prefetch hint.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "graph/ffn.h"
#include "graph/router.h"
#include "model/model.h"

namespace mote::models {

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

// Errors of a forward call before any work: n_tokens outside [1, max_tokens], positions past
// max_context, a token id outside the vocabulary.
Status check_forward_inputs(const HParams& hp, const int32_t* ids, int64_t n_tokens, int64_t start, int64_t max_tokens,
                            int64_t max_context);

// h[i] += b[i] for i < n (the residual connection).
void add_rows(float* h, const float* b, int64_t n);

// The prefetch hint for the layer after this one (`next`, null for the last): its router applied
// to the residual stream `hidden` [T, H], written to ffn.predicted; `normed` [T, H] is scratch.
// Empty when `next` is not MoE or the expert store reads nothing ahead.
graph::ExpertHint next_layer_hint(const Model& model, const LayerWeights* next, const graph::RouterParams& router,
                                  int64_t n_tokens, const float* hidden, const graph::FfnScratch& ffn, float* normed);

}  // namespace mote::models
