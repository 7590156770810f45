// Speculative text generation (runtime/session/text_generation.cpp) with ds3_tiny's MTP module:
// greedy text is identical with and without it (stop strings and token limits included), and
// sampled tokens keep the sampler's distribution: over thousands of seeds, the empirical
// distributions of the 2nd and 3rd generated tokens equal plain sampling's (the tokens are drawn
// as plain decoding draws them), while the MTP's own draft distribution is far from them.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "session/engine.h"
#include "session/text_generation.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

class SpeculativeText : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::fresh_temp_dir("speculative_text");
    const fs::path out = dir_ / "tiny.mote";
    auto r = test::run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / "ds3_tiny").string(), "-o",
                                out.string(), "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto e = Engine::open(out.string());
    ASSERT_TRUE(e) << e.status().to_string();
    engine_ = std::move(e).value().release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    fs::remove_all(dir_);
  }
  static std::unique_ptr<Session> session(bool mtp) {
    SessionOptions o;
    o.max_context = 256;
    o.mtp = mtp;
    auto s = Session::create(engine_->model(), o);
    EXPECT_TRUE(s) << s.status().to_string();
    return std::move(s).value();
  }
  static std::vector<int32_t> tokens(Session& s, const std::string& prompt, const TextGenerationOptions& o,
                                     std::string* text = nullptr, TextGenerationResult* result = nullptr) {
    std::vector<int32_t> ids;
    auto r = generate_text(*engine_, s, prompt, o, [&](int32_t id, std::string_view t) {
      if (id >= 0) ids.push_back(id);
      if (text) text->append(t);
      return true;
    });
    EXPECT_TRUE(r) << r.status().to_string();
    if (r && result) *result = *r;
    return ids;
  }
  static inline fs::path dir_;
  static inline Engine* engine_ = nullptr;
  friend struct SpeculativeTextPeer;
};

struct SpeculativeTextPeer {
  static const Engine& engine() { return *SpeculativeText::engine_; }
};

