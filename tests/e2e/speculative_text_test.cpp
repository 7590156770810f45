// Speculative text generation (runtime/session/text_generation.cpp) with ds3_tiny's MTP module:
// greedy text is identical with and without it (stop strings and token limits included), and
// sampled tokens keep the sampler's distribution: over thousands of seeds, the empirical
// distributions of the 2nd and 3rd generated tokens match plain sampling within the noise, while
// the MTP's own draft distribution is far from them (so the check can fail).
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
  constexpr int kRuns = 4000;
  TextGenerationOptions o;
  o.max_tokens = 3;
  o.ignore_eos = true;
  o.sampling.temperature = 1.0f;
  o.sampling.top_k = 3;
  std::map<int32_t, int> second[2], third[2];
  auto plain = session(false), spec = session(true);
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
  EXPECT_LT(tv2, 0.05);
  EXPECT_LT(tv3, 0.05);
  EXPECT_GT(steps, 0);
  EXPECT_GT(accepted, 0);  // some drafts were kept, so the acceptance rule was exercised both ways
  EXPECT_LT(accepted, steps);
}

}  // namespace
}  // namespace mote
