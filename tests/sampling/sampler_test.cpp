// Sampler: greedy, determinism, the filters (hand-computed small cases and a brute-force check
// on a DeepSeek-sized vocab), the empirical distribution against softmax, and no allocation.
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/alloc_counter.h"

namespace mote {
namespace {

constexpr int64_t kDeepSeekVocab = 129280;

Sampler make(const SamplingParams& p, int64_t vocab) {
  Result<Sampler> s = Sampler::create(p, vocab);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return std::move(s).value();
}

// Deterministic pseudo-random logits in [lo, hi), from our own PRNG.
std::vector<float> random_logits(int64_t n, uint64_t seed, float lo = -8.0f, float hi = 8.0f) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = lo + float(rng.uniform()) * (hi - lo);
  return v;
}

// log of the given probabilities: softmax of the result gives them back.
std::vector<float> logits_of(std::vector<double> probs) {
  std::vector<float> v;
  for (double p : probs) v.push_back(float(std::log(p)));
  return v;
}

std::vector<int32_t> ids_of(std::span<const TokenCandidate> c) {
  std::vector<int32_t> ids;
  for (const TokenCandidate& t : c) ids.push_back(t.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

double prob_of(std::span<const TokenCandidate> c, int32_t id) {
  for (const TokenCandidate& t : c)
    if (t.id == id) return t.p;
  return 0.0;
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler s = make({}, 1000);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> l = random_logits(1000, seed);
    EXPECT_EQ(s.sample(l), int32_t(std::max_element(l.begin(), l.end()) - l.begin()));
  }
  std::vector<float> ties(1000, 1.0f);
  ties[7] = ties[300] = ties[999] = 5.0f;
  EXPECT_EQ(s.sample(ties), 7);
  ties[3] = std::numeric_limits<float>::quiet_NaN();  // NaN never wins
  ties[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(s.sample(ties), 7);
  ASSERT_EQ(s.candidates().size(), 1u);
  EXPECT_EQ(s.candidates()[0].p, 1.0f);
  EXPECT_EQ(s.probabilities()[7], 1.0f);
  EXPECT_EQ(s.probabilities()[300], 0.0f);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferent) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  const std::vector<float> l = random_logits(5000, 1, -1.0f, 1.0f);  // flat: many likely tokens
  auto run = [&](Sampler& s) {
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(l));
    return out;
  };
  Sampler a = make(p, 5000), b = make(p, 5000);
  const std::vector<int32_t> seq = run(a);
  EXPECT_EQ(seq, run(b));
  a.reset();
  EXPECT_EQ(seq, run(a)) << "reset() restarts the PRNG";
  p.seed = 43;
  Sampler c = make(p, 5000);
  EXPECT_NE(seq, run(c));
  a.reseed(43);
  EXPECT_EQ(a.params().seed, 43u);
  c.reset();
  EXPECT_EQ(run(a), run(c));
}

// Golden values from an independent Python implementation of splitmix64 + xoshiro256** and of
// the inverse-CDF draw (the closest draw lies 9e-5 from a boundary: far above float error).
TEST(Sampler, PinnedSequenceIsPlatformIndependent) {
  Rng rng(0);
  EXPECT_EQ(rng.next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(rng.next(), 0xbf6e1f784956452aull);
  EXPECT_EQ(rng.next(), 0x1a5f849d4933e6e0ull);
  Rng r42(42);
  EXPECT_EQ(r42.next(), 0x15780b2e0c2ec716ull);
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 123;
  Sampler s = make(p, 5);
  const std::vector<float> l = {0.0f, 1.0f, 2.0f, 3.0f, 0.5f};
  std::vector<int32_t> got;
  for (int i = 0; i < 16; ++i) got.push_back(s.sample(l));
  EXPECT_EQ(got, (std::vector<int32_t>{2, 4, 3, 2, 2, 4, 3, 3, 3, 3, 3, 3, 1, 2, 3, 2}));
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 1;
  Sampler s = make(p, 4000);
  Sampler g = make({}, 4000);
  for (uint64_t seed = 0; seed < 30; ++seed) {
    std::vector<float> l = random_logits(4000, seed + 100);
    EXPECT_EQ(s.sample(l), g.sample(l));
  }
}

// Chi-square of `draws` samples against the sampler's own reported distribution and against
// an independently computed expected one. 7 degrees of freedom; 24.3 is the 0.1% tail.
void expect_matches(Sampler& s, std::span<const float> logits,
                    const std::vector<double>& expected) {
  const int draws = 200000;
  std::vector<int> hist(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++hist[size_t(s.sample(logits))];
  double chi2 = 0.0;
  int cells = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (expected[i] == 0.0) {
      EXPECT_EQ(hist[i], 0) << "token " << i << " was filtered out";
      continue;
    }
    const double e = expected[i] * draws;
    chi2 += (hist[i] - e) * (hist[i] - e) / e;
    ++cells;
  }
  EXPECT_LT(chi2, cells <= 8 ? 24.3 : 3.0 * cells) << "cells " << cells;
}

TEST(Sampler, EmpiricalDistributionMatchesSoftmax) {
  const std::vector<float> l = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f, 1.2f, 0.7f};
  for (float t : {1.0f, 0.7f, 2.0f}) {
    std::vector<double> expected(l.size());
    double z = 0.0;
    for (size_t i = 0; i < l.size(); ++i) z += (expected[i] = std::exp(double(l[i]) / t));
    for (double& e : expected) e /= z;
    SamplingParams p;
    p.temperature = t;
    p.seed = 7;
    Sampler s = make(p, int64_t(l.size()));
    for (const TokenCandidate& c : s.distribution(l))
      EXPECT_NEAR(c.p, expected[size_t(c.id)], 1e-6);
    SCOPED_TRACE(t);
    expect_matches(s, l, expected);
  }
}

TEST(Sampler, EmpiricalDistributionAfterTopK) {
  const std::vector<float> l = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f, 1.2f, 0.7f};
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 4;  // keeps ids 3, 6, 0, 7
  p.seed = 99;
  std::vector<double> expected(l.size(), 0.0);
  double z = 0.0;
  for (int id : {3, 6, 0, 7}) z += (expected[size_t(id)] = std::exp(double(l[size_t(id)]) / 0.8));
  for (double& e : expected) e /= z;
  Sampler s = make(p, int64_t(l.size()));
  expect_matches(s, l, expected);
}

