// ExpertProvider: the interface through which the MoE block (blocks/ffn.h, moe_ffn) gets routed
// experts' weights, and ExpertHint, the prefetch hint it passes on. Implemented by ExpertStore
// (experts/expert_store.h) and by the blocks' own all-resident provider. It lives here, below the
// blocks, so that experts/ depends only on model/ (weights) and never on the blocks that use it.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "model/weights.h"

namespace mote {

// Most experts moe_ffn acquires at once (fixed so that the forward needs no heap).
inline constexpr int64_t kMaxExpertGroup = 16;

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
  // A hint that `layer` will probably need experts ids[0..n) (best first): an implementation
  // may start reading them in the background. Never blocks on I/O and never fails.
  virtual void prefetch(int64_t /*layer*/, const int32_t* /*ids*/, int64_t /*n*/) {}
  // Whether prefetch hints are worth computing (false: resident experts, nothing to read).
  virtual bool wants_prefetch() const { return false; }
  // How many tokens of the forward pass `layer` routes to each of experts ids[0..n) (called once
  // per acquired group, before acquire): the per-token routing counts that learning keeps
  // (acquire itself counts once per pass, whatever the token count). Never blocks or allocates.
  virtual void count_routed_tokens(int64_t /*layer*/, const int32_t* /*ids*/, const int32_t* /*tokens*/,
                                   int64_t /*n*/) {}
};

// The experts a later layer will probably need, handed to moe_ffn to pass on as a prefetch hint.
struct ExpertHint {
  int64_t layer = -1;
  const int32_t* ids = nullptr;  // [n], most likely first
  int64_t n = 0;
};

}  // namespace mote
