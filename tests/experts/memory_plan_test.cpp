// experts/memory_plan: the memory probe on fake /proc and /sys trees (cgroup v1, v2, hybrid, no
// limit, "max", a parent's limit, garbage), the budget arithmetic and expected_hit_rate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/test_util.h"
#include "experts/memory_plan.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;

class MemoryProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir(std::string("memory_probe_") +
                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void meminfo(uint64_t available_kb) {
    put("proc/meminfo", "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   " +
                            std::to_string(available_kb) + " kB\n");
  }
  std::string root() const { return root_.string(); }
  fs::path root_;
};

TEST_F(MemoryProbeTest, NoCgroupLimitUsesMemAvailable) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "4:memory:/\n0::/\n");
  put("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  put("sys/fs/cgroup/memory/memory.usage_in_bytes", "123\n");
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, uint64_t(8) << 30);
  EXPECT_EQ(p->cgroup_limit, 0u);
  EXPECT_NE(p->source.find("MemAvailable"), std::string::npos) << p->source;
}

TEST_F(MemoryProbeTest, CgroupV1LimitMinusUsage) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "9:name=systemd:/\n4:cpu,memory:/jobs/a\n0::/\n");
  put("sys/fs/cgroup/memory/jobs/a/memory.limit_in_bytes", std::to_string(1024 * kMiB));
  put("sys/fs/cgroup/memory/jobs/a/memory.usage_in_bytes", std::to_string(100 * kMiB));
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 924 * kMiB);
  EXPECT_EQ(p->cgroup_limit, 1024 * kMiB);
  EXPECT_EQ(p->cgroup_usage, 100 * kMiB);
  EXPECT_EQ(p->source, "cgroup v1 /sys/fs/cgroup/memory/jobs/a");
}

TEST_F(MemoryProbeTest, InactivePageCacheDoesNotCount) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "4:memory:/a\n0::/a\n");
  put("sys/fs/cgroup/memory/a/memory.limit_in_bytes", std::to_string(1024 * kMiB));
  put("sys/fs/cgroup/memory/a/memory.usage_in_bytes", std::to_string(900 * kMiB));
  put("sys/fs/cgroup/memory/a/memory.stat", "cache 1\ninactive_file 5\ntotal_inactive_file " +
                                                std::to_string(800 * kMiB) + "\n");
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 924 * kMiB);
  EXPECT_EQ(p->cgroup_usage, 100 * kMiB);
  // v2 names it inactive_file.
  put("proc/self/cgroup", "0::/b\n");
  put("sys/fs/cgroup/cgroup.controllers", "memory");
  put("sys/fs/cgroup/b/memory.max", std::to_string(1024 * kMiB));
  put("sys/fs/cgroup/b/memory.current", std::to_string(1000 * kMiB));
  put("sys/fs/cgroup/b/memory.stat", "anon 1\ninactive_file " + std::to_string(500 * kMiB) + "\n");
  p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 524 * kMiB);
}

TEST_F(MemoryProbeTest, ParentLimitBinds) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "4:memory:/jobs/a\n");
  put("sys/fs/cgroup/memory/jobs/a/memory.limit_in_bytes", "9223372036854771712");
  put("sys/fs/cgroup/memory/jobs/a/memory.usage_in_bytes", std::to_string(10 * kMiB));
  put("sys/fs/cgroup/memory/jobs/memory.limit_in_bytes", std::to_string(512 * kMiB));
  put("sys/fs/cgroup/memory/jobs/memory.usage_in_bytes", std::to_string(12 * kMiB));
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 500 * kMiB);
  EXPECT_EQ(p->source, "cgroup v1 /sys/fs/cgroup/memory/jobs");
}

TEST_F(MemoryProbeTest, CgroupV2Unified) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "0::/user.slice/run\n");
  put("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
  put("sys/fs/cgroup/user.slice/run/memory.max", std::to_string(2048 * kMiB));
  put("sys/fs/cgroup/user.slice/run/memory.current", std::to_string(48 * kMiB));
  put("sys/fs/cgroup/user.slice/memory.max", "max\n");
  put("sys/fs/cgroup/user.slice/memory.current", std::to_string(4096 * kMiB));
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 2000 * kMiB);
  EXPECT_EQ(p->source, "cgroup v2 /sys/fs/cgroup/user.slice/run");
}

