// mote-synth's direct .mote output (-o FILE.mote) is byte-identical to writing the Hugging Face
// checkpoint with mote-synth and converting it with mote-convert (same --weights; SOURCE_DATE_EPOCH
// pins the creation time, --source-name the provenance), for real configs of several families:
// Qwen3-30B-A3B, OLMoE-1B-7B, DeepSeek-V2-Lite (real widths; one layer, 4 routed experts, a cut
// vocab), DeepSeek-V3 with its MTP layer and Mixtral-8x7B (their widths cut too, to stay fast:
// 7168 x 18432 matrices cost seconds each), with a tokenizer embedded and --route-skew and
// --route-locality on. And
// --route-skew really skews the routing: on a real-width Qwen3 layer the 10% most used experts
// take far more than 10% of the accesses with it, and about the uniform share without.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

#if defined(MOTE_SYNTH_BIN) && defined(MOTE_ROUTE_STATS_BIN)
const std::string kSynth = MOTE_SYNTH_BIN, kRouteStats = MOTE_ROUTE_STATS_BIN;
#else
const std::string kSynth, kRouteStats;
#endif
const fs::path kConfigs = fs::path(MOTE_TEST_SOURCE_DIR) / "../tools/synth/configs";
const std::string kEpoch = "SOURCE_DATE_EPOCH=1700000000";

