// MoE router: expert scores, group-limited top-k selection and weights.
//   V3 noaux_tc:   s = sigmoid(logits); choice = s + e_score_correction_bias (selection only);
//                  group score = sum of the top-2 choice values; keep topk_group groups, the rest
//                  -inf (as DeepSeek's inference/model.py; transformers' 0.0 mask differs only
//                  when a kept expert's choice value is < 0); top-k of choice; w = s[idx];
//                  normalised if norm_topk_prob (denominator + 1e-20, as HF);
//                  w *= routed_scaling_factor.
//   V2 group_limited_greedy: s = softmax(logits); group score = max; same masking; w = s[idx].
//   greedy: top-k over all experts.
//   gpt-oss (ScoringFunc::kSoftmaxTopk): `bias` is the router's linear bias, added to the logits;
//                  top-k of those; w = softmax over the k selected values.
// Ties are broken deterministically: the lower expert (or group) index wins.
// Pure function on caller-owned buffers; thread-safe. The enums are the model's settings
// (HParams holds them; router_params() in model/hparams.h fills RouterParams).
#pragma once

#include <cstdint>

namespace mote {

// kSoftmaxTopk (gpt-oss, as openai/gpt-oss's torch/model.py): top-k of the raw logits, then
// softmax over the k selected.
enum class ScoringFunc { kSoftmax, kSigmoid, kSoftmaxTopk };
enum class TopkMethod {
  kGreedy,              // top-k over all experts
  kGroupLimitedGreedy,  // DeepSeek-V2: group score = max within the group
  kNoauxTc,             // DeepSeek-V3: biased selection, group score = sum of the top-2
};

}  // namespace mote

namespace mote::kernels {

struct RouterParams {
  ScoringFunc scoring = ScoringFunc::kSoftmax;
  TopkMethod method = TopkMethod::kGreedy;
  int64_t n_experts = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  int64_t top_k = 1;
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;

  // Floats of scratch route() needs.
  int64_t scratch_size() const { return 2 * n_experts + n_group; }
};

// logits: [n_experts] fp32 router logits of one token; bias: [n_experts] or nullptr;
// scratch: [scratch_size()]. Writes idx[top_k] (in selection order, best first) and weights[top_k].
void route(const RouterParams& p, const float* logits, const float* bias, float* scratch, int32_t* idx,
           float* weights);

}  // namespace mote::kernels
