// Router: selection with the correction bias, group masking, ties, weights; and random cases
// against the naive sort-based router.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/router.h"
#include "runtime/naive_forward.h"

namespace mote::blocks {
namespace {

using kernels::route;
using kernels::RouterParams;

struct Routed {
  std::vector<int32_t> idx;
  std::vector<float> w;
};

Routed run(const RouterParams& p, const std::vector<float>& logits, const std::vector<float>* bias = nullptr) {
  std::vector<float> scratch(size_t(p.scratch_size()));
  Routed r;
  r.idx.resize(size_t(p.top_k));
  r.w.resize(size_t(p.top_k));
  route(p, logits.data(), bias ? bias->data() : nullptr, scratch.data(), r.idx.data(), r.w.data());
  return r;
}

float logit(double p) { return float(std::log(p / (1 - p))); }

RouterParams v3(int64_t E, int64_t G, int64_t topk_group, int64_t k) {
  RouterParams p;
  p.scoring = ScoringFunc::kSigmoid;
  p.method = TopkMethod::kNoauxTc;
  p.n_experts = E;
  p.n_group = G;
  p.topk_group = topk_group;
  p.top_k = k;
  p.norm_topk_prob = true;
  p.routed_scaling_factor = 2.5f;
  return p;
}

TEST(Router, CorrectionBiasChangesTheSelectionButNotTheWeights) {
  const RouterParams p = v3(8, 1, 1, 2);
  std::vector<float> logits;
  for (double s : {0.9, 0.8, 0.3, 0.2, 0.1, 0.5, 0.4, 0.05}) logits.push_back(logit(s));
  const Routed plain = run(p, logits);
  EXPECT_EQ(plain.idx, (std::vector<int32_t>{0, 1}));
  std::vector<float> bias(8, 0.0f);
  bias[5] = 0.6f;  // 0.5 + 0.6 = 1.1: now the best choice
  const Routed biased = run(p, logits, &bias);
  EXPECT_EQ(biased.idx, (std::vector<int32_t>{5, 0}));
  // Weights from the un-biased sigmoid scores, normalised, times routed_scaling_factor.
  EXPECT_NEAR(biased.w[0], 0.5 / (0.5 + 0.9) * 2.5, 1e-6);
  EXPECT_NEAR(biased.w[1], 0.9 / (0.5 + 0.9) * 2.5, 1e-6);
}

TEST(Router, GroupScoreIsTheSumOfTheTopTwo) {
  // 4 groups of 2. Expert 0 is the best single expert, but its group sums to 0.96 and loses to
  // groups 1 (1.2) and 2 (1.1); topk_group = 2 keeps only those.
  const RouterParams p = v3(8, 4, 2, 3);
  std::vector<float> logits;
  for (double s : {0.95, 0.01, 0.6, 0.6, 0.55, 0.55, 0.5, 0.5}) logits.push_back(logit(s));
  const Routed r = run(p, logits);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{2, 3, 4}));  // the 0.55 tie goes to the lower index
}

TEST(Router, MaskedGroupsAreMinusInfinityNotZero) {
  // Group 0 wins (sum 0.3 vs 0.2) although two of its experts have negative biased scores. With
  // -inf masking (DeepSeek's inference/model.py) the third pick is expert 2 (-0.3); HF's 0.0 mask
  // would pick an expert of the masked group instead.
  const RouterParams p = v3(8, 2, 1, 3);
  const std::vector<float> scores = {0.7f, 0.6f, 0.2f, 0.1f, 0.1f, 0.1f, 0.05f, 0.0001f};
  const std::vector<float> bias = {-0.5f, -0.5f, -0.5f, -0.5f, 0.0f, 0.0f, 0.0f, 0.0f};
  std::vector<float> logits;
  for (float s : scores) logits.push_back(logit(s));
  const Routed r = run(p, logits, &bias);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{0, 1, 2}));
}

