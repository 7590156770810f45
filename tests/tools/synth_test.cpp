// mote-synth: seeded synthetic Hugging Face checkpoints. Checks determinism, that the tensor
// names/shapes/dtypes are exactly what the converter expects, that a real-width DeepSeek-V2-Lite
// slice converts and runs with finite logits, that memory stays bounded while writing > 1 GB, that
// a real-width OLMoE slice carries the real checkpoint's tensors and converts and runs, and that
// the full Qwen3-30B-A3B and Mixtral-8x7B plans have the expected tensor counts.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "arch/expected.h"
#include "common/test_util.h"
#include "hf/checkpoint.h"
#include "hf/config.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

#if defined(MOTE_SYNTH_BIN) && defined(MOTE_CLI_BIN)
#define MOTE_SYNTH_AVAILABLE 1
const std::string kSynth = MOTE_SYNTH_BIN, kCli = MOTE_CLI_BIN;
#else
const std::string kSynth, kCli;  // tools and CLI not built (MOTE_BUILD_SAMPLES=OFF)
#endif
const fs::path kConfigs = fs::path(MOTE_TEST_SOURCE_DIR) / "../tools/synth/configs";

// A small DeepSeek-V3 (q-LoRA, noaux_tc, MTP) config whose widths are not multiples of 128, so
// FP8 block scales have ragged edges.
const char* kTinyV3 = R"({"model_type": "deepseek_v3", "vocab_size": 300, "hidden_size": 192,
  "intermediate_size": 320, "moe_intermediate_size": 96, "num_hidden_layers": 2,
  "num_nextn_predict_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
  "q_lora_rank": 64, "kv_lora_rank": 32, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16,
  "v_head_dim": 32, "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
  "first_k_dense_replace": 1, "n_group": 2, "topk_group": 1, "topk_method": "noaux_tc",
  "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 2.5,
  "max_position_embeddings": 1024, "bos_token_id": 0, "eos_token_id": 1})";

mote::test::CommandResult synth(const fs::path& config, const fs::path& out, std::vector<std::string> extra) {
  std::vector<std::string> argv = {kSynth, "--config", config.string(), "-o", out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv);
}

std::string shard_bytes(const fs::path& dir) {
  std::string all;
  std::set<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.insert(e.path());
  for (const auto& f : files) all += f.filename().string() + mote::test::read_file_bytes(f);
  return all;
}

// Every tensor the converter expects is present with its shape; FP8 weights carry scales of the
// right shape; nothing else is in the checkpoint.
void expect_matches_converter(const fs::path& dir, bool fp8) {
  using namespace mote::convert;
  namespace fb = mote::fb;
  const HfConfig c = load_config(dir.string());
  const ExpectedModel m = expected_tensors(c, true);
  const auto ck = Checkpoint::open(dir.string());
  size_t expected = 0;
  auto check = [&](const ExpectedTensor& e) {
    const TensorRef r = ck->find(e.name);
    ASSERT_TRUE(r) << "missing " << e.name;
    ++expected;
    EXPECT_EQ(r.info->shape, e.shape) << e.name;
    const bool quantised = fp8 && e.shape.size() == 2 && e.role != fb::TensorRole::MtpEhProj &&
                           (e.tensor_class == fb::TensorClass::Attention || e.tensor_class == fb::TensorClass::DenseFfn ||
                            e.tensor_class == fb::TensorClass::SharedExpert || e.tensor_class == fb::TensorClass::RoutedExpert);
    if (e.role == fb::TensorRole::RouterBias) EXPECT_EQ(r.info->dtype, StDtype::F32) << e.name;
    else EXPECT_EQ(r.info->dtype, quantised ? StDtype::F8_E4M3 : StDtype::BF16) << e.name;
    if (!quantised) return;
    const TensorRef s = ck->find(e.name + "_scale_inv");
    ASSERT_TRUE(s) << "missing scale of " << e.name;
    ++expected;
    EXPECT_EQ(s.info->dtype, StDtype::F32);
    EXPECT_EQ(s.info->shape, (std::vector<uint64_t>{(e.shape[0] + 127) / 128, (e.shape[1] + 127) / 128}));
  };
  for (const auto& t : m.globals) check(t);
  for (const auto& l : m.layers) {
    for (const auto& t : l.tensors) check(t);
    for (const auto& ex : l.experts)
      for (const auto& t : ex) check(t);
  }
  EXPECT_EQ(ck->tensors().size(), expected) << "unexpected extra tensors";
}

