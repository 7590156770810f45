#include "families/forward.h"

namespace mote::families {

ScratchSize forward_scratch_size(const HParams& hp, int64_t max_tokens, int64_t max_context) {
  return hp.is_gqa() ? gqa_moe_scratch_size(hp, max_tokens, max_context)
                     : deepseek_scratch_size(hp, max_tokens, max_context);
}

ForwardScratch carve_forward_scratch(const HParams& hp, int64_t max_tokens, int64_t max_context, float* floats,
                                     int32_t* ints) {
  ForwardScratch s;
  if (hp.is_gqa()) s.gqa = gqa_moe_carve_scratch(hp, max_tokens, max_context, floats, ints);
  else s.deepseek = deepseek_carve_scratch(hp, max_tokens, max_context, floats, ints);
  return s;
}

Status forward(const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start, float* kv_cache,
               const ForwardScratch& s, LogitsMode mode, float* logits) {
  if (model.hparams().is_gqa()) return gqa_moe_forward(model, ids, n_tokens, start, kv_cache, s.gqa, mode, logits);
  return deepseek_forward(model, ids, n_tokens, start, kv_cache, s.deepseek, mode, logits);
}

}  // namespace mote::families
