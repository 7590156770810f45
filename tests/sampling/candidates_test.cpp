// CutFinder against a full sort (the kept set and its order): random, tied, extreme and tiny
// inputs, both the direct path (small inputs) and the histogram path.
#include "sampling/candidates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "sampling/rng.h"

namespace mote {
namespace {

struct Input {
  std::vector<TokenCandidate> c;
  float lo = FLT_MAX, hi = -FLT_MAX;
};

// n candidates with `distinct` possible logits spread over [-span, span] (0 = continuous),
// weights p = exp(logit - max), in a shuffled id order.
Input make_input(int64_t n, uint64_t seed, float span, int distinct) {
  Rng rng(seed);
  Input in;
  for (int64_t i = 0; i < n; ++i) {
    float x = float(rng.uniform());
    if (distinct > 0) x = std::floor(x * float(distinct)) / float(distinct);
    in.c.push_back({int32_t(i), (2.0f * x - 1.0f) * span, 0.0f});
  }
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(in.c[size_t(i)], in.c[rng.next() % uint64_t(i + 1)]);
  for (const TokenCandidate& t : in.c) {
    in.lo = std::min(in.lo, t.logit);
    in.hi = std::max(in.hi, t.logit);
  }
  for (TokenCandidate& t : in.c) t.p = std::exp(t.logit - in.hi);
  return in;
}

std::vector<TokenCandidate> sorted(std::vector<TokenCandidate> c) {
  std::sort(c.begin(), c.end(), better);
  return c;
}

// Runs a keep_* call on a copy of `in` and checks it kept exactly order[0, count), in the input's
// order.
template <typename Keep>
void expect_keeps(const std::vector<TokenCandidate>& in, const std::vector<TokenCandidate>& order,
                  size_t count, Keep keep) {
  std::vector<TokenCandidate> c = in;
  const int64_t kept = keep(std::span<TokenCandidate>(c));
  ASSERT_EQ(size_t(kept), count);
  std::vector<bool> want(in.size() + 1, false);
  for (size_t i = 0; i < count; ++i) want[size_t(order[i].id)] = true;
  size_t next = 0;  // walks `in`: the kept ones must appear in input order
  for (int64_t i = 0; i < kept; ++i) {
    const TokenCandidate& t = c[size_t(i)];
    ASSERT_TRUE(want[size_t(t.id)]) << "kept id " << t.id << " is past the cut";
    while (next < in.size() && in[next].id != t.id) ++next;
    ASSERT_LT(next, in.size()) << "order not preserved at " << i;
  }
}

TEST(CutFinder, KthMatchesFullSort) {
  Result<CutFinder> finder = CutFinder::create(200000);
  ASSERT_TRUE(finder.is_ok());
  const int64_t sizes[] = {1, 2, 7, 255, 256, 257, 1000, 129280};
  for (int64_t n : sizes)
    for (int distinct : {0, 3, 50}) {
      const Input in = make_input(n, uint64_t(n * 31 + distinct), 10.0f, distinct);
      const std::vector<TokenCandidate> order = sorted(in.c);
      for (int64_t k : {int64_t(1), int64_t(2), n / 3 + 1, n / 2 + 1, n - 1, n}) {
        if (k < 1 || k > n) continue;
        SCOPED_TRACE(testing::Message() << "n " << n << " distinct " << distinct << " k " << k);
        expect_keeps(in.c, order, size_t(k), [&](std::span<TokenCandidate> c) {
          return finder->keep_top_k(c, k, in.lo, in.hi);
        });
      }
    }
}

TEST(CutFinder, MassCutMatchesFullSort) {
  Result<CutFinder> finder = CutFinder::create(200000);
  ASSERT_TRUE(finder.is_ok());
  int checked = 0;
  for (int64_t n : {int64_t(1), int64_t(100), int64_t(5000), int64_t(129280)})
    for (int distinct : {0, 4, 1000})
      for (float span : {0.5f, 8.0f, 40.0f}) {
        const Input in = make_input(n, uint64_t(n + distinct) * 7 + uint64_t(span), span, distinct);
        const std::vector<TokenCandidate> order = sorted(in.c);
        double total = 0.0;
        for (const TokenCandidate& t : order) total += t.p;
        for (double frac : {0.05, 0.5, 0.9, 0.999}) {
          const double target = frac * total;
          double cum = 0.0;
          size_t want = order.size() - 1;
          for (size_t i = 0; i < order.size(); ++i) {
            cum += order[i].p;
            if (cum >= target) {
              want = i;
              break;
            }
          }
          // Skip the cases whose crossing lies within rounding of a boundary.
          if (std::abs(cum - target) < 1e-9 * total ||
              (want > 0 && std::abs(cum - order[want].p - target) < 1e-9 * total))
            continue;
          SCOPED_TRACE(testing::Message() << "n " << n << " distinct " << distinct << " span "
                                          << span << " frac " << frac);
          expect_keeps(in.c, order, want + 1, [&](std::span<TokenCandidate> c) {
            return finder->keep_top_mass(c, target, in.lo, in.hi);
          });
          ++checked;
        }
      }
  EXPECT_GT(checked, 135);  // of 144: few crossings sit on a rounding boundary
}

TEST(CutFinder, ExtremeLogits) {
  Result<CutFinder> finder = CutFinder::create(1000);
  ASSERT_TRUE(finder.is_ok());
  std::vector<TokenCandidate> c;
  for (int32_t i = 0; i < 1000; ++i)
    c.push_back({i, i % 3 == 0 ? FLT_MAX : (i % 3 == 1 ? -FLT_MAX : 0.0f), 1.0f});
  const std::vector<TokenCandidate> order = sorted(c);
  for (int64_t k : {1, 334, 335, 600, 1000, 2000})
    expect_keeps(c, order, size_t(std::min<int64_t>(k, 1000)), [&](std::span<TokenCandidate> x) {
      return finder->keep_top_k(x, k, -FLT_MAX, FLT_MAX);
    });
  expect_keeps(c, order, 500, [&](std::span<TokenCandidate> x) {
    return finder->keep_top_mass(x, 500.0, -FLT_MAX, FLT_MAX);
  });
}

}  // namespace
}  // namespace mote