TEST_F(MemoryProbeTest, CgroupV2HybridMountAndMemAvailableSmaller) {
  meminfo(256 * 1024);  // 256 MiB available on the host: tighter than the cgroup
  put("proc/self/cgroup", "4:memory:/\n0::/x\n");
  put("sys/fs/cgroup/unified/x/memory.max", std::to_string(1024 * kMiB));
  put("sys/fs/cgroup/unified/x/memory.current", "0");
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 256 * kMiB);
  EXPECT_EQ(p->cgroup_limit, 1024 * kMiB);
  EXPECT_NE(p->source.find("MemAvailable"), std::string::npos);
}

TEST_F(MemoryProbeTest, NamespacedPathFallsBackToMount) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "4:memory:/docker/abc\n");  // the path is the host's; not under our mount
  put("sys/fs/cgroup/memory/memory.limit_in_bytes", std::to_string(300 * kMiB));
  put("sys/fs/cgroup/memory/memory.usage_in_bytes", std::to_string(100 * kMiB));
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 200 * kMiB);
}

TEST_F(MemoryProbeTest, UsageAboveLimitLeavesZero) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "0::/\n");
  put("sys/fs/cgroup/cgroup.controllers", "memory");
  put("sys/fs/cgroup/memory.max", "1000");
  put("sys/fs/cgroup/memory.current", "2000");
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 0u);
}

TEST_F(MemoryProbeTest, GarbageIsAnErrorNamingTheFile) {
  meminfo(8 * 1024 * 1024);
  put("proc/self/cgroup", "4:memory:/a\n");
  put("sys/fs/cgroup/memory/a/memory.limit_in_bytes", "lots\n");
  auto p = probe_memory(root());
  ASSERT_FALSE(bool(p));
  EXPECT_NE(p.status().message().find("memory/a/memory.limit_in_bytes: 'lots' is not a byte count"), std::string::npos)
      << p.status().message();
  put("sys/fs/cgroup/memory/a/memory.limit_in_bytes", "-5");
  EXPECT_FALSE(bool(probe_memory(root())));
  put("sys/fs/cgroup/memory/a/memory.limit_in_bytes", "99999999999999999999999");
  EXPECT_FALSE(bool(probe_memory(root())));
}

TEST_F(MemoryProbeTest, GarbageMemInfoIsAnError) {
  put("proc/meminfo", "MemAvailable: many kB\n");
  auto p = probe_memory(root());
  ASSERT_FALSE(bool(p));
  EXPECT_NE(p.status().message().find("meminfo"), std::string::npos) << p.status().message();
}

TEST_F(MemoryProbeTest, NothingKnownIsAnError) {
  auto p = probe_memory(root());  // empty tree: no meminfo, no cgroup
  ASSERT_FALSE(bool(p));
  EXPECT_NE(p.status().message().find("mem_limit_bytes"), std::string::npos) << p.status().message();
}

TEST_F(MemoryProbeTest, CgroupOnlyWithoutMemInfo) {
  put("proc/self/cgroup", "4:memory:/\n");
  put("sys/fs/cgroup/memory/memory.limit_in_bytes", std::to_string(64 * kMiB));
  put("sys/fs/cgroup/memory/memory.usage_in_bytes", "0");
  auto p = probe_memory(root());
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_EQ(p->available, 64 * kMiB);
}

TEST(MemoryProbe, RealSystemAnswers) {
  auto p = probe_memory();
  ASSERT_TRUE(bool(p)) << p.status().message();
  EXPECT_GT(p->available, 0u);
  EXPECT_FALSE(p->source.empty());
}

