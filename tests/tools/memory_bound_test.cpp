// The memory bound of the expert store, end to end: a synthetic DeepSeek-V3-style model whose
// routed experts (~160 MB at q8_0) are 19x an 8 MiB budget runs through `mote bench`, and its
// peak RSS (VmHWM, read by the process itself) stays within
//   dense bytes + expert cache + KV cache + scratch + 64 MiB,
// while the same model fully resident needs far more. Also checks the JSON has the keys the
// issue names and that budgeted and resident runs decode the same tokens.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

// 4 layers (1 dense + 3 MoE), 64 experts of 3 x 512 x 512: q8_0 experts ~ 3 * 64 * 0.84 MB.
const char* kConfig = R"({"model_type": "deepseek_v3", "vocab_size": 4096, "hidden_size": 512,
  "intermediate_size": 1024, "moe_intermediate_size": 512, "num_hidden_layers": 4,
  "num_nextn_predict_layers": 0, "num_attention_heads": 4, "num_key_value_heads": 4,
  "q_lora_rank": 128, "kv_lora_rank": 64, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16,
  "v_head_dim": 32, "n_routed_experts": 64, "n_shared_experts": 1, "num_experts_per_tok": 4,
  "first_k_dense_replace": 1, "n_group": 4, "topk_group": 2, "topk_method": "noaux_tc",
  "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 2.5,
  "max_position_embeddings": 1024, "bos_token_id": 0, "eos_token_id": 1})";

class MemoryBound : public ::testing::Test {
 protected:
  void SetUp() override {
#if !defined(MOTE_SYNTH_BIN) || !defined(MOTE_CLI_BIN)
    GTEST_SKIP() << "mote-synth / mote not built (MOTE_BUILD_SAMPLES=OFF)";
#else
    work_ = mote::test::fresh_temp_dir("memory_bound");
    // MOTE_TEST_SCALE=small (qemu-aarch64, where synthesizing and converting 160 MB of experts takes
    // most of a minute per test): 3 layers (1 dense + 2 MoE: ~107 MB of experts) and a 4 MiB budget
    // in PeakRssStaysWithinTheFormulaUnderABudget (26x the budget instead of 19x; 4 MiB holds the
    // 4 slots of n_experts_per_tok that a budget needs at least).
    std::string config = kConfig;
    if (mote::test::small_scale()) {
      const std::string from = "\"num_hidden_layers\": 4", to = "\"num_hidden_layers\": 3";
      config.replace(config.find(from), from.size(), to);
    }
    mote::test::write_file_bytes(work_ / "config.json", config);
    auto r = run_command({MOTE_SYNTH_BIN, "--config", (work_ / "config.json").string(), "-o", (work_ / "hf").string(),
                          "--seed", "7", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    model_ = work_ / "model.mote";
    r = run_command({MOTE_CONVERT_BIN, (work_ / "hf").string(), "-o", model_.string(), "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    fs::remove_all(work_ / "hf");
#endif
  }
  void TearDown() override {
    if (!work_.empty()) fs::remove_all(work_);
  }
  nlohmann::json bench(std::vector<std::string> extra) {
#ifdef MOTE_CLI_BIN
    std::vector<std::string> argv = {MOTE_CLI_BIN, "bench", model_.string(), "--prompt", "24", "--gen", "16"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::printf("%s\n", r.out.c_str());
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
#else
    return {};
#endif
  }
  fs::path work_, model_;
};

TEST_F(MemoryBound, PeakRssStaysWithinTheFormulaUnderABudget) {
  const uint64_t budget_mib = mote::test::scaled(8, 4);  // see SetUp
  const nlohmann::json budgeted = bench({"--expert-budget", std::to_string(budget_mib) + "M"});
  ASSERT_TRUE(budgeted.is_object());
  for (const char* key : {"prefill_tok_s", "decode_tok_s", "expert_budget_bytes", "expert_hit_rate",
                          "prefetch_hit_rate", "bytes_read_per_token", "io_stall_ms", "peak_rss_bytes"})
    EXPECT_TRUE(budgeted.contains(key)) << key;
  const uint64_t expert_total = budgeted["expert_bytes_total"], cache = budgeted["expert_cache_bytes"];
  EXPECT_EQ(budgeted["expert_budget_bytes"].get<uint64_t>(), budget_mib << 20);
  EXPECT_LE(cache, budget_mib << 20);
  EXPECT_GE(expert_total, 16 * cache) << "the model must be much larger than the budget";
  const uint64_t bound = budgeted["dense_bytes"].get<uint64_t>() + cache + budgeted["kv_cache_bytes"].get<uint64_t>() +
                         budgeted["scratch_bytes"].get<uint64_t>() + (64ull << 20);
  EXPECT_EQ(budgeted["rss_bound_bytes"].get<uint64_t>(), bound);
  const uint64_t peak = budgeted["peak_rss_bytes"];
  EXPECT_GT(peak, 0u);
  EXPECT_LE(peak, bound);
  EXPECT_GT(budgeted["bytes_read_per_token"].get<double>(), 0.0);

  const nlohmann::json resident = bench({});
  ASSERT_TRUE(resident.is_object());
  EXPECT_EQ(resident["bytes_read_per_token"].get<double>(), 0.0);
  EXPECT_EQ(resident["expert_hit_rate"].get<double>(), 1.0);
  // Resident, the experts the run touched sit in RSS: far above the budgeted peak.
  EXPECT_GT(resident["peak_rss_bytes"].get<uint64_t>(), peak + expert_total / 2);
}

TEST_F(MemoryBound, BudgetedAndResidentRunsGenerateTheSameTokens) {
#ifdef MOTE_CLI_BIN
  const std::vector<std::string> base = {MOTE_CLI_BIN, "run", model_.string(), "--ids", "5,17,99,1000,7", "-n", "12",
                                         "--ignore-eos"};
  auto resident = run_command(base);
  ASSERT_EQ(resident.exit_code, 0) << resident.err;
  for (std::vector<std::string> flags : {std::vector<std::string>{"--expert-budget", "4M"},
                                         {"--expert-budget", "8M", "--expert-hot", "2"},
                                         {"--expert-budget", "8M", "--no-prefetch", "--expert-policy", "lfu"}}) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto r = run_command(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, resident.out) << flags[1];
    EXPECT_NE(r.err.find("expert store:"), std::string::npos);
  }
#endif
}

}  // namespace
