// The converter's fast path (AVX-512 encoders, threads, read-ahead) writes the same file, byte
// for byte, as its reference path (MOTE_CONVERT_REFERENCE=1: kernels/quant.h quantize_row, one
// thread). SOURCE_DATE_EPOCH pins the creation time so whole files compare. Checkpoints come
// from mote-synth: a real-width OLMoE-1B-7B slice (hidden 2048, expert width 1024; one layer,
// 4 experts, a cut vocab so the reference Q2_1 run stays short) in BF16, and a small
// DeepSeek-V3 in FP8 with F32 block scales.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

#if defined(MOTE_SYNTH_BIN)
const std::string kSynth = MOTE_SYNTH_BIN;
#else
const std::string kSynth;
#endif
const fs::path kConfigs = fs::path(MOTE_TEST_SOURCE_DIR) / "../tools/synth/configs";

const char* kTinyV3 = R"({"model_type": "deepseek_v3", "vocab_size": 300, "hidden_size": 192,
  "intermediate_size": 320, "moe_intermediate_size": 96, "num_hidden_layers": 2,
  "num_nextn_predict_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
  "q_lora_rank": 64, "kv_lora_rank": 32, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16,
  "v_head_dim": 32, "n_routed_experts": 16, "n_shared_experts": 1, "num_experts_per_tok": 2,
  "first_k_dense_replace": 1, "n_group": 2, "topk_group": 1, "topk_method": "noaux_tc",
  "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 2.5,
  "max_position_embeddings": 1024, "bos_token_id": 0, "eos_token_id": 1})";

class ConvertIdentity : public ::testing::Test {
 protected:
  void SetUp() override {
    // tests/CMakeLists.txt makes only test_tools depend on mote-synth; a full build has it.
    if (kSynth.empty() || !fs::exists(kSynth)) GTEST_SKIP() << "mote-synth not built";
    dir_ = fs::path(MOTE_TEST_TMP) / ("convert_identity_" + std::string(
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Converts `hf` twice (fast, reference) with `types` and expects identical files.
  void expect_identical(const fs::path& hf, const std::vector<std::string>& types, const std::string& tag,
                        const std::string& chunk_mb = "3") {
    const fs::path fast = dir_ / (tag + "_fast.mote"), ref = dir_ / (tag + "_ref.mote");
    std::vector<std::string> a = {"/usr/bin/env", "SOURCE_DATE_EPOCH=1700000000", "MOTE_CONVERT_REFERENCE=0",
                                  MOTE_CONVERT_BIN, hf.string(), "-o", fast.string(), "--quiet", "--threads", "2"};
    std::vector<std::string> b = {"/usr/bin/env", "SOURCE_DATE_EPOCH=1700000000", "MOTE_CONVERT_REFERENCE=1",
                                  MOTE_CONVERT_BIN, hf.string(), "-o", ref.string(), "--quiet", "--threads", "1"};
    a.insert(a.end(), types.begin(), types.end());
    b.insert(b.end(), types.begin(), types.end());
    // A small chunk size makes big tensors span several chunks (and the read-ahead).
    a.insert(a.end(), {"--chunk-mb", chunk_mb});
    const auto ra = run_command(a), rb = run_command(b);
    ASSERT_EQ(ra.exit_code, 0) << ra.err;
    ASSERT_EQ(rb.exit_code, 0) << rb.err;
    const std::string x = mote::test::read_file_bytes(fast), y = mote::test::read_file_bytes(ref);
    ASSERT_EQ(x.size(), y.size()) << tag;
    size_t first = 0;
    while (first < x.size() && x[first] == y[first]) ++first;
    EXPECT_EQ(first, x.size()) << tag << ": files differ first at byte " << first;
  }

  fs::path dir_;
};

TEST_F(ConvertIdentity, OlmoeRealWidthBf16) {
  const fs::path hf = dir_ / "hf";
  std::vector<std::string> synth = {kSynth, "--config", (kConfigs / "olmoe-1b-7b.json").string(), "-o", hf.string(),
                                    "--layers", "1", "--set", "num_experts=4", "--set", "num_experts_per_tok=2",
                                    "--set", "vocab_size=1000", "--quiet"};
  // MOTE_TEST_SCALE=small (qemu-aarch64: 342 s at real width, no SIMD encoders there): hidden 512
  // and expert width 256 instead of 2048 and 1024 (13x fewer weights), with 1 MiB chunks instead
  // of 3 so the 1000 x 512 embedding and lm_head still span several chunks.
  std::string chunk_mb = "3";
  if (mote::test::small_scale()) {
    synth.insert(synth.end(), {"--set", "hidden_size=512", "--set", "intermediate_size=256"});
    chunk_mb = "1";
  }
  const auto s = run_command(synth);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  expect_identical(hf, {"--weights", "q8_0"}, "q8_0", chunk_mb);
  expect_identical(hf, {"--weights", "q4", "--expert-weights", "q2", "--embed-weights", "q4", "--output-weights",
                        "q2"}, "q4_q2", chunk_mb);
  expect_identical(hf, {"--weights", "q4", "--row-major"}, "q4_row_major", chunk_mb);
}

TEST_F(ConvertIdentity, DeepseekFp8) {
  mote::test::write_file_bytes(dir_ / "config.json", kTinyV3);
  const fs::path hf = dir_ / "hf";
  const auto s = run_command({kSynth, "--config", (dir_ / "config.json").string(), "-o", hf.string(), "--fp8",
                              "--quiet"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  expect_identical(hf, {"--weights", "q8_0"}, "q8_0");
  expect_identical(hf, {"--weights", "q4", "--expert-weights", "q2"}, "q4_q2");
}

}  // namespace