TEST(Sampler, TopPKeepsSmallestNucleus) {
  // probabilities 0.5 (id 2), 0.25 (id 0), 0.15 (id 3), 0.1 (id 1)
  const std::vector<float> l = logits_of({0.25, 0.1, 0.5, 0.15});
  SamplingParams p;
  p.temperature = 1.0f;
  auto kept = [&](float top_p) {
    p.top_p = top_p;
    Sampler s = make(p, 4);
    return ids_of(s.distribution(l));
  };
  EXPECT_EQ(kept(0.45f), (std::vector<int32_t>{2}));
  EXPECT_EQ(kept(0.7f), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(kept(0.8f), (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ(kept(0.95f), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(kept(1.0f), (std::vector<int32_t>{0, 1, 2, 3}));
  p.top_p = 0.7f;  // renormalized over the kept two: 2/3 and 1/3
  Sampler s = make(p, 4);
  const auto d = s.distribution(l);
  EXPECT_NEAR(prob_of(d, 2), 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(prob_of(d, 0), 1.0 / 3.0, 1e-6);
  EXPECT_EQ(d[0].id, 0) << "kept set in ascending id order";
}

TEST(Sampler, MinPKeepsTokensAboveFractionOfTop) {
  const std::vector<float> l = logits_of({0.25, 0.1, 0.5, 0.15});
  SamplingParams p;
  p.temperature = 1.0f;
  auto kept = [&](float min_p) {
    p.min_p = min_p;
    Sampler s = make(p, 4);
    return ids_of(s.distribution(l));
  };
  EXPECT_EQ(kept(0.25f), (std::vector<int32_t>{0, 2, 3}));  // >= 0.125
  EXPECT_EQ(kept(0.4f), (std::vector<int32_t>{0, 2}));      // >= 0.2
  EXPECT_EQ(kept(0.6f), (std::vector<int32_t>{2}));         // >= 0.3
  EXPECT_EQ(kept(1.0f), (std::vector<int32_t>{2}));
  EXPECT_EQ(kept(0.1f), (std::vector<int32_t>{0, 1, 2, 3}));
  p.min_p = 0.4f;
  p.top_p = 0.45f;  // intersection with top-p: the shorter prefix
  EXPECT_EQ(ids_of(make(p, 4).distribution(l)), (std::vector<int32_t>{2}));
  p.min_p = 0.25f;
  p.top_p = 0.7f;
  EXPECT_EQ(ids_of(make(p, 4).distribution(l)), (std::vector<int32_t>{0, 2}));
}

TEST(Sampler, TopPMeasuresMassAfterTopK) {
  // 0.4, 0.3, 0.2, 0.1. Alone, top-p 0.55 needs two tokens (0.4 < 0.55 <= 0.7); after top-k 2
  // the top token has 4/7 = 0.571 >= 0.55 (llama.cpp renormalizes between filters).
  const std::vector<float> l = logits_of({0.1, 0.4, 0.2, 0.3});
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.55f;
  EXPECT_EQ(ids_of(make(p, 4).distribution(l)), (std::vector<int32_t>{1, 3}));
  p.top_k = 2;
  EXPECT_EQ(ids_of(make(p, 4).distribution(l)), (std::vector<int32_t>{1}));
}

TEST(Sampler, TemperatureReshapesTheKeptSet) {
  const std::vector<float> l = {2.0f, 1.0f, 0.0f, -5.0f};
  SamplingParams p;
  p.temperature = 0.5f;
  p.top_k = 3;
  Sampler s = make(p, 4);
  const auto d = s.distribution(l);
  ASSERT_EQ(d.size(), 3u);
  const double z = std::exp(4.0) + std::exp(2.0) + 1.0;
  EXPECT_NEAR(prob_of(d, 0), std::exp(4.0) / z, 1e-6);
  EXPECT_NEAR(prob_of(d, 1), std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(prob_of(d, 2), 1.0 / z, 1e-6);
  // A tiny temperature is greedy in effect, without NaN.
  p.temperature = 1e-30f;
  Sampler t = make(p, 4);
  EXPECT_NEAR(prob_of(t.distribution(l), 0), 1.0, 1e-12);
  EXPECT_EQ(t.sample(l), 0);
}

// Brute force: sort everything, apply the filters by their definitions. Skips NaN and -inf.
std::vector<int32_t> reference_filter(const std::vector<float>& l, int top_k, double top_p,
                                      double min_p) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < l.size(); ++i)
    if (l[i] > -std::numeric_limits<float>::infinity()) order.push_back(int32_t(i));
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return l[size_t(a)] > l[size_t(b)] || (l[size_t(a)] == l[size_t(b)] && a < b);
  });
  if (top_k > 0 && size_t(top_k) < order.size()) order.resize(size_t(top_k));
  const double max = l[size_t(order[0])];
  double z = 0.0;
  for (int32_t id : order) z += std::exp(double(l[size_t(id)]) - max);
  size_t keep = order.size();
  double cum = 0.0;
  for (size_t i = 0; i < order.size() && top_p < 1.0; ++i) {
    cum += std::exp(double(l[size_t(order[i])]) - max) / z;
    if (cum >= top_p) {
      keep = i + 1;
      break;
    }
  }
  order.resize(keep);
  if (min_p > 0)
    std::erase_if(order, [&](int32_t id) { return std::exp(l[size_t(id)] - max) < min_p; });
  std::sort(order.begin(), order.end());
  return order;
}

TEST(Sampler, FiltersOnDeepSeekVocabMatchBruteForce) {
  struct Case { float lo, hi; int top_k; float top_p, min_p; };
  // Flat logits give a nucleus of ~100k tokens (many doubling rounds); peaked ones a few.
  const Case cases[] = {{0.0f, 1.0f, 0, 0.9f, 0.0f},   {-20.0f, 20.0f, 0, 0.9f, 0.0f},
                        {-20.0f, 20.0f, 0, 0.5f, 0.0f}, {0.0f, 3.0f, 0, 0.99f, 0.2f},
                        {-5.0f, 5.0f, 200, 0.8f, 0.0f}, {-5.0f, 5.0f, 50000, 0.95f, 0.01f},
                        {-5.0f, 5.0f, 0, 1.0f, 0.05f},  {-5.0f, 5.0f, 40, 1.0f, 0.0f}};
  uint64_t seed = 1000;
  for (const Case& c : cases) {
    std::vector<float> l = random_logits(kDeepSeekVocab, ++seed, c.lo, c.hi);
    if (seed % 2 == 0)  // every other case: few distinct values, so ties straddle every cut
      for (float& x : l) x = std::round(x * 2.0f) / 2.0f;
    SamplingParams p;
    p.temperature = 0.8f;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    Sampler s = make(p, kDeepSeekVocab);
    const auto d = s.distribution(l);
    const std::vector<int32_t> expected = reference_filter(l, c.top_k, c.top_p, c.min_p);
    EXPECT_EQ(ids_of(d), expected) << "case lo " << c.lo << " top_k " << c.top_k << " top_p "
                                   << c.top_p << " min_p " << c.min_p << ": kept " << d.size()
                                   << " expected " << expected.size();
    double sum = 0.0;
    for (const TokenCandidate& t : d) sum += t.p;
    EXPECT_NEAR(sum, 1.0, 1e-4);
    const int32_t id = s.sample(l);
    EXPECT_TRUE(std::binary_search(expected.begin(), expected.end(), id));
  }
}

// top-k has two paths: a one-pass buffer for k <= n / 8, CutFinder above. Both against the
// brute force, with ties, masked tokens, and ascending logits (every token beats the buffer).
TEST(Sampler, TopKPathsMatchBruteForce) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int layout = 0; layout < 3; ++layout) {
    std::vector<float> l = random_logits(kDeepSeekVocab, 77 + uint64_t(layout), -6.0f, 6.0f);
    if (layout == 1) {
      for (float& x : l) x = std::round(x);  // 13 distinct values: ties across every cut
      for (size_t i = 0; i < l.size(); i += 7) l[i] = -std::numeric_limits<float>::infinity();
      for (size_t i = 3; i < l.size(); i += 101) l[i] = nan;
    }
    if (layout == 2) std::sort(l.begin(), l.end());
    for (int k : {1, 2, 40, 1000, 16160, 16161, 60000, 129279}) {
      SamplingParams p;
      p.temperature = 1.0f;
      p.top_k = k;
      Sampler s = make(p, kDeepSeekVocab);
      EXPECT_EQ(ids_of(s.distribution(l)), reference_filter(l, k, 1.0, 0.0))
          << "layout " << layout << " k " << k;
    }
  }
}

