// Feed-forward blocks (spec §2.6, §2.7): the dense SwiGLU MLP and the routed MoE layer.
// In a batch (prefill), the MoE groups tokens per expert, so each selected expert's weights are
// read once per batch. Accumulation is fp32. Functions only write caller-owned buffers and are
// thread-safe for distinct buffers.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "graph/router.h"
#include "model/weights.h"

namespace mote::graph {

// Caller-owned buffers for a batch of up to max_tokens tokens.
struct FfnScratch {
  float* gate = nullptr;           // [max_tokens, max FFN width]
  float* up = nullptr;             // [max_tokens, max FFN width]
  float* gathered = nullptr;       // [max_tokens, H]: the tokens routed to one expert
  float* expert_out = nullptr;     // [max_tokens, H]: one expert's (or the shared experts') output
  float* router_logits = nullptr;  // [max_tokens, E]
  float* route_scratch = nullptr;  // [RouterParams::scratch_size()]
  int32_t* sel_idx = nullptr;      // [max_tokens, top_k]
  float* sel_weight = nullptr;     // [max_tokens, top_k]
  int32_t* expert_end = nullptr;   // [E + 1]
  int32_t* slot_token = nullptr;   // [max_tokens * top_k]
  float* slot_weight = nullptr;    // [max_tokens * top_k]
};

// out[T, H] = down(silu(gate x) * up x) for x [T, H]. gate/up buffers: [T, I] each.
void swiglu_mlp(const ExpertWeights& w, const float* x, int64_t n_tokens, float* gate, float* up, float* out);

// Supplies routed experts' weights to moe_ffn (implemented by experts/ExpertStore). acquire pins
// the n distinct experts `ids` of `layer` (n <= max_group()) and writes their views to `out`;
// they stay valid until release(layer, ids, n). On error nothing stays pinned. Implementations
// used by concurrent forwards must be thread-safe.
class ExpertProvider {
 public:
  virtual ~ExpertProvider() = default;
  virtual Status acquire(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out) = 0;
  virtual void release(int64_t layer, const int32_t* ids, int64_t n) = 0;
  virtual int64_t max_group() const = 0;  // most experts one acquire may pin (>= 1)
};

// Most experts moe_ffn acquires at once (fixed so that the forward needs no heap).
inline constexpr int64_t kMaxExpertGroup = 16;

// out[T, H] = sum_i w_i Expert_{idx_i}(x) + SharedExperts(x) for x [T, H] (normalised input).
// Experts come from `experts` in ascending id order, in groups of up to max_group(): each needed
// expert is acquired once per call (per batch). Errors: those of experts.acquire (out undefined).
Status moe_ffn(const RouterParams& router, const FfnWeights& w, ExpertProvider& experts, int64_t layer,
               const float* x, int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* out);
// The same with every expert resident (views of w.experts).
void moe_ffn(const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens,
             int64_t hidden, const FfnScratch& s, float* out);

}  // namespace mote::graph
