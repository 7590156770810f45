// The learning expert cache through libmote.so only (mote_model_params.expert_learn,
// expert_stats_path, mote_expert_stats.learned / preloaded / stats_path,
// mote_model_save_expert_stats), and the mote CLI's default (learning on under a budget, in the
// cache directory; --expert-stats off), on the bundled demo model converted at q8_0.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

class ExpertLearningApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(mote::test::fresh_temp_dir("capi_expert_learning"));
    auto r = mote::test::run_command(
        {MOTE_CONVERT_BIN, kDemo.string(), "-o", (*dir_ / "demo.mote").string(), "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static mote_model* open(const std::string& stats, int learn) {
    mote_model_params p = mote_model_params_default();
    p.expert_budget_bytes = 2400 * 1024;
    p.expert_prefetch = 0;
    p.expert_learn = learn;
    p.expert_stats_path = stats.empty() ? nullptr : stats.c_str();
    mote_model* m = nullptr;
    EXPECT_EQ(mote_model_open((*dir_ / "demo.mote").c_str(), &p, &m), MOTE_OK) << mote_last_error();
    return m;
  }
  static void decode(mote_model* m, int n) {
    mote_session* s = nullptr;
    ASSERT_EQ(mote_session_create(m, nullptr, &s), MOTE_OK) << mote_last_error();
    std::vector<int32_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(int32_t(100 + 7 * i));
    for (int32_t id : ids) ASSERT_EQ(mote_session_eval(s, &id, 1, 0, nullptr, 0), MOTE_OK) << mote_last_error();
    mote_session_destroy(s);
  }
  static fs::path* dir_;
};
fs::path* ExpertLearningApi::dir_ = nullptr;

TEST_F(ExpertLearningApi, OffByDefaultAndOnWhenAsked) {
  EXPECT_EQ(mote_model_params_default().expert_learn, 0);
  EXPECT_EQ(mote_model_params_default().expert_stats_path, nullptr);
  const std::string stats = (*dir_ / "api.experts").string();
  mote_model* m = open(stats, 1);
  ASSERT_NE(m, nullptr);
  mote_expert_stats e{};
  ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
  EXPECT_EQ(e.learned, 0);
  ASSERT_NE(e.stats_path, nullptr);
  EXPECT_EQ(std::string(e.stats_path), stats);
  decode(m, 24);
  ASSERT_EQ(mote_model_save_expert_stats(m), MOTE_OK) << mote_last_error();  // explicit save
  EXPECT_TRUE(fs::exists(stats));
  mote_model_destroy(m);

  m = open(stats, 1);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
  EXPECT_EQ(e.learned, 1);
  EXPECT_DOUBLE_EQ(e.learned_tokens, 24.0);
  EXPECT_EQ(e.preloaded, uint64_t(e.slot_count));
  EXPECT_GT(e.hot_slots, 0);
  // The expert map carries the learned shares: each MoE layer's sum to n_experts_per_tok.
  int32_t n_layers = 0, n_experts = 0;
  size_t count = 0;
  mote_model_get_expert_map(m, &n_layers, &n_experts, nullptr, 0, &count);
  std::vector<mote_expert_entry> map(count);
  ASSERT_EQ(mote_model_get_expert_map(m, &n_layers, &n_experts, map.data(), count, &count), MOTE_OK);
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(m, &info), MOTE_OK);
  for (int32_t l = 0; l < n_layers; ++l) {
    double sum = 0;
    for (int32_t x = 0; x < n_experts; ++x) sum += map[size_t(l * n_experts + x)].learned;
    EXPECT_NEAR(sum, info.n_experts_per_tok, 1e-4) << "MoE row " << l;
  }
  mote_model_destroy(m);

  m = open(stats, 0);  // learning off: nothing loaded, no path
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
  EXPECT_EQ(e.learned, 0);
  EXPECT_EQ(e.preloaded, 0u);
  EXPECT_EQ(e.stats_path, nullptr);
  size_t n_map = 0;
  mote_model_get_expert_map(m, nullptr, nullptr, nullptr, 0, &n_map);
  std::vector<mote_expert_entry> plain(n_map);
  ASSERT_EQ(mote_model_get_expert_map(m, nullptr, nullptr, plain.data(), n_map, &n_map), MOTE_OK);
  for (const mote_expert_entry& x : plain) EXPECT_EQ(x.learned, 0.0f);
  EXPECT_EQ(mote_model_save_expert_stats(m), MOTE_OK);  // a no-op
  EXPECT_EQ(mote_model_save_expert_stats(nullptr), MOTE_ERR_INVALID_ARGUMENT);
  mote_model_destroy(m);
}

// The CLI learns by default under a budget, in $MOTE_CACHE_DIR (the test environment sets
// MOTE_EXPERT_STATS=off for every other test; here it is removed for the child processes).
TEST_F(ExpertLearningApi, CliLearnsByDefaultUnderABudgetAndNotWithOff) {
  const fs::path cache = *dir_ / "cache";
  fs::remove_all(cache);
  const char* saved = std::getenv("MOTE_EXPERT_STATS");
  const std::string saved_value = saved ? saved : "";
  unsetenv("MOTE_EXPERT_STATS");
  setenv("MOTE_CACHE_DIR", cache.c_str(), 1);
  const std::string model = (*dir_ / "demo.mote").string();
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {MOTE_CLI_BIN, "run", model, "-p", "To be, or not to be", "-n", "8",
                                     "--expert-budget", "2400K"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return mote::test::run_command(argv);
  };
  auto off = run({"--expert-stats", "off"});
  EXPECT_EQ(off.exit_code, 0) << off.err;
  EXPECT_FALSE(fs::exists(cache));
  auto first = run({});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  int files = 0;
  if (fs::exists(cache))
    for (const auto& f : fs::directory_iterator(cache)) files += f.path().extension() == ".experts";
  EXPECT_EQ(files, 1);
  unsetenv("MOTE_CACHE_DIR");
  if (saved) setenv("MOTE_EXPERT_STATS", saved_value.c_str(), 1);
}

}  // namespace