TEST(Sampler, MaskedAndInfiniteLogits) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SamplingParams p;
  p.temperature = 1.0f;
  Sampler s = make(p, 5);
  const std::vector<float> masked = {-inf, 1.0f, nan, -inf, 1.0f};
  const auto d = s.distribution(masked);
  EXPECT_EQ(ids_of(d), (std::vector<int32_t>{1, 4}));
  EXPECT_NEAR(prob_of(d, 1), 0.5, 1e-6);
  for (int i = 0; i < 50; ++i) {
    const int32_t id = s.sample(masked);
    EXPECT_TRUE(id == 1 || id == 4) << id;
  }
  const auto d_inf = s.distribution(std::vector<float>{0.0f, inf, 3.0f, inf, 1.0f});
  EXPECT_NEAR(prob_of(d_inf, 1), 0.5, 1e-6) << "+inf logits share the mass";
  EXPECT_NEAR(prob_of(d_inf, 3), 0.5, 1e-6);
  EXPECT_EQ(prob_of(d_inf, 2), 0.0);
  EXPECT_EQ(s.sample(std::vector<float>{-inf, -inf, nan, -inf, -inf}), 0);
  EXPECT_EQ(make({}, 5).sample(std::vector<float>{-inf, -inf, nan, -inf, -inf}), 0);
}

