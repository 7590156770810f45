// DraftPolicy (runtime/session/draft_policy.h), fed synthetic step times and acceptances: it
// drafts when (1 + acceptance) * t1 / t2 is clearly above 1, stops when it falls below 1, probes
// at a bounded and falling rate while not drafting, keeps its state inside the hysteresis band,
// follows a change of cost, and kAlways drafts every step.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>

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

// The bootstrap's draft step is the session's first: cold, or preempted on a shared machine (a
// CI run measured a cost ratio of 9.5 where 2 is usual). One such time must not hold a model where
// drafting pays from drafting for probe_max steps: a second probe comes within 16 plain steps.
TEST(DraftPolicy, OneSlowBootstrapDraftDoesNotDelayDraftingLong) {
  DraftPolicy p;
  ASSERT_TRUE(p.next_is_draft());
  p.record_draft(40e-3, true);  // 40 plain steps' time
  int64_t first_draft = -1;
  for (int64_t i = 0; i < 200 && first_draft < 0; ++i) {
    if (p.next_is_draft()) {
      p.record_draft(1.2e-3, true);  // the usual cost: (1 + a) / 1.2 > 1.5
      first_draft = i;
    } else {
      p.record_plain(1e-3);
    }
  }
  EXPECT_GE(first_draft, 0);
  EXPECT_LE(first_draft, 3 + 16);  // the bootstrap's plain steps, then at most 16 before a probe
  simulate(p, 200, 1e-3, 1.2e-3, rate(1));
  EXPECT_TRUE(p.drafting());
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

// Simulated decoding of `tokens` tokens on a noisy machine: every step's time is its kind's cost
// times the same noise draw (1 + |N(0, 0.3)|, and 3x on 5% of the steps: another process ran),
// a draft is accepted with probability `acceptance`. Returns the speed-up over plain decoding of
// the same steps (the plain time each emitted token would have taken under that step's noise).
double noisy_speedup(double acceptance, double cost, int64_t tokens, uint32_t seed, double switch_cost = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 0.3);
  std::uniform_real_distribution<double> uniform(0, 1);
  DraftPolicy p;
  double time = 0, plain_time = 0;
  int64_t emitted = 0;
  bool was_plain = false;
  while (emitted < tokens) {
    const double noise = (1 + std::abs(normal(rng))) * (uniform(rng) < 0.05 ? 3 : 1);
    if (p.next_is_draft()) {
      if (was_plain && switch_cost > 0) {  // the MTP catches up after plain steps
        p.record_switch(switch_cost * 1e-3 * noise);
        time += switch_cost * 1e-3 * noise;
      }
      const bool accepted = uniform(rng) < acceptance;
      p.record_draft(cost * 1e-3 * noise, accepted);
      time += cost * 1e-3 * noise;
      plain_time += (accepted ? 2 : 1) * 1e-3 * noise;
      emitted += accepted ? 2 : 1;
      was_plain = false;
    } else {
      p.record_plain(1e-3 * noise);
      time += 1e-3 * noise;
      plain_time += 1e-3 * noise;
      emitted += 1;
      was_plain = true;
    }
  }
  return plain_time / time;
}

double mean_noisy_speedup(double acceptance, double cost, int64_t tokens, double switch_cost = 0) {
  double sum = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) sum += noisy_speedup(acceptance, cost, tokens, seed, switch_cost);
  return sum / 40;
}

// Issue 17's goal for the adaptive policy: never slower than plain decoding beyond noise, and at
// least 0.9 of the predicted speed-up (1 + a) / cost where that is above 1, on runs of 128 and
// 512 tokens with noisy step times (40 seeds each): at least 0.97 / 0.98 of plain speed, the
// cost of learning (what a short run cannot avoid is the bootstrap draft step and a probe or two).
TEST(DraftPolicy, NoisyRunsStayAtPlainSpeedOrAboveAndNearThePrediction) {
  for (int64_t tokens : {128, 512}) {
    for (double cost : {1.14, 1.56, 1.76, 2.2}) {
      for (double acceptance : {0.0, 0.5, 0.8, 1.0}) {
        const double predicted = (1 + acceptance) / cost;
        const double s = mean_noisy_speedup(acceptance, cost, tokens);
        SCOPED_TRACE(::testing::Message() << "tokens " << tokens << " cost " << cost << " acceptance " << acceptance
                                          << " speed-up " << s << " predicted " << predicted);
        EXPECT_GE(s, tokens == 128 ? 0.97 : 0.98);
        if (predicted > 1.05) {
          EXPECT_GE(s, 0.9 * predicted);
        }
      }
    }
  }
}

TEST(DraftPolicy, ProbeGapCoversTheMtpCatchUp) {
  // Never accepted, a draft step costs 1.56 plain steps; a catch-up of the MTP costing 2 plain
  // steps more per probe spreads the probes further apart, so they still cost about 1%.
  DraftPolicy cheap, costly;
  costly.record_switch(2e-3);
  // The bootstrap (one draft step, three plain ones), then the first gap: 16 plain steps at most
  // while one draft time is known, and a probe.
  simulate(cheap, 4, 1e-3, 1.56e-3, rate(0));
  simulate(costly, 4, 1e-3, 1.56e-3, rate(0));
  EXPECT_EQ(cheap.probe_gap(), 16);
  EXPECT_EQ(costly.probe_gap(), 16);
  simulate(cheap, 17, 1e-3, 1.56e-3, rate(0));
  simulate(costly, 17, 1e-3, 1.56e-3, rate(0));
  ASSERT_EQ(cheap.probes(), 1);
  ASSERT_EQ(costly.probes(), 1);
  // The gap after it: the loss of a probe over 1% of a plain step. Without the catch-up a probe
  // loses 1.56 - (1 + a) plain steps (a = 1/4 after two rejected drafts), with it 2 more. (The
  // backoff, twice the last gap, is 32.)
  EXPECT_NEAR(double(cheap.probe_gap()), (1.56 - 5.0 / 4) / 0.01, 2);
  EXPECT_NEAR(double(costly.probe_gap()), (2 + 1.56 - 5.0 / 4) / 0.01, 2);
  EXPECT_GE(mean_noisy_speedup(0.0, 1.56, 512, 2.0), 0.98);
}

TEST(DraftPolicy, DroppedDraftsLowerThePredictionAndTheAllowanceFollowsTheSaving) {
  DraftPolicy p;
  EXPECT_EQ(p.miss_allowance(), std::numeric_limits<double>::infinity());  // nothing measured
  for (int i = 0; i < 40; ++i) {
    p.record_plain(1e-3);
    p.record_draft(1.2e-3, true, 0.1e-3);  // 0.1 ms of the 1.2 were the draft row's own misses
  }
  // A draft step saves (1 + a) t1 - (t2 - misses) = 1.95 - 1.1 ms before the draft row's misses.
  EXPECT_NEAR(p.miss_allowance(), (1 + p.acceptance()) * 1e-3 - 1.1e-3, 0.02e-3);
  const double before = p.predicted_speedup();
  for (int i = 0; i < 10; ++i) p.record_dropped(1.3e-3);  // dropped: one token for 1.3 ms
  EXPECT_GT(p.drop_rate(), 0.3);
  EXPECT_EQ(p.drops(), 10);
  EXPECT_LT(p.predicted_speedup(), before);
  EXPECT_GT(p.predicted_speedup(), 1.0);
}

}  // namespace
}  // namespace mote