std::vector<float> read_floats(const fs::path& p) {
  const std::string b = mote::test::read_file_bytes(p);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

// Converts `dir`, runs a short generation and checks the prefill logits are finite and spread.
void convert_and_run(const fs::path& dir, const fs::path& work, const std::string& weights) {
  const fs::path model = work / "model.mote";
  auto r = run_command({MOTE_CONVERT_BIN, dir.string(), "-o", model.string(), "--weights", weights, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command({kCli, "run", model.string(), "--ids", "1,2,3", "-n", "4", "--ignore-eos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  const fs::path logits = work / "logits.f32";
  r = run_command({kCli, "logits", model.string(), "--ids", "1,2,3", "--out", logits.string(), "--mode", "prefill"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<float> v = read_floats(logits);
  ASSERT_FALSE(v.empty());
  double sum = 0, sq = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    sum += x, sq += double(x) * x;
  }
  const double mean = sum / v.size(), var = sq / v.size() - mean * mean;
  EXPECT_GT(var, 1e-6) << "degenerate logits";
}

class SynthTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef MOTE_SYNTH_AVAILABLE
    GTEST_SKIP() << "mote-synth / mote not built (MOTE_BUILD_SAMPLES=OFF)";
#endif
    work_ = mote::test::fresh_temp_dir("synth_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }
  void TearDown() override {
    if (!work_.empty()) fs::remove_all(work_);
  }
  fs::path tiny_config() {
    const fs::path p = work_ / "tiny_v3.json";
    mote::test::write_file_bytes(p, kTinyV3);
    return p;
  }
  fs::path work_;
};

}  // namespace

TEST_F(SynthTest, SameSeedSameBytesOtherSeedDiffers) {
  const fs::path cfg = tiny_config();
  for (const char* name : {"a", "b", "c"}) {
    const std::string seed = std::string(name) == "c" ? "8" : "7";
    auto r = synth(cfg, work_ / name, {"--seed", seed, "--fp8", "--shard-mb", "1", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(shard_bytes(work_ / "a"), shard_bytes(work_ / "b"));
  EXPECT_NE(shard_bytes(work_ / "a"), shard_bytes(work_ / "c"));
  EXPECT_TRUE(mote::test::files_containing(work_ / "a", "synth-tmp").empty());
  EXPECT_GT(std::distance(fs::directory_iterator(work_ / "a"), fs::directory_iterator()), 3) << "expected several shards";
}

TEST_F(SynthTest, TinyV3Fp8MatchesConverterAndRuns) {
  const fs::path out = work_ / "ckpt";
  auto r = synth(tiny_config(), out, {"--fp8", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_matches_converter(out, true);
  convert_and_run(out, work_, "q4");
}

TEST_F(SynthTest, BadInputsGiveOneLineErrors) {
  const fs::path bad = work_ / "bad.json";
  mote::test::write_file_bytes(bad, "{\"model_type\": \"deepseek_v3\", \"hidden_size\": 0}");
  auto r = synth(bad, work_ / "o1", {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mote-synth: bad config"), std::string::npos) << r.err;
  mote::test::write_file_bytes(work_ / "file", "x");
  r = synth(tiny_config(), work_ / "file" / "sub", {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot create output directory"), std::string::npos) << r.err;
  r = synth(work_ / "missing.json", work_ / "o2", {});
  EXPECT_NE(r.err.find("cannot read config"), std::string::npos) << r.err;
}

// Real V2-Lite widths (vocab 102400, hidden 2048, 64 experts), 2 layers: one dense, one MoE.
TEST_F(SynthTest, V2LiteSliceStreamsConvertsAndRuns) {
  const fs::path out = work_ / "v2lite";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = synth(kConfigs / "deepseek-v2-lite.json", out, {"--layers", "2", "--seed", "1"});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  uint64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(out)) bytes += e.file_size();
  std::printf("mote-synth: %.0f MB in %.1f s (%.0f MB/s), peak RSS %.1f MiB\n", bytes / 1048576.0, s,
              bytes / 1048576.0 / s, r.peak_rss_bytes / 1048576.0);
  EXPECT_GT(bytes, uint64_t(1) << 30);
  EXPECT_LT(r.peak_rss_bytes, int64_t(64) << 20);
  expect_matches_converter(out, false);
  // q8_0: q4 of this 1B-parameter slice takes about a minute on 2 cores (the tiny test covers q4).
  convert_and_run(out, work_, "q8_0");
}

// Real OLMoE-1B-7B widths, 1 layer: the names and shapes of the real checkpoint (written here by
// hand, independently of the converter's mapping), then converted and run.
TEST_F(SynthTest, OlmoeHasSpecTensorsConvertsAndRuns) {
  const fs::path out = work_ / "olmoe";
  // MOTE_TEST_SCALE=small (qemu-aarch64, ~100 s there at full size): 8 of the 64 experts and a
  // 4096-token vocabulary; every width stays real (2048, expert 1024).
  const bool small = mote::test::small_scale();
  const uint64_t vocab = small ? 4096 : 50304;
  const int experts = small ? 8 : 64;
  std::vector<std::string> args = {"--layers", "1", "--quiet"};
  if (small) args.insert(args.end(), {"--set", "num_experts=8", "--set", "vocab_size=4096"});
  auto r = synth(kConfigs / "olmoe-1b-7b.json", out, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ck = mote::convert::Checkpoint::open(out.string());
  std::map<std::string, std::vector<uint64_t>> want = {
      {"model.embed_tokens.weight", {vocab, 2048}}, {"lm_head.weight", {vocab, 2048}}, {"model.norm.weight", {2048}},
      {"model.layers.0.input_layernorm.weight", {2048}}, {"model.layers.0.post_attention_layernorm.weight", {2048}},
      {"model.layers.0.self_attn.q_norm.weight", {2048}}, {"model.layers.0.self_attn.k_norm.weight", {2048}},
      {"model.layers.0.mlp.gate.weight", {uint64_t(experts), 2048}}};
  for (const char* p : {"q", "k", "v", "o"}) want[std::string("model.layers.0.self_attn.") + p + "_proj.weight"] = {2048, 2048};
  for (int e = 0; e < experts; ++e) {
    const std::string ep = "model.layers.0.mlp.experts." + std::to_string(e) + ".";
    want[ep + "gate_proj.weight"] = {1024, 2048};
    want[ep + "up_proj.weight"] = {1024, 2048};
    want[ep + "down_proj.weight"] = {2048, 1024};
  }
  EXPECT_EQ(ck->tensors().size(), want.size());
  for (const auto& [name, shape] : want) {
    const auto t = ck->find(name);
    ASSERT_TRUE(t) << "missing " << name;
    EXPECT_EQ(t.info->shape, shape) << name;
    EXPECT_EQ(t.info->dtype, mote::convert::StDtype::BF16) << name;
  }
  expect_matches_converter(out, false);
  convert_and_run(out, work_, "q8_0");
}

// Real flagship configs of the GQA families at full size (no bytes written):
// Qwen3-30B-A3B: 3 globals + 48 layers x (2 norms + q/k/v/o + q/k norms + router + 128 x 3) = 18867;
// Mixtral-8x7B: 3 + 32 x (2 norms + q/k/v/o + router + 8 x 3) = 995;
// Qwen2-57B-A14B: 3 + 28 x (2 norms + q/k/v/o + q/k/v biases + router + shared expert 3 + its
// gate + 64 x 3) = 5771 tensors, 114.8 GB in BF16 (57.4 B parameters).
TEST_F(SynthTest, GqaFlagshipsDryRunPlanTheFullModels) {
  auto r = synth(kConfigs / "qwen3-30b-a3b.json", work_ / "q3", {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("18867 tensors, ", 0), 0u) << r.out;
  r = synth(kConfigs / "mixtral-8x7b-v0.1.json", work_ / "mx", {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("995 tensors, ", 0), 0u) << r.out;
  r = synth(kConfigs / "qwen2-57b-a14b.json", work_ / "q2", {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("5771 tensors, 114817317888 bytes", 0), 0u) << r.out;
}

// gpt-oss-20b. Full plan (no bytes written): 3 globals + 24 layers x (13
// attention / norm / router tensors + 6 fused expert tensors) = 459. Then 1 layer at real widths:
// the fused MXFP4 experts (U8 blocks / scales) convert to one MXFP4 segment per expert and run.
TEST_F(SynthTest, GptOss20bFusedMxfp4ConvertsAndRuns) {
  auto r = synth(kConfigs / "gpt-oss-20b.json", work_ / "full", {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("459 tensors, ", 0), 0u) << r.out;
  const fs::path out = work_ / "gpt_oss";
  // MOTE_TEST_SCALE=small (qemu-aarch64, over 150 s there at full size: 2.3 GB of BF16 embedding
  // and lm_head): 4 of the 32 experts and a 4096-token vocabulary; every width stays real.
  const bool small = mote::test::small_scale();
  const uint64_t experts = small ? 4 : 32;
  std::vector<std::string> args = {"--layers", "1", "--quiet"};
  if (small) args.insert(args.end(), {"--set", "num_local_experts=4", "--set", "vocab_size=4096"});
  r = synth(kConfigs / "gpt-oss-20b.json", out, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ck = mote::convert::Checkpoint::open(out.string());
  const std::pair<const char*, std::vector<uint64_t>> fused[] = {
      {"model.layers.0.mlp.experts.gate_up_proj_blocks", {experts, 5760, 90, 16}},
      {"model.layers.0.mlp.experts.gate_up_proj_scales", {experts, 5760, 90}},
      {"model.layers.0.mlp.experts.down_proj_blocks", {experts, 2880, 90, 16}},
      {"model.layers.0.mlp.experts.down_proj_scales", {experts, 2880, 90}}};
  for (const auto& [name, shape] : fused) {
    const auto t = ck->find(name);
    ASSERT_TRUE(t) << "missing " << name;
    EXPECT_EQ(t.info->shape, shape) << name;
    EXPECT_EQ(t.info->dtype, mote::convert::StDtype::U8) << name;
  }
  convert_and_run(out, work_, "q8_0");
}

// The flagship plan at full size (no bytes written): 61 layers + MTP, FP8 with scales.
// 3 globals + 3 dense layers x 20 + 58 MoE layers x 1558 + MTP layer 1564 = 91991 tensors.
TEST_F(SynthTest, DeepSeekV3DryRunPlansTheFullModel) {
  auto r = synth(kConfigs / "deepseek-v3.json", work_ / "v3", {"--fp8", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("91991 tensors, ", 0), 0u) << r.out;
  EXPECT_FALSE(fs::exists(work_ / "v3"));
}
