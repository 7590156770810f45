// MOTE_EXPERT_BUDGET_AUTO, mote_model_get_memory_plan, mote_model_measure_expert_reads and
// mote_expected_hit_rate through libmote.so only, on the bundled demo model (q8_0):
// - the plan's KV and scratch are what a session with the default params at plan_context
//   allocates (the session's own sizing), dense bytes are mote_model_info's;
// - auto with a large mem_limit_bytes: every expert resident (no budget);
// - auto with a limit that leaves room for some slots: that budget, in whole slots, in the stats;
// - auto with a limit below the minimum: MOTE_ERR_OUT_OF_MEMORY naming the numbers;
// - bad plan_context; the read speed; the hit rate of the hottest experts.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

class MemoryPlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_memory_plan");
    path_ = (dir_ / "demo.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static mote_status open(const mote_model_params& p, mote_model** m) { return mote_model_open(path_.c_str(), &p, m); }
  static mote_memory_plan plan_of(const mote_model* m) {
    mote_memory_plan plan{};
    EXPECT_EQ(mote_model_get_memory_plan(m, &plan), MOTE_OK) << mote_last_error();
    return plan;
  }
  static inline fs::path dir_;
  static inline std::string path_;
};

TEST_F(MemoryPlanTest, PlanUsesTheSessionsOwnSizes) {
  mote_model_params p = mote_model_params_default();
  EXPECT_EQ(p.plan_context, 4096);
  EXPECT_EQ(p.mem_limit_bytes, 0u);
  p.plan_context = 512;
  mote_model* m = nullptr;
  ASSERT_EQ(open(p, &m), MOTE_OK) << mote_last_error();
  const mote_memory_plan plan = plan_of(m);
  EXPECT_GT(plan.available_bytes, 0u);
  EXPECT_GT(std::string(plan.source).size(), 0u);
  EXPECT_EQ(plan.plan_context, 512);
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(m, &info), MOTE_OK);
  EXPECT_EQ(plan.dense_bytes, info.dense_bytes);
  EXPECT_EQ(plan.n_moe_layers, 3);  // 4 layers, the first dense
  EXPECT_GT(plan.n_experts, int64_t(3) * info.n_routed_experts - 1);  // + the MTP layer's
  mote_session_params sp = mote_session_params_default();
  sp.max_context = 512;
  mote_session* s = nullptr;
  ASSERT_EQ(mote_session_create(m, &sp, &s), MOTE_OK) << mote_last_error();
  mote_stats st{};
  ASSERT_EQ(mote_session_get_stats(s, &st), MOTE_OK);
  EXPECT_EQ(plan.kv_bytes, st.kv_cache_bytes);
  EXPECT_EQ(plan.scratch_bytes, st.scratch_bytes);
  mote_session_destroy(s);
  mote_model_destroy(m);
}

TEST_F(MemoryPlanTest, AutoWithRoomForEverythingIsResident) {
  mote_model_params p = mote_model_params_default();
  p.expert_budget_bytes = MOTE_EXPERT_BUDGET_AUTO;
  p.mem_limit_bytes = uint64_t(4) << 30;
  mote_model* m = nullptr;
  ASSERT_EQ(open(p, &m), MOTE_OK) << mote_last_error();
  const mote_memory_plan plan = plan_of(m);
  EXPECT_TRUE(plan.all_resident);
  EXPECT_TRUE(plan.fits);
  EXPECT_EQ(plan.expert_budget_bytes, 0u);
  EXPECT_STREQ(plan.source, "mem_limit_bytes");
  mote_expert_stats e{};
  ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
  EXPECT_EQ(e.budget_bytes, 0u);
  EXPECT_EQ(e.slot_count, 0);
  mote_model_destroy(m);
}

