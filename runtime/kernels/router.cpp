#include "kernels/router.h"

#include <cmath>
#include <limits>

namespace mote::kernels {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void softmax_scores(const float* logits, int64_t n, float* out) {
  float max = logits[0];
  for (int64_t i = 1; i < n; ++i) max = std::fmax(max, logits[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp(logits[i] - max);
    sum += out[i];
  }
  for (int64_t i = 0; i < n; ++i) out[i] /= sum;
}

// Index of the largest value not marked taken (NaN); the lowest index wins ties. -1 if none.
int64_t argmax_untaken(const float* v, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) continue;
    if (best < 0 || v[i] > v[best]) best = i;
  }
  return best;
}

// Masks (-inf) every expert outside the topk_group best groups of `choice`.
void mask_groups(const RouterParams& p, float* choice, float* group_score) {
  const int64_t per = p.n_experts / p.n_group;
  for (int64_t g = 0; g < p.n_group; ++g) {
    const float* c = choice + g * per;
    if (p.method == TopkMethod::kNoauxTc) {
      float top1 = kNegInf, top2 = kNegInf;  // sum of the two largest
      for (int64_t i = 0; i < per; ++i) {
        if (c[i] > top1) { top2 = top1; top1 = c[i]; }
        else if (c[i] > top2) { top2 = c[i]; }
      }
      group_score[g] = top1 + top2;
    } else {
      float m = c[0];
      for (int64_t i = 1; i < per; ++i) m = std::fmax(m, c[i]);
      group_score[g] = m;
    }
  }
  // Pick topk_group groups (marking them NaN), then mask the groups not picked.
  for (int64_t k = 0; k < p.topk_group; ++k) group_score[argmax_untaken(group_score, p.n_group)] = NAN;
  for (int64_t g = 0; g < p.n_group; ++g)
    if (!std::isnan(group_score[g]))
      for (int64_t i = 0; i < per; ++i) choice[g * per + i] = kNegInf;
}

// gpt-oss (as openai/gpt-oss's torch/model.py): logits + the router's linear bias, top-k of
// those, softmax over the k selected values only (no renormalisation or scaling).
// scores: [E] scratch.
void route_softmax_topk(const RouterParams& p, const float* logits, const float* bias, float* scores, int32_t* idx,
                        float* weights) {
  const int64_t E = p.n_experts;
  for (int64_t e = 0; e < E; ++e) scores[e] = bias ? logits[e] + bias[e] : logits[e];
  for (int64_t k = 0; k < p.top_k; ++k) {
    const int64_t e = argmax_untaken(scores, E);
    idx[k] = int32_t(e);
    weights[k] = scores[e];
    scores[e] = NAN;
  }
  softmax_scores(weights, p.top_k, weights);  // in place: reads every value before writing
}

}  // namespace

void route(const RouterParams& p, const float* logits, const float* bias, float* scratch, int32_t* idx,
           float* weights) {
  const int64_t E = p.n_experts;
  float* scores = scratch;        // [E] scores used for the weights
  float* choice = scratch + E;    // [E] scores used for the selection
  float* groups = scratch + 2 * E;  // [n_group]
  if (p.scoring == ScoringFunc::kSoftmaxTopk) {
    route_softmax_topk(p, logits, bias, scores, idx, weights);
    return;
  }
  if (p.scoring == ScoringFunc::kSoftmax) {
    softmax_scores(logits, E, scores);
  } else {
    for (int64_t e = 0; e < E; ++e) scores[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  }
  for (int64_t e = 0; e < E; ++e) choice[e] = bias ? scores[e] + bias[e] : scores[e];
  if (p.method != TopkMethod::kGreedy && p.n_group > 1) mask_groups(p, choice, groups);
  float sum = 0.0f;
  for (int64_t k = 0; k < p.top_k; ++k) {
    const int64_t e = argmax_untaken(choice, E);
    choice[e] = NAN;
    idx[k] = int32_t(e);
    weights[k] = scores[e];
    sum += scores[e];
  }
  const float denominator = p.norm_topk_prob ? sum + 1e-20f : 1.0f;
  for (int64_t k = 0; k < p.top_k; ++k) weights[k] = weights[k] / denominator * p.routed_scaling_factor;
}

}  // namespace mote::kernels