// logits [2, -1, 0.5, 3, -2]; history 0, 1, 1, 4 (token 1 twice).
TEST(Sampler, PenaltiesFollowTheirDefinitions) {
  const std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f};
  const std::vector<int32_t> history = {0, 1, 1, 4};
  auto penalized = [&](SamplingParams p) {
    p.temperature = 1.0f;
    Sampler s = make(p, 5);
    EXPECT_TRUE(s.accept_prompt(history).is_ok());
    std::vector<float> out(5);
    for (const TokenCandidate& c : s.distribution(l)) out[size_t(c.id)] = c.logit;
    return out;
  };
  SamplingParams rep;
  rep.repetition_penalty = 2.0f;  // positive / 2, negative * 2, unseen unchanged
  EXPECT_EQ(penalized(rep), (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f, -4.0f}));
  SamplingParams presence;
  presence.presence_penalty = 0.5f;  // once per present token
  EXPECT_EQ(penalized(presence), (std::vector<float>{1.5f, -1.5f, 0.5f, 3.0f, -2.5f}));
  SamplingParams freq;
  freq.frequency_penalty = 0.25f;  // per occurrence
  EXPECT_EQ(penalized(freq), (std::vector<float>{1.75f, -1.5f, 0.5f, 3.0f, -2.25f}));
  SamplingParams all = rep;  // repetition first, then presence and frequency
  all.presence_penalty = 0.5f;
  all.frequency_penalty = 0.25f;
  EXPECT_EQ(penalized(all), (std::vector<float>{0.25f, -3.0f, 0.5f, 3.0f, -4.75f}));
  SamplingParams window = all;  // only the last 2 tokens (1, 4) count; token 1 once
  window.penalty_last_n = 2;
  EXPECT_EQ(penalized(window), (std::vector<float>{2.0f, -2.75f, 0.5f, 3.0f, -4.75f}));
  SamplingParams off = all;
  off.penalty_last_n = 0;
  EXPECT_EQ(penalized(off), l);
  SamplingParams whole = all;
  whole.penalty_last_n = -1;
  EXPECT_EQ(penalized(whole), (std::vector<float>{0.25f, -3.0f, 0.5f, 3.0f, -4.75f}));
}

