// One entry point over the per-architecture forward passes: the Session carves one
// ForwardScratch and calls forward(), which dispatches on HParams::arch (MLA: families/deepseek.h;
// grouped-query attention: families/gqa_moe.h). Only the member matching the model is carved; the
// other stays empty. Same contracts (no allocation, errors, thread-safety) as the forwards.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "families/deepseek.h"
#include "families/gqa_moe.h"
#include "model/model.h"

namespace mote::families {

struct ForwardScratch {
  DeepSeekScratch deepseek;  // DeepSeek-V2/V3
  GqaMoeScratch gqa;         // Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE
};

// Arena sizes the model's forward needs for max_tokens tokens per call and max_context positions.
ScratchSize forward_scratch_size(const HParams& hp, int64_t max_tokens, int64_t max_context);
// Carves the scratch out of arenas of (at least) forward_scratch_size() elements.
ForwardScratch carve_forward_scratch(const HParams& hp, int64_t max_tokens, int64_t max_context, float* floats,
                                     int32_t* ints);
// The model's forward: see deepseek_forward (kv_cache: [n_layers][max_context][kv_cache_dim]).
Status forward(const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start, float* kv_cache,
               const ForwardScratch& s, LogitsMode mode, float* logits);

}  // namespace mote::families