BudgetInputs inputs() {
  BudgetInputs in;
  in.available = 2048 * kMiB;
  in.dense_bytes = 300 * kMiB;
  in.kv_bytes = 50 * kMiB;
  in.scratch_bytes = 10 * kMiB;
  in.slot_bytes = 4 * kMiB;
  in.n_experts = 1000;
  in.expert_total_bytes = 1000 * 4 * kMiB - 1000 * 1024;  // slots are rounded up
  in.min_slots = 8;
  return in;
}

TEST(PlanExpertBudget, BudgetIsWhatRemainsInWholeSlots) {
  const BudgetInputs in = inputs();
  const BudgetPlan p = plan_expert_budget(in);
  ASSERT_TRUE(p.fits) << p.error;
  EXPECT_FALSE(p.all_resident);
  EXPECT_EQ(p.margin_bytes, 64 * kMiB + in.available / 32);
  const uint64_t remaining = in.available - 300 * kMiB - 50 * kMiB - 10 * kMiB - p.margin_bytes;
  EXPECT_EQ(p.slots, int64_t(remaining / in.slot_bytes));
  EXPECT_EQ(p.budget_bytes, uint64_t(p.slots) * in.slot_bytes);
  EXPECT_LE(in.dense_bytes + in.kv_bytes + in.scratch_bytes + p.margin_bytes + p.budget_bytes, in.available);
}

TEST(PlanExpertBudget, EverythingFitsIsResident) {
  BudgetInputs in = inputs();
  in.available = 8192 * kMiB;
  const BudgetPlan p = plan_expert_budget(in);
  EXPECT_TRUE(p.fits);
  EXPECT_TRUE(p.all_resident);
  EXPECT_EQ(p.budget_bytes, 0u);
  EXPECT_EQ(p.slots, in.n_experts);
}

TEST(PlanExpertBudget, BelowMinimumSlotsNamesTheNumbers) {
  BudgetInputs in = inputs();
  in.available = 460 * kMiB;  // 460 - 360 - 78 (margin) = 22 MiB: 5 slots < 8
  const BudgetPlan p = plan_expert_budget(in);
  EXPECT_FALSE(p.fits);
  EXPECT_NE(p.error.find("below the minimum of 8 expert slots of 4194304 bytes"), std::string::npos) << p.error;
  EXPECT_NE(p.error.find("dense 314572800"), std::string::npos) << p.error;
  in.available = 100 * kMiB;  // less than the dense part
  EXPECT_FALSE(plan_expert_budget(in).fits);
}

TEST(PlanExpertBudget, DenseModelNeedsOnlyTheFixedPart) {
  BudgetInputs in = inputs();
  in.n_experts = 0;
  in.expert_total_bytes = 0;
  EXPECT_TRUE(plan_expert_budget(in).all_resident);
  in.available = 200 * kMiB;
  const BudgetPlan p = plan_expert_budget(in);
  EXPECT_FALSE(p.fits);
  EXPECT_FALSE(p.error.empty());
}

TEST(ExpectedHitRate, UniformIsSlotsOverExperts) {
  EXPECT_DOUBLE_EQ(expected_hit_rate(std::vector<double>(64, 3.0), 16), 0.25);
  EXPECT_DOUBLE_EQ(expected_hit_rate(std::vector<double>(64, 0.0), 16), 0.25);  // no data: uniform
}

TEST(ExpectedHitRate, HottestExpertsAreCached) {
  const std::vector<double> counts = {1, 10, 0, 5, 4};  // total 20; top 2 = 10 + 5
  EXPECT_DOUBLE_EQ(expected_hit_rate(counts, 2), 0.75);
  EXPECT_DOUBLE_EQ(expected_hit_rate(counts, 1), 0.5);
  EXPECT_DOUBLE_EQ(expected_hit_rate(counts, 5), 1.0);
  EXPECT_DOUBLE_EQ(expected_hit_rate(counts, 9), 1.0);
  EXPECT_DOUBLE_EQ(expected_hit_rate(counts, 0), 0.0);
  EXPECT_DOUBLE_EQ(expected_hit_rate({}, 4), 0.0);
}

}  // namespace
}  // namespace mote