TEST(Router, TiesPreferTheLowerIndex) {
  RouterParams p;
  p.scoring = ScoringFunc::kSoftmax;
  p.method = TopkMethod::kGreedy;
  p.n_experts = 6;
  p.top_k = 3;
  EXPECT_EQ(run(p, std::vector<float>(6, 0.25f)).idx, (std::vector<int32_t>{0, 1, 2}));
  // Equal groups: the lower groups are kept.
  const RouterParams g = v3(8, 4, 2, 4);
  EXPECT_EQ(run(g, std::vector<float>(8, 1.0f)).idx, (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST(Router, SoftmaxGreedyWithoutNormalisation) {
  RouterParams p;
  p.scoring = ScoringFunc::kSoftmax;
  p.method = TopkMethod::kGreedy;
  p.n_experts = 4;
  p.top_k = 2;
  p.routed_scaling_factor = 16.0f;
  const std::vector<float> logits = {0.0f, std::log(3.0f), std::log(2.0f), std::log(4.0f)};  // probs 1,3,2,4 /10
  const Routed r = run(p, logits);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{3, 1}));
  EXPECT_NEAR(r.w[0], 0.4 * 16, 1e-5);
  EXPECT_NEAR(r.w[1], 0.3 * 16, 1e-5);
}

TEST(Router, GroupLimitedGreedyUsesTheGroupMaximum) {
  RouterParams p;
  p.scoring = ScoringFunc::kSoftmax;
  p.method = TopkMethod::kGroupLimitedGreedy;
  p.n_experts = 4;
  p.n_group = 2;
  p.topk_group = 1;
  p.top_k = 2;
  // probs: group 0 = {0.4, 0.0x}, group 1 = {0.3, 0.3}: max keeps group 0 (a sum would keep group 1).
  const std::vector<float> logits = {std::log(0.4f), std::log(0.001f), std::log(0.3f), std::log(0.299f)};
  const Routed r = run(p, logits);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{0, 1}));
}

TEST(Router, NormalisedWeightsSumToTheScalingFactor) {
  const RouterParams p = v3(16, 4, 2, 4);
  std::mt19937 gen(3);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> logits(16);
  for (float& x : logits) x = dist(gen);
  const Routed r = run(p, logits);
  float sum = 0;
  for (float w : r.w) sum += w;
  EXPECT_NEAR(sum, 2.5f, 1e-5);
}

TEST(Router, MatchesTheNaiveRouterOnRandomLogits) {
  std::mt19937 gen(11);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::uniform_real_distribution<float> bias_dist(-0.3f, 0.3f);
  const TopkMethod methods[] = {TopkMethod::kNoauxTc, TopkMethod::kGroupLimitedGreedy, TopkMethod::kGreedy};
  for (TopkMethod method : methods) {
    for (int trial = 0; trial < 200; ++trial) {
      HParams hp;
      hp.n_routed_experts = 16;
      hp.n_group = method == TopkMethod::kGreedy ? 1 : 4;
      hp.topk_group = method == TopkMethod::kGreedy ? 1 : 2;
      hp.n_experts_per_tok = 1 + trial % 6;
      hp.topk_method = method;
      hp.scoring_func = method == TopkMethod::kNoauxTc ? ScoringFunc::kSigmoid : ScoringFunc::kSoftmax;
      hp.norm_topk_prob = trial % 2 == 0;
      hp.routed_scaling_factor = 1.5f;
      std::vector<float> logits(16), bias(16);
      std::vector<double> logits64(16);
      for (int e = 0; e < 16; ++e) {
        logits[size_t(e)] = dist(gen);
        logits64[size_t(e)] = logits[size_t(e)];
        bias[size_t(e)] = bias_dist(gen);
      }
      const float* b = method == TopkMethod::kNoauxTc ? bias.data() : nullptr;
      std::vector<int> want_idx;
      std::vector<double> want_w;
      test::naive_route(hp, logits64, b, &want_idx, &want_w);
      const RouterParams p = router_params(hp);
      std::vector<float> scratch(size_t(p.scratch_size()));
      std::vector<int32_t> idx(size_t(p.top_k));
      std::vector<float> w(size_t(p.top_k));
      route(p, logits.data(), b, scratch.data(), idx.data(), w.data());
      for (int64_t k = 0; k < p.top_k; ++k) {
        ASSERT_EQ(idx[size_t(k)], want_idx[size_t(k)]) << "method " << int(method) << " trial " << trial;
        ASSERT_NEAR(w[size_t(k)], want_w[size_t(k)], 1e-5);
      }
    }
  }
}

}  // namespace
}  // namespace mote::blocks