class SynthDirect : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kSynth.empty() || !fs::exists(kSynth)) GTEST_SKIP() << "mote-synth not built";
    dir_ = fs::path(MOTE_TEST_TMP) / ("synth_direct_" + std::string(
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes the checkpoint of `config` + `synth_args` once, then for each type in `types` converts
  // it and writes the direct file, and expects the two identical. `tokenizer`: a folder whose
  // tokenizer files are copied into the checkpoint and given to the direct run.
  //
  // MOTE_TEST_SCALE=small (qemu-aarch64, where Q4 encoding has no SIMD loop: over 60 s per test at
  // these widths) appends `small_args` to synth_args: narrower widths (--set, a later one wins).
  void expect_direct_equals_converted(const std::string& config, std::vector<std::string> synth_args,
                                      const std::vector<std::string>& types, const fs::path& tokenizer = {},
                                      const std::vector<std::string>& small_args = {}) {
    if (mote::test::small_scale()) synth_args.insert(synth_args.end(), small_args.begin(), small_args.end());
    const fs::path hf = dir_ / "hf";
    std::vector<std::string> s = {kSynth, "--config", (kConfigs / config).string(), "-o", hf.string(), "--quiet"};
    s.insert(s.end(), synth_args.begin(), synth_args.end());
    const auto rs = run_command(s);
    ASSERT_EQ(rs.exit_code, 0) << rs.err;
    if (!tokenizer.empty())
      for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(tokenizer / f, hf / f);
    for (const std::string& type : types) {
      const fs::path a = dir_ / ("converted_" + type + ".mote"), b = dir_ / ("direct_" + type + ".mote");
      const auto ra = run_command({"/usr/bin/env", kEpoch, MOTE_CONVERT_BIN, hf.string(), "-o", a.string(),
                                   "--weights", type, "--quiet"});
      ASSERT_EQ(ra.exit_code, 0) << ra.err;
      // A small chunk makes the generated source serve several reads per tensor.
      std::vector<std::string> d = {"/usr/bin/env", kEpoch, kSynth, "--config", (kConfigs / config).string(),
                                    "-o", b.string(), "--weights", type, "--source-name", hf.string(),
                                    "--chunk-mb", "3", "--quiet"};
      d.insert(d.end(), synth_args.begin(), synth_args.end());
      if (!tokenizer.empty()) d.insert(d.end(), {"--tokenizer", tokenizer.string()});
      const auto rb = run_command(d);
      ASSERT_EQ(rb.exit_code, 0) << rb.err;
      const std::string x = mote::test::read_file_bytes(a), y = mote::test::read_file_bytes(b);
      ASSERT_EQ(x.size(), y.size()) << config << " " << type;
      size_t first = 0;
      while (first < x.size() && x[first] == y[first]) ++first;
      EXPECT_EQ(first, x.size()) << config << " " << type << ": files differ first at byte " << first;
      fs::remove(a);
      fs::remove(b);
    }
  }

  fs::path dir_;
};

TEST_F(SynthDirect, Qwen3MatchesConverted) {
  expect_direct_equals_converted("qwen3-30b-a3b.json",
                                 {"--layers", "1", "--set", "num_experts=4", "--set", "num_experts_per_tok=2",
                                  "--set", "vocab_size=512"},
                                 {"q8_0", "q4"}, {},
                                 {"--set", "hidden_size=512", "--set", "num_attention_heads=4", "--set",
                                  "num_key_value_heads=2", "--set", "moe_intermediate_size=256"});
}

TEST_F(SynthDirect, OlmoeMatchesConvertedBf16) {
  expect_direct_equals_converted("olmoe-1b-7b.json",
                                 {"--layers", "1", "--set", "num_experts=4", "--set", "num_experts_per_tok=2",
                                  "--set", "vocab_size=512"},
                                 {"q4", "bf16"}, {},
                                 {"--set", "hidden_size=512", "--set", "num_attention_heads=4", "--set",
                                  "num_key_value_heads=4", "--set", "intermediate_size=256"});
}

TEST_F(SynthDirect, DeepseekV2LiteMatchesConverted) {
  expect_direct_equals_converted("deepseek-v2-lite.json",
                                 {"--layers", "2", "--set", "n_routed_experts=4", "--set", "num_experts_per_tok=2",
                                  "--set", "vocab_size=512", "--set", "intermediate_size=1024"},
                                 {"q8_0", "q4"}, {},
                                 {"--set", "hidden_size=512", "--set", "num_attention_heads=4", "--set",
                                  "num_key_value_heads=4", "--set", "moe_intermediate_size=256", "--set",
                                  "intermediate_size=512"});
}

// MTP layer kept (its embed_tokens / shared_head differ from the main ones here: not aliased),
// e_score_correction_bias, q-LoRA; hidden and expert widths cut.
TEST_F(SynthDirect, DeepseekV3MtpMatchesConverted) {
  expect_direct_equals_converted("deepseek-v3.json",
                                 {"--layers", "1", "--set", "first_k_dense_replace=0", "--set", "hidden_size=512",
                                  "--set", "moe_intermediate_size=256", "--set", "n_routed_experts=8",
                                  "--set", "n_group=2", "--set", "topk_group=1", "--set", "num_experts_per_tok=2",
                                  "--set", "num_attention_heads=8",
                                  "--set", "vocab_size=512"},
                                 {"q8_0", "q4"}, {},
                                 {"--set", "num_attention_heads=4", "--set", "q_lora_rank=512", "--set",
                                  "moe_intermediate_size=128"});
}

// Embedded tokenizer and the skewed / local routing values, the same either way.
TEST_F(SynthDirect, MixtralSkewTokenizerMatchesConverted) {
  expect_direct_equals_converted("mixtral-8x7b-v0.1.json",
                                 {"--layers", "1", "--set", "num_local_experts=4", "--set", "intermediate_size=512",
                                  "--set", "hidden_size=1024", "--set", "vocab_size=512", "--route-skew", "0.3",
                                  "--route-locality", "16"},
                                 {"q8_0", "q4"}, fs::path(MOTE_FIXTURES_DIR) / "ds3_tiny",
                                 {"--set", "hidden_size=512", "--set", "intermediate_size=256", "--set",
                                  "num_attention_heads=8", "--set", "num_key_value_heads=2"});
}

// Mean share of the 10% most used experts over the MoE layers, from mote-route-stats.
double top10_share(const fs::path& model) {
  const auto r = run_command({kRouteStats, model.string(), "--tokens", "64"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("mean", 0) == 0) return std::strtod(line.c_str() + 4, nullptr);
  ADD_FAILURE() << "no mean line in: " << r.out;
  return 0;
}

// Real Qwen3 widths (hidden 2048, expert 768), one layer of 32 experts (top 2: with top 8 the 3
// busiest could take at most 3/8 of the accesses), 64 tokens: uniform routing gives the top 3
// experts 3/32 = 0.09 of the accesses (sampling noise lifts that to ~0.2); --route-skew 1 gives
// well over half.
TEST_F(SynthDirect, RouteSkewSkewsRouting) {
  if (kRouteStats.empty() || !fs::exists(kRouteStats)) GTEST_SKIP() << "mote-route-stats not built";
  double share[2] = {0, 0};
  for (int skew = 0; skew < 2; ++skew) {
    const fs::path m = dir_ / ("skew" + std::to_string(skew) + ".mote");
    std::vector<std::string> argv = {kSynth, "--config", (kConfigs / "qwen3-30b-a3b.json").string(), "-o", m.string(),
                                     "--layers", "1", "--set", "num_experts=32", "--set", "num_experts_per_tok=2",
                                     "--set", "vocab_size=512", "--weights", "q4", "--route-skew", skew ? "1" : "0",
                                     "--quiet"};
    // MOTE_TEST_SCALE=small (qemu-aarch64): hidden 512, 4 query heads, expert width 64 (still
    // 32 experts, top 2: the statistic below is about the routing, not the widths).
    if (mote::test::small_scale())
      argv.insert(argv.end(), {"--set", "hidden_size=512", "--set", "num_attention_heads=4", "--set",
                               "num_key_value_heads=2", "--set", "moe_intermediate_size=64"});
    const auto r = run_command(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    share[skew] = top10_share(m);
  }
  std::printf("top-10%% share: skew off %.3f, on %.3f\n", share[0], share[1]);
  EXPECT_LT(share[0], 0.3) << "skew off should route about uniformly";
  EXPECT_GT(share[1], 0.5) << "skew on should concentrate the accesses";
}

}  // namespace