TEST(Sampler, PenaltyWindowSlidesAndGreedySeesPenalties) {
  SamplingParams p;
  p.repetition_penalty = 4.0f;
  p.penalty_last_n = 3;
  Sampler s = make(p, 4);
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, 0.0f};
  EXPECT_EQ(s.sample(l), 1);
  ASSERT_TRUE(s.accept(1).is_ok());
  EXPECT_EQ(s.sample(l), 2);  // 3 / 4 = 0.75 < 2
  for (int32_t id : {0, 0, 0}) ASSERT_TRUE(s.accept(id).is_ok());  // 1 leaves the window
  EXPECT_EQ(s.history().count(1), 0);
  EXPECT_EQ(s.history().count(0), 3);
  EXPECT_EQ(s.history().distinct().size(), 1u);
  EXPECT_EQ(s.sample(l), 1);
  s.reset();
  EXPECT_EQ(s.history().size(), 0);
  EXPECT_EQ(s.history().count(0), 0);
}

TEST(Sampler, AcceptRejectsBadIds) {
  SamplingParams p;
  p.repetition_penalty = 1.5f;
  Sampler s = make(p, 10);
  EXPECT_EQ(s.accept(10).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.accept(-1).code(), StatusCode::kInvalidArgument);
  const std::vector<int32_t> bad = {1, 2, 99};
  const Status st = s.accept_prompt(bad);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("99"), std::string::npos) << st.message();
  EXPECT_EQ(s.history().size(), 0) << "nothing recorded on error";
  EXPECT_TRUE(s.accept(9).is_ok());
}

TEST(Sampler, CreateRejectsBadArguments) {
  EXPECT_EQ(Sampler::create({}, 0).status().code(), StatusCode::kInvalidArgument);
  SamplingParams p;
  p.top_p = 0.0f;
  const auto r = Sampler::create(p, 10);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("top_p"), std::string::npos);
}

TEST(Sampler, ProbabilitiesAreTheDenseDistribution) {
  SamplingParams p;
  p.temperature = 0.9f;
  p.top_k = 50;
  p.top_p = 0.9f;
  Sampler s = make(p, 1000);
  const std::vector<float> l = random_logits(1000, 5, -3.0f, 3.0f);
  s.sample(l);
  const auto dense = s.probabilities();
  ASSERT_EQ(dense.size(), 1000u);
  double sum = 0.0;
  int nonzero = 0;
  for (float x : dense) {
    sum += x;
    nonzero += x > 0.0f;
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(size_t(nonzero), s.candidates().size());
  for (const TokenCandidate& c : s.candidates()) EXPECT_EQ(dense[size_t(c.id)], c.p);
}

TEST(Sampler, SampleDoesNotAllocate) {
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_p = 0.95f;
  p.min_p = 0.01f;
  p.repetition_penalty = 1.1f;
  p.presence_penalty = 0.2f;
  p.frequency_penalty = 0.1f;
  p.penalty_last_n = 128;
  SamplingParams top_k_p = p;  // llama.cpp-like defaults: top-k before top-p
  top_k_p.top_k = 40;
  SamplingParams greedy_p = p;
  greedy_p.temperature = 0.0f;
  SamplingParams whole_p = p;  // whole-context window, no filters
  whole_p.penalty_last_n = -1;
  whole_p.top_p = 1.0f;
  whole_p.min_p = 0.0f;
  std::vector<Sampler> samplers;
  for (const SamplingParams& q : {p, top_k_p, greedy_p, whole_p})
    samplers.push_back(make(q, kDeepSeekVocab));
  const std::vector<float> l = random_logits(kDeepSeekVocab, 3, -4.0f, 4.0f);
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
  int64_t allocations = 0;
  {
    test::CountAllocations counter;
    for (Sampler& s : samplers) {
      ASSERT_TRUE(s.accept_prompt(prompt).is_ok());
      for (int i = 0; i < 40; ++i) ASSERT_TRUE(s.accept(s.sample(l)).is_ok());
      s.distribution(l);
      s.probabilities();
      s.reset();
    }
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0);
  test::CountAllocations counter;  // the counter does see allocations
  std::vector<float> copy(l.begin(), l.end());
  EXPECT_GT(counter.count(), 0);
  EXPECT_EQ(copy.size(), l.size());
}

}  // namespace
}  // namespace mote
