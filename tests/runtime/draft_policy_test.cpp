// DraftPolicy (runtime/session/draft_policy.h), fed synthetic step times and acceptances: it
// drafts when (1 + acceptance) * t1 / t2 is clearly above 1, stops when it falls below 1, probes
// at a bounded and falling rate while not drafting, keeps its state inside the hysteresis band,
// follows a change of cost, and kAlways drafts every step.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "session/draft_policy.h"

namespace mote {
namespace {

struct Steps {
  int64_t drafts = 0, plain = 0;
};

// Runs `steps` decisions. A draft step takes t2 seconds and is accepted when accept(i) says so
// (i counts draft steps); a plain step takes t1.
Steps simulate(DraftPolicy& p, int64_t steps, double t1, double t2, const std::function<bool(int64_t)>& accept) {
  Steps r;
  for (int64_t i = 0; i < steps; ++i) {
    if (p.next_is_draft()) {
      p.record_draft(t2, accept(r.drafts));
      ++r.drafts;
    } else {
      p.record_plain(t1);
      ++r.plain;
    }
  }
  return r;
}

// Accepts `rate` of the drafts, evenly spread.
std::function<bool(int64_t)> rate(double r) {
  return [r](int64_t i) { return int64_t(double(i + 1) * r) > int64_t(double(i) * r); };
}

TEST(DraftPolicy, DraftsWhenItPays) {
  DraftPolicy p;
  // 90% acceptance, a draft step costs 1.3 plain steps: (1 + 0.9) / 1.3 = 1.46.
  const Steps r = simulate(p, 1000, 1e-3, 1.3e-3, rate(0.9));
  EXPECT_TRUE(p.drafting());
  EXPECT_NEAR(p.predicted_speedup(), 1.9 / 1.3, 0.1);
  // Everything but the refresh plain steps (1 in 16) drafts.
  EXPECT_GE(r.drafts, 900);
  EXPECT_LE(r.plain, 1000 / 16 + 20);  // + the plain steps before the first probe drafted
  EXPECT_EQ(p.skipped(), r.plain);
}

TEST(DraftPolicy, StopsWhenItDoesNotPayAndProbesAtABoundedFallingRate) {
  DraftPolicy p;
  // Never accepted, a draft step costs 1.8 plain steps: predicted 1 / 1.8.
  const Steps first = simulate(p, 1000, 1e-3, 1.8e-3, rate(0));
  EXPECT_FALSE(p.drafting());
  EXPECT_LT(p.predicted_speedup(), 1.0);
  // Bootstrap + probes after gaps of 16, 32, ... 512 plain steps: about 6 in 1000 steps.
  EXPECT_GE(first.drafts, 3);
  EXPECT_LE(first.drafts, 12);
  EXPECT_EQ(p.probes(), first.drafts - 1);
  // Later the gap stays at probe_max: one probe per 513 steps.
  const Steps later = simulate(p, 10000, 1e-3, 1.8e-3, rate(0));
  EXPECT_GE(later.drafts, 10000 / 513 - 1);
  EXPECT_LE(later.drafts, 10000 / 513 + 1);
}

TEST(DraftPolicy, HighAcceptanceDoesNotPayWhenTheTwoTokenPassCostsTwo) {
  // The demo model's case: compute-bound, a draft step costs 2.2 plain steps; even 80%
  // acceptance predicts 1.8 / 2.2 < 1.
  DraftPolicy p;
  const Steps r = simulate(p, 2000, 1e-3, 2.2e-3, rate(0.8));
  EXPECT_FALSE(p.drafting());
  EXPECT_LT(r.drafts, 2000 / 50);
}

// Feeds n plain and n draft times directly (no decisions), draft i accepted when accept(i).
void feed(DraftPolicy& p, int64_t n, double t1, double t2, const std::function<bool(int64_t)>& accept) {
  for (int64_t i = 0; i < n; ++i) {
    p.record_plain(t1);
    p.record_draft(t2, accept(i));
  }
}

TEST(DraftPolicy, HysteresisKeepsTheStateInsideTheBand) {
  DraftPolicyConfig c;
  c.enter = 1.10;
  c.leave = 0.95;
  auto alternate = [](int64_t i) { return i % 2 == 1; };  // 50%, first rejected
  // Predicted (1 + 0.5) / 1.47 = 1.02, inside [leave, enter): neither state changes.
  DraftPolicy off(DraftMode::kAdaptive, c);
  feed(off, 600, 1e-3, 1.47e-3, alternate);
  EXPECT_NEAR(off.predicted_speedup(), 1.02, 0.03);
  EXPECT_FALSE(off.drafting());

  DraftPolicy on(DraftMode::kAdaptive, c);
  feed(on, 100, 1e-3, 1.0e-3, rate(1));
  ASSERT_TRUE(on.drafting());
  feed(on, 600, 1e-3, 1.47e-3, alternate);
  EXPECT_NEAR(on.predicted_speedup(), 1.02, 0.03);
  EXPECT_TRUE(on.drafting());

  // Above enter it starts, below leave it stops.
  feed(off, 300, 1e-3, 1.2e-3, alternate);
  EXPECT_TRUE(off.drafting());
  feed(on, 600, 1e-3, 1.8e-3, alternate);
  EXPECT_FALSE(on.drafting());
}

TEST(DraftPolicy, FollowsAChangeOfCost) {
  DraftPolicy p;
  simulate(p, 500, 1e-3, 1.2e-3, rate(0.8));
  ASSERT_TRUE(p.drafting());
  // The draft token's experts start missing the cache: draft steps cost 3 plain steps.
  simulate(p, 500, 1e-3, 3e-3, rate(0.8));
  EXPECT_FALSE(p.drafting());
  // They are resident again: the next probes see it and drafting resumes (after at most two
  // probe gaps of up to 512 steps).
  const Steps r = simulate(p, 2000, 1e-3, 1.2e-3, rate(0.8));
  EXPECT_TRUE(p.drafting());
  EXPECT_GT(r.drafts, 800);
}

TEST(DraftPolicy, AcceptanceTracksTheRate) {
  DraftPolicy p(DraftMode::kAlways);
  simulate(p, 400, 1e-3, 1e-3, rate(0.25));
  EXPECT_NEAR(p.acceptance(), 0.25, 0.08);
  simulate(p, 400, 1e-3, 1e-3, rate(0.75));
  EXPECT_NEAR(p.acceptance(), 0.75, 0.08);
}

TEST(DraftPolicy, SlowOutliersBarelyMoveTheTimes) {
  DraftPolicy p(DraftMode::kAlways);
  for (int i = 0; i < 100; ++i) p.record_plain(1e-3);
  for (int i = 0; i < 5; ++i) p.record_plain(50e-3);  // preempted by another process
  EXPECT_LT(p.plain_seconds(), 1.5e-3);
  for (int i = 0; i < 100; ++i) p.record_plain(2e-3);  // a real rise is followed
  EXPECT_GT(p.plain_seconds(), 1.8e-3);
}

TEST(DraftPolicy, AlwaysModeDraftsEveryStep) {
  DraftPolicy p(DraftMode::kAlways);
  const Steps r = simulate(p, 500, 1e-3, 5e-3, rate(0));
  EXPECT_EQ(r.drafts, 500);
  EXPECT_EQ(p.skipped(), 0);
  EXPECT_EQ(p.predicted_speedup(), 0.0);  // no plain step ever measured t1
}

}  // namespace
}  // namespace mote