TEST_F(SpeculativeText, GreedyTextIsIdentical) {
  for (const std::string prompt : {"Hello", "The quick brown fox", "a"}) {
    for (int64_t max_tokens : {1, 2, 7, 60}) {
      TextGenerationOptions o;
      o.max_tokens = max_tokens;
      o.ignore_eos = true;
      auto plain = session(false), spec = session(true);
      std::string a, b;
      TextGenerationResult ra, rb;
      EXPECT_EQ(tokens(*plain, prompt, o, &a, &ra), tokens(*spec, prompt, o, &b, &rb));
      EXPECT_EQ(a, b);
      EXPECT_EQ(ra.generated_tokens, rb.generated_tokens);
      EXPECT_EQ(plain->position(), spec->position());
      if (max_tokens > 2) {
        EXPECT_GT(rb.draft_steps, 0);
      }
      // The next turn continues from the same state.
      EXPECT_EQ(tokens(*plain, " and more", o), tokens(*spec, " and more", o));
    }
  }
  // A stop string cut at the same place.
  TextGenerationOptions o;
  o.max_tokens = 60;
  o.ignore_eos = true;
  auto probe = session(false);
  std::string text;
  tokens(*probe, "Hello", o, &text);
  ASSERT_GT(text.size(), 12u);
  o.stop = {text.substr(9, 3)};
  auto plain = session(false), spec = session(true);
  std::string a, b;
  TextGenerationResult ra, rb;
  tokens(*plain, "Hello", o, &a, &ra);
  tokens(*spec, "Hello", o, &b, &rb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(rb.reason, StopReason::kStopString);
}

// Total variation distance between two empirical distributions.
double tv(const std::map<int32_t, int>& a, const std::map<int32_t, int>& b, int n) {
  std::map<int32_t, double> d;
  for (auto [k, c] : a) d[k] += double(c) / n;
  for (auto [k, c] : b) d[k] -= double(c) / n;
  double sum = 0;
  for (auto [k, v] : d) sum += std::fabs(v);
  return sum / 2;
}

TEST_F(SpeculativeText, SamplingKeepsTheDistribution) {
  // MOTE_TEST_SCALE=small (qemu-aarch64, where 2 x 4000 runs take over a minute): 1000 runs per
  // mode; the TV bounds grow by sqrt(4000 / runs) (same strength in standard deviations), and the
  // exact run-by-run equality below is checked as before.
  const int kRuns = mote::test::scaled(4000, 1000);
  const double max_tv = 0.05 * std::sqrt(4000.0 / kRuns);
  TextGenerationOptions o;
  o.max_tokens = 3;
  o.ignore_eos = true;
  o.sampling.temperature = 1.0f;
  o.sampling.top_k = 3;
  std::map<int32_t, int> second[2], third[2];
  auto plain = session(false), spec = session(true);
  // Every step drafts, so the acceptance rule runs on every token (the adaptive policy's choice
  // depends on times only, never on tokens, so it cannot bias the distribution).
  spec->draft_policy().set_mode(DraftMode::kAlways);
  int64_t steps = 0, accepted = 0;
  for (int mode = 0; mode < 2; ++mode) {
    for (int i = 0; i < kRuns; ++i) {
      Session& s = mode ? *spec : *plain;
      s.reset();
      o.sampling.seed = uint64_t(i + 1);
      TextGenerationResult r;
      const std::vector<int32_t> ids = tokens(s, "Hi", o, nullptr, &r);
      ASSERT_EQ(ids.size(), 3u);
      ++second[mode][ids[1]];
      ++third[mode][ids[2]];
      steps += r.draft_steps;
      accepted += r.drafts_accepted;
    }
  }
  const double tv2 = tv(second[0], second[1], kRuns), tv3 = tv(third[0], third[1], kRuns);
  std::printf("TV distance plain vs speculative: 2nd token %.4f, 3rd token %.4f; drafts %lld, accepted %lld\n", tv2,
              tv3, (long long)steps, (long long)accepted);
  EXPECT_LT(tv2, max_tv) << kRuns << " runs per mode";
  EXPECT_LT(tv3, max_tv) << kRuns << " runs per mode";
  EXPECT_GT(steps, 0);
  // Sampled tokens are drawn exactly as plain decoding draws them (text_generation.cpp), so the
  // two are not just close in distribution but equal run by run. ds3_tiny's random MTP head never
  // matches a sampled token here; the demo model's test (demo_model_test.cpp) keeps drafts both ways.
  EXPECT_EQ(tv2, 0.0);
  EXPECT_EQ(tv3, 0.0);
  EXPECT_LT(accepted, steps);
}

// A session whose policy never drafts except probes every `gap` steps (plain steps with the MTP
// lagging behind, then a batched catch-up), or drafts per its default config.
std::unique_ptr<Session> adaptive_session(int64_t ctx, int64_t probe_gap) {
  SessionOptions so;
  so.max_context = ctx;
  so.max_batch = 16;  // the MTP catches up when 17 positions lag
  so.mtp = true;
  auto s = Session::create(SpeculativeTextPeer::engine().model(), so);
  EXPECT_TRUE(s) << s.status().to_string();
  if (probe_gap > 0) {
    DraftPolicyConfig c;
    c.enter = 1e9;  // never "pays": only the bootstrap and probes draft
    c.probe_first = c.probe_max = probe_gap;
    s.value()->draft_policy() = DraftPolicy(DraftMode::kAdaptive, c);
  }
  return std::move(s).value();
}

TEST_F(SpeculativeText, GreedyTextIsIdenticalWithPlainStepsBetweenDrafts) {
  for (int64_t gap : {1, 3, 40}) {  // 40: more lagging positions than the MTP rows hold
    TextGenerationOptions o;
    o.max_tokens = 120;
    o.ignore_eos = true;
    auto plain = session(false);
    auto spec = adaptive_session(512, gap);
    TextGenerationResult ra, rb;
    std::string a, b;
    EXPECT_EQ(tokens(*plain, "The quick brown fox", o, &a, &ra), tokens(*spec, "The quick brown fox", o, &b, &rb))
        << "gap " << gap;
    EXPECT_EQ(a, b);
    EXPECT_GT(rb.draft_steps, 1);
    EXPECT_GT(rb.draft_skipped, 10);
    ASSERT_TRUE(spec->mtp_settle());
    EXPECT_LE(spec->position() - spec->mtp_position(), 1);  // settled: a session file can save it
    // The next turn continues from the same state.
    o.max_tokens = 30;
    EXPECT_EQ(tokens(*plain, " and then", o), tokens(*spec, " and then", o)) << "gap " << gap;
  }
}

// End to end on timings measured here: drafts that are never kept (forced) make the default
// policy decode plainly but for a few probes. Drafts that are always kept double the predicted
// speed-up; on ds3_tiny that is still below 1 (its MTP layer and head cost as much as its two
// layers: a draft step costs over two plain steps), so with a policy told that drafting pays from
// 0.01 on and never stops paying (leave 0: a model where it pays, as on the synthetic V3 width in
// README) it drafts on every step but its refresh steps. The thresholds are far from what the
// times can reach, so the test does not depend on this machine's speed: a step of ds3_tiny takes
// tens of microseconds, and with enter 0.5 a loaded CI machine once dropped the fraction to 0.847;
// another measured a cost ratio of 9.5 on the bootstrap's draft step, where about 2 is usual.
// (The two predictions are not compared for the same reason.)
TEST_F(SpeculativeText, AdaptivePolicyFollowsTheAcceptance) {
  TextGenerationOptions o;
  o.max_tokens = 400;
  o.ignore_eos = true;
  o.forced_acceptance = 0;
  auto never = adaptive_session(1024, 0);
  TextGenerationResult r;
  tokens(*never, "Hello", o, nullptr, &r);
  const double never_fraction = double(r.draft_steps) / double(r.draft_steps + r.draft_skipped);
  const double never_predicted = never->draft_policy().predicted_speedup();
  std::printf("forced 0%%: %lld draft steps, %lld plain, %lld probes, cost ratio %.2f, predicted %.2f\n",
              (long long)r.draft_steps, (long long)r.draft_skipped, (long long)r.draft_probes,
              never->draft_policy().cost_ratio(), never_predicted);
  EXPECT_LT(never_fraction, 0.06);
  EXPECT_LT(never_predicted, 1.0);
  // How many probes come depends on the measured cost (a slow machine spaces them further), so
  // the acceptance is only known to have moved below the prior's 0.5 on the rejected drafts.
  EXPECT_EQ(r.drafts_accepted, 0);
  EXPECT_LT(never->draft_policy().acceptance(), 0.5);

  o.forced_acceptance = 1;
  auto always = adaptive_session(1024, 0);
  DraftPolicyConfig c;
  c.enter = 0.01;  // a cost ratio up to ~140 on the bootstrap's one accepted draft
  c.leave = 0.0;
  always->draft_policy() = DraftPolicy(DraftMode::kAdaptive, c);
  tokens(*always, "Hello", o, nullptr, &r);
  const double always_fraction = double(r.draft_steps) / double(r.draft_steps + r.draft_skipped);
  const double always_predicted = always->draft_policy().predicted_speedup();
  std::printf("forced 100%%: %lld draft steps, %lld plain, cost ratio %.2f, predicted %.2f\n", (long long)r.draft_steps,
              (long long)r.draft_skipped, always->draft_policy().cost_ratio(), always_predicted);
  EXPECT_GT(always->draft_policy().acceptance(), 0.9);
  EXPECT_GT(always_fraction, 0.85);
  EXPECT_EQ(r.drafts_accepted, r.draft_steps);

  // kAlways: the old behaviour, every step drafts.
  o.forced_acceptance = 0;
  auto forced = adaptive_session(1024, 0);
  forced->draft_policy().set_mode(DraftMode::kAlways);
  tokens(*forced, "Hello", o, nullptr, &r);
  EXPECT_EQ(r.draft_skipped, 0);
  EXPECT_GT(r.draft_steps, 300);
}

}  // namespace
}  // namespace mote
