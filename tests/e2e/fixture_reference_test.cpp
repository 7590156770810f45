// End-to-end: convert each Python-generated reference checkpoint (tests/fixtures/<name>, every
// supported family) with mote-convert, run it with the mote CLI, and compare with the
// transformers reference outputs committed next to it (reference.json + logits.f32).
//   F32: relative max error <= 1e-3 in prefill and decode mode (gpt-oss, whose MXFP4 experts the
//   fast kernels run with int8 activations: 1e-2), identical greedy continuation.
//   BF16 and Q8_0: cosine >= 0.999 at every position; `--weights q4` (lm_head stays Q8_0 by the
//   converter's default recipe): cosine >= 0.99 over all logits and >= 0.98 at every position
//   (random matrices have no outliers for block scales to exploit, and a few positions flip an
//   expert); Q8_0 with Q4 routed experts: >= 0.995 at every position.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::read_file_bytes;
using mote::test::run_command;

namespace {

// DeepSeek-V3/V2 (MLA) and the grouped-query-attention families (Qwen3-MoE without and with YaRN,
// OLMoE, Mixtral with a sliding window, Qwen2-MoE, dense Llama with Llama-3 rope scaling, dense
// Qwen2, gpt-oss with fused MXFP4 experts), all from tests/fixtures/generate.py.
const std::vector<std::string> kFixtures = {"ds3_tiny",       "ds3_bias",       "ds2_lite",    "ds2_group",
                                            "ds3_fp8",        "qwen3_moe_tiny", "qwen3_moe_yarn", "olmoe_tiny",
                                            "mixtral_swa",    "qwen2_moe_tiny", "llama_dense", "qwen2_dense",
                                            "gpt_oss_tiny"};

struct Reference {
  std::vector<int32_t> ids;
  int64_t vocab = 0;
  std::vector<float> logits;  // [ids.size(), vocab]
  std::vector<int32_t> greedy_prompt;
  int greedy_n = 0;
  std::vector<int32_t> greedy_continuation;
};

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

std::vector<float> read_floats(const fs::path& path) {
  const std::string bytes = read_file_bytes(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

Reference load_reference(const fs::path& dir) {
  const auto j = nlohmann::json::parse(read_file_bytes(dir / "reference.json"));
  Reference r;
  r.ids = j.at("ids").get<std::vector<int32_t>>();
  r.vocab = j.at("vocab_size").get<int64_t>();
  r.logits = read_floats(dir / j.at("logits_file").get<std::string>());
  r.greedy_prompt = j.at("greedy_prompt").get<std::vector<int32_t>>();
  r.greedy_n = j.at("greedy_n").get<int>();
  r.greedy_continuation = j.at("greedy_continuation").get<std::vector<int32_t>>();
  return r;
}

double relative_max_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(double(got[i]) - double(ref[i])));
    max_ref = std::max(max_ref, std::fabs(double(ref[i])));
  }
  return max_diff / max_ref;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

double min_row_cosine(const std::vector<float>& got, const std::vector<float>& ref, int64_t vocab) {
  double worst = 1.0;
  for (size_t row = 0; row * vocab < ref.size(); ++row) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t c = 0; c < vocab; ++c) {
      const double a = got[row * vocab + c], b = ref[row * vocab + c];
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    worst = std::min(worst, dot / std::sqrt(na * nb));
  }
  return worst;
}

class FixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::path(MOTE_FIXTURES_DIR) / GetParam();
    if (!fs::exists(dir_ / "reference.json")) GTEST_FAIL() << "missing fixture " << dir_;
    ref_ = load_reference(dir_);
    work_ = mote::test::fresh_temp_dir("e2e_" + GetParam());
  }

  // Converts the fixture with `--weights type` plus `extra` flags.
  fs::path convert(const std::string& type, const std::vector<std::string>& extra = {}) {
    const fs::path out = work_ / (type + std::to_string(extra.size()) + ".mote");
    std::vector<std::string> argv = {MOTE_CONVERT_BIN, dir_.string(), "-o", out.string(), "--weights", type, "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  std::vector<float> logits(const fs::path& model, const std::string& mode) {
    const fs::path out = work_ / ("logits_" + mode + ".f32");
    auto r = run_command({MOTE_CLI_BIN, "logits", model.string(), "--ids", join_ids(ref_.ids),
                          "--out", out.string(), "--mode", mode});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<float> v = read_floats(out);
    EXPECT_EQ(v.size(), ref_.logits.size()) << "logits file has the wrong size";
    v.resize(ref_.logits.size());
    return v;
  }

  void TearDown() override { fs::remove_all(work_); }

  fs::path dir_, work_;
  Reference ref_;
};

TEST_P(FixtureTest, F32MatchesReferenceInPrefillAndDecode) {
  const fs::path model = convert("f32");
  const auto prefill = logits(model, "prefill");
  const auto decode = logits(model, "decode");
  const double err_prefill = relative_max_error(prefill, ref_.logits);
  const double err_decode = relative_max_error(decode, ref_.logits);
  RecordProperty("rel_err_prefill", std::to_string(err_prefill));
  RecordProperty("rel_err_decode", std::to_string(err_decode));
  std::printf("[%s] f32 relative max error: prefill %.3g, decode %.3g\n", GetParam().c_str(),
              err_prefill, err_decode);
  // gpt-oss's experts stay MXFP4 in every recipe, and the fast kernels run MXFP4 with int8
  // activations (as Q8_0 / Q4_0): their rounding, not the f32 path, sets the error there
  // (measured 4.8e-3 on gpt_oss_tiny with avx2 and avx512, 6.9e-5 with the reference kernels;
  // per-position cosine 0.99998, greedy continuation identical).
  const double bound = GetParam() == "gpt_oss_tiny" ? 1e-2 : 1e-3;
  EXPECT_LE(err_prefill, bound);
  EXPECT_LE(err_decode, bound);
  EXPECT_LE(relative_max_error(prefill, decode), 1e-4) << "prefill and decode disagree";
}

TEST_P(FixtureTest, F32GreedyContinuationIsIdentical) {
  const fs::path model = convert("f32");
  auto r = run_command({MOTE_CLI_BIN, "run", model.string(), "--ids", join_ids(ref_.greedy_prompt),
                        "-n", std::to_string(ref_.greedy_n), "--ignore-eos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  EXPECT_EQ(out, join_ids(ref_.greedy_continuation));
}

TEST_P(FixtureTest, QuantisedLogitsKeepCosine) {
  struct Case { std::string type; std::vector<std::string> extra; double min_per_position; double overall; };
  const Case cases[] = {{"bf16", {}, 0.999, 0.999},
                        {"q8_0", {}, 0.999, 0.999},
                        {"q4", {}, 0.98, 0.99},
                        {"q8_0", {"--expert-weights", "q4"}, 0.995, 0.995}};
  for (const Case& c : cases) {
    const fs::path model = convert(c.type, c.extra);
    const auto got = logits(model, "prefill");
    const double worst = min_row_cosine(got, ref_.logits, ref_.vocab);
    const double overall = cosine(got, ref_.logits);
    const std::string recipe = c.type + (c.extra.empty() ? "" : " + experts q4");
    std::printf("[%s] %s cosine: overall %.6f, min per position %.6f\n", GetParam().c_str(),
                recipe.c_str(), overall, worst);
    EXPECT_GE(worst, c.min_per_position) << recipe;
    EXPECT_GE(overall, c.overall) << recipe;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(kFixtures),
                         [](const auto& info) { return info.param; });

}  // namespace
