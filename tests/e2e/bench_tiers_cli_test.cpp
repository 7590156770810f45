// mote bench's expert tiers on the staging backend (the GPU test double): --backend staging,
// --vram-budget, --tier-mode and the "tiers" object (device split, per-phase tier counters and
// shares, measured speeds, the per-layer choice); bad values are one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

class BenchTiersCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("bench_tiers_cli");
    model_ = (dir_ / "olmoe_tiny.mote").string();
    auto r = run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/olmoe_tiny", "-o", model_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static nlohmann::json bench(std::vector<std::string> extra) {
    std::vector<std::string> argv = {MOTE_CLI_BIN, "bench", model_, "--prompt", "16", "--gen", "8", "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }

  static inline fs::path dir_;
  static inline std::string model_;
};

TEST_F(BenchTiersCli, QuarterBudgetReportsEveryTier) {
  const auto cpu = bench({});
  ASSERT_TRUE(cpu.contains("tiers")) << cpu.dump();
  EXPECT_EQ(cpu["backend"], "cpu");
  EXPECT_EQ(cpu["tiers"]["decode"]["accesses"], 0);
  const auto all = bench({"--backend", "staging"});
  ASSERT_TRUE(all.contains("tiers"));
  const auto& t = all["tiers"];
  EXPECT_EQ(t["device_expert_slots"], t["experts_total"]);
  for (const auto& c : t["layer_choice"]) EXPECT_EQ(c, "resident");
  EXPECT_EQ(t["decode"]["share_device"].get<double>(), 1.0);
  const uint64_t slot = t["device_cache_bytes"].get<uint64_t>() / t["device_expert_slots"].get<uint64_t>();
  const uint64_t budget = t["device_dense_bytes"].get<uint64_t>() + t["device_session_bytes"].get<uint64_t>() +
                          t["experts_total"].get<uint64_t>() / 4 * slot;
  for (const std::string mode : {"auto", "upload", "cpu"}) {
    const auto j = bench({"--backend", "staging", "--vram-budget", std::to_string(budget), "--tier-mode", mode});
    ASSERT_TRUE(j.contains("tiers")) << mode;
    const auto& q = j["tiers"];
    EXPECT_EQ(q["vram_budget_bytes"], budget);
    EXPECT_EQ(q["device_expert_slots"], t["experts_total"].get<int64_t>() / 4);
    for (const char* phase : {"prefill", "decode"}) {
      const auto& p = q[phase];
      EXPECT_GT(p["accesses"].get<int64_t>(), 0) << phase;
      EXPECT_NEAR(p["share_device"].get<double>() + p["share_upload"].get<double>() + p["share_cpu"].get<double>(), 1.0,
                  1e-12);
      EXPECT_EQ(p["accesses"].get<int64_t>(),
                p["device_hits"].get<int64_t>() + p["uploads_host"].get<int64_t>() + p["uploads_disk"].get<int64_t>() +
                    p["cpu_host"].get<int64_t>() + p["cpu_disk"].get<int64_t>());
    }
    EXPECT_EQ(q["layer_choice"].size(), t["layer_choice"].size());
    if (mode == "cpu") EXPECT_EQ(q["decode"]["share_cpu"].get<double>(), 1.0);
    if (mode == "upload") EXPECT_EQ(q["decode"]["share_cpu"].get<double>(), 0.0);
    EXPECT_GT(q["upload_gbs"].get<double>(), 0.0);
  }
}

TEST_F(BenchTiersCli, BadValuesAreOneLineErrors) {
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--vram-budget", "1G"}, {"--backend", "gpu"}, {"--backend", "staging", "--tier-mode", "fast"},
           {"--backend", "staging", "--vram-budget", "4096"}, {"--backend", "staging", "--vram-budget", "x"}}) {
    std::vector<std::string> argv = {MOTE_CLI_BIN, "bench", model_};
    argv.insert(argv.end(), bad.begin(), bad.end());
    const auto r = run_command(argv);
    EXPECT_NE(r.exit_code, 0) << bad.back();
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// --backend cuda reaches MOTE_BACKEND_CUDA: without a CUDA backend in this build, or without a
// device (CI), one line that says which.
TEST_F(BenchTiersCli, CudaWithoutADeviceIsAOneLineError) {
  const auto r = run_command({MOTE_CLI_BIN, "bench", model_, "--backend", "cuda", "--gen", "2", "--prompt", "2"});
  if (r.exit_code == 0) GTEST_SKIP() << "this machine has a CUDA device";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.err.find("no CUDA device") != std::string::npos ||
              r.err.find("no CUDA backend") != std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
