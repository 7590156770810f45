// mote plan and --expert-budget auto on the command line (ds3_tiny fixture): the plan's JSON and
// text, one-line errors for bad arguments, --mem-limit refused without auto, auto below the
// minimum failing with the numbers, and auto's choice printed on stderr.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

class PlanCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("plan_cli");
    model_ = (dir_ / "ds3_tiny.mote").string();
    auto r = run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o", model_,
                          "--weights", "f32", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static bool one_line_error(const std::string& err) {
    return err.rfind("mote: error: ", 0) == 0 && err.find('\n') == err.size() - 1;
  }

  static inline fs::path dir_;
  static inline std::string model_;
};

TEST_F(PlanCliTest, Help) {
  const auto r = run_command({MOTE_CLI_BIN, "plan", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("usage: mote plan FILE", 0), 0u) << r.out;
  const auto top = run_command({MOTE_CLI_BIN, "--help"});
  EXPECT_NE(top.out.find("  plan "), std::string::npos) << top.out;
}

TEST_F(PlanCliTest, JsonPlan) {
  const auto r = run_command({MOTE_CLI_BIN, "plan", model_, "--json", "--ctx", "256", "--mem-limit", "1G",
                              "--read-seconds", "0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_EQ(j["memory"]["available_bytes"].get<uint64_t>(), uint64_t(1) << 30);
  EXPECT_EQ(j["memory"]["source"].get<std::string>(), "mem_limit_bytes");
  EXPECT_EQ(j["memory"]["plan_context"].get<int>(), 256);
  EXPECT_GT(j["memory"]["kv_bytes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(j["experts"]["all_resident"].get<bool>());  // a tiny model in 1 GiB
  EXPECT_DOUBLE_EQ(j["prediction"]["hit_rate"].get<double>(), 1.0);
  EXPECT_GT(j["prediction"]["tok_s"].get<double>(), 0.0);
  EXPECT_GT(j["prediction"]["memory_bw_gbs"].get<double>(), 0.0);
}

TEST_F(PlanCliTest, TextPlan) {
  const auto r = run_command({MOTE_CLI_BIN, "plan", model_, "--ctx", "64", "--read-seconds", "0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string line : {"memory found:", "dense weights:", "KV cache:", "scratch:", "margin:",
                                 "expected hit rate", "predicted decode:"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing from:\n" << r.out;
}

TEST_F(PlanCliTest, BadArgumentsGetOneLine) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--mem-limit", "lots"}, {"--mem-limit", "0"}, {"--read-seconds", "-1"},
        {"--ctx", "0"}, {"--kv-at", "99999"}}) {
    std::vector<std::string> cmd = {MOTE_CLI_BIN, "plan", model_};
    cmd.insert(cmd.end(), extra.begin(), extra.end());
    const auto r = run_command(cmd);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_TRUE(one_line_error(r.err)) << r.err;
  }
  const auto none = run_command({MOTE_CLI_BIN, "plan"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_TRUE(one_line_error(none.err)) << none.err;
  const auto missing = run_command({MOTE_CLI_BIN, "plan", (dir_ / "nope.mote").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(one_line_error(missing.err)) << missing.err;
}

TEST_F(PlanCliTest, MemLimitNeedsAuto) {
  const auto r = run_command({MOTE_CLI_BIN, "run", model_, "--ids", "1,2", "-n", "2", "--mem-limit", "1G"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--mem-limit needs --expert-budget auto"), std::string::npos) << r.err;
}

TEST_F(PlanCliTest, AutoBelowTheMinimumFails) {
  const auto r = run_command(
      {MOTE_CLI_BIN, "run", model_, "--ids", "1,2", "-n", "2", "--expert-budget", "auto", "--mem-limit", "8M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("automatic"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("8388608 bytes available"), std::string::npos) << r.err;
}

TEST_F(PlanCliTest, AutoPrintsItsChoice) {
  const auto r = run_command({MOTE_CLI_BIN, "bench", model_, "--prompt", "4", "--gen", "2", "--no-warmup",
                              "--expert-budget", "auto", "--mem-limit", "1G"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("mote: expert budget auto: 1024.0 MiB available (mem_limit_bytes)"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("every expert resident"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["expert_budget_bytes"].get<uint64_t>(), 0u);
}

}  // namespace