TEST_F(MemoryPlanTest, AutoBudgetIsWhatRemainsInWholeSlots) {
  mote_model_params p = mote_model_params_default();
  mote_model* probe = nullptr;
  ASSERT_EQ(open(p, &probe), MOTE_OK) << mote_last_error();
  const mote_memory_plan base = plan_of(probe);
  mote_model_destroy(probe);
  // A limit leaving about 10 slots after dense, KV, scratch and the margin (64 MiB + limit / 32).
  const uint64_t fixed = base.dense_bytes + base.kv_bytes + base.scratch_bytes + (uint64_t(64) << 20);
  const uint64_t want = 10 * base.slot_bytes + base.slot_bytes / 2;
  p.mem_limit_bytes = (fixed + want) * 32 / 31 + 1;
  p.expert_budget_bytes = MOTE_EXPERT_BUDGET_AUTO;
  mote_model* m = nullptr;
  ASSERT_EQ(open(p, &m), MOTE_OK) << mote_last_error();
  const mote_memory_plan plan = plan_of(m);
  EXPECT_FALSE(plan.all_resident);
  EXPECT_TRUE(plan.fits);
  EXPECT_EQ(plan.slots, 10);
  EXPECT_EQ(plan.expert_budget_bytes, 10 * plan.slot_bytes);
  EXPECT_LE(plan.dense_bytes + plan.kv_bytes + plan.scratch_bytes + plan.margin_bytes + plan.expert_budget_bytes,
            p.mem_limit_bytes);
  mote_expert_stats e{};
  ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
  EXPECT_EQ(e.budget_bytes, plan.expert_budget_bytes);
  EXPECT_EQ(e.slot_count, 10);
  EXPECT_EQ(e.slot_bytes, plan.slot_bytes);
  // It decodes under that budget.
  mote_session_params sp = mote_session_params_default();
  sp.max_context = 64;
  mote_session* s = nullptr;
  ASSERT_EQ(mote_session_create(m, &sp, &s), MOTE_OK) << mote_last_error();
  const int32_t ids[] = {1, 2, 3, 4};
  ASSERT_EQ(mote_session_eval(s, ids, 4, 0, nullptr, 0), MOTE_OK) << mote_last_error();
  mote_session_destroy(s);
  mote_model_destroy(m);
}

TEST_F(MemoryPlanTest, AutoBelowTheMinimumFailsWithTheNumbers) {
  mote_model_params p = mote_model_params_default();
  p.expert_budget_bytes = MOTE_EXPERT_BUDGET_AUTO;
  p.mem_limit_bytes = uint64_t(16) << 20;  // less than the margin alone
  mote_model* m = nullptr;
  EXPECT_EQ(open(p, &m), MOTE_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(m, nullptr);
  const std::string error = mote_last_error();
  EXPECT_NE(error.find("automatic expert budget"), std::string::npos) << error;
  EXPECT_NE(error.find("16777216 bytes available"), std::string::npos) << error;
  EXPECT_NE(error.find("below the minimum"), std::string::npos) << error;
  // Without auto the same limit only shows in the plan (fits = 0).
  p.expert_budget_bytes = 0;
  ASSERT_EQ(open(p, &m), MOTE_OK) << mote_last_error();
  EXPECT_FALSE(plan_of(m).fits);
  mote_model_destroy(m);
}

TEST_F(MemoryPlanTest, BadArguments) {
  mote_model_params p = mote_model_params_default();
  p.plan_context = 0;
  mote_model* m = nullptr;
  EXPECT_EQ(open(p, &m), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("plan_context"), std::string::npos) << mote_last_error();
  EXPECT_EQ(mote_model_get_memory_plan(nullptr, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  double bps = 0;
  EXPECT_EQ(mote_model_measure_expert_reads(nullptr, 1.0, &bps, nullptr), MOTE_ERR_INVALID_ARGUMENT);
}

TEST_F(MemoryPlanTest, MeasuresExpertReads) {
  mote_model_params p = mote_model_params_default();
  mote_model* m = nullptr;
  ASSERT_EQ(open(p, &m), MOTE_OK) << mote_last_error();
  double bps = 0;
  int32_t direct = -1;
  EXPECT_EQ(mote_model_measure_expert_reads(m, 0, &bps, &direct), MOTE_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(mote_model_measure_expert_reads(m, 0.2, &bps, &direct), MOTE_OK) << mote_last_error();
  EXPECT_GT(bps, 0);
  EXPECT_TRUE(direct == 0 || direct == 1);
  mote_model_destroy(m);
}

TEST(ExpectedHitRateCApi, HottestExperts) {
  const std::vector<double> uniform(16, 1.0);
  EXPECT_DOUBLE_EQ(mote_expected_hit_rate(uniform.data(), uniform.size(), 4), 0.25);
  const std::vector<double> skewed = {8, 0, 1, 1};
  EXPECT_DOUBLE_EQ(mote_expected_hit_rate(skewed.data(), skewed.size(), 1), 0.8);
  EXPECT_DOUBLE_EQ(mote_expected_hit_rate(nullptr, 4, 1), 0.0);
}

}  // namespace
