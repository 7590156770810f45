// Whole models on the CUDA backend against the CPU backend (reference kernel table), on every
// fixture of tests/fixtures (every family; tests/e2e/fixture_reference_test.cpp's list):
//   F32 weights: prefill and decode logits within a relative max error of 1e-4, and the same
//   greedy continuation; Q8_0: cosine >= 0.999; Q4: cosine >= 0.99 (over all logits).
// With an expert budget too (ds3_tiny, qwen3_moe_tiny): routed experts then come from the expert
// store. With a VRAM budget whose device expert cache holds 25% of the routed experts (ds3_tiny,
// olmoe_tiny, gpt_oss_tiny), in each tier mode (upload, CPU, auto): the misses are uploaded into
// the cache or computed on the CPU (experts/device_expert_cache.h), within 1e-4 of the CPU
// backend. Skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/session_logits.h"
#include "common/test_util.h"
#include "experts/device_expert_cache.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote::test {
namespace {

const std::vector<std::string> kFixtures = {"ds3_tiny",       "ds3_bias",       "ds2_lite",    "ds2_group",
                                            "ds3_fp8",        "qwen3_moe_tiny", "qwen3_moe_yarn", "olmoe_tiny",
                                            "mixtral_swa",    "qwen2_moe_tiny", "llama_dense", "qwen2_dense",
                                            "gpt_oss_tiny"};

bool have_cuda() {
  backend::BackendOptions o;
  o.kind = backend::BackendKind::kCuda;
  return backend::create_backend(o).is_ok();
}

double rel_max_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double diff = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(ref[i])));
    max_ref = std::max(max_ref, std::fabs(double(ref[i])));
  }
  return diff / max_ref;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < b.size(); ++i) dot += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
  return dot / std::sqrt(na * nb);
}

std::unique_ptr<Model> open(const std::string& path, backend::BackendKind kind, uint64_t budget = 0) {
  ModelOptions o;
  o.backend.kind = kind;
  o.backend.kernels = "reference";
  o.expert_budget_bytes = budget;
  auto m = Model::open(path, o);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return m.is_ok() ? std::move(m).value() : nullptr;
}

std::vector<int32_t> greedy(const Model& m, const std::vector<int32_t>& prompt, int n) {
  SessionOptions so;
  so.max_context = int64_t(prompt.size()) + n + 1;
  auto s = Session::create(m, so);
  EXPECT_TRUE(s) << s.status().to_string();
  if (!s) return {};
  std::vector<float> logits(size_t(m.hparams().vocab_size));
  EXPECT_TRUE((*s)->prefill(prompt, logits.data(), LogitsMode::kLast));
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    const int32_t id = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(id);
    if (i + 1 < n) {
      EXPECT_TRUE((*s)->decode(id, logits.data()));
    }
  }
  return out;
}

class CudaModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
    dir_ = fs::path(MOTE_FIXTURES_DIR) / GetParam();
    const auto j = nlohmann::json::parse(read_file_bytes(dir_ / "reference.json"));
    ids_ = j.at("ids").get<std::vector<int32_t>>();
    greedy_prompt_ = j.at("greedy_prompt").get<std::vector<int32_t>>();
    greedy_n_ = j.at("greedy_n").get<int>();
    work_ = fresh_temp_dir("cuda_model_" + GetParam());
  }
  void TearDown() override {
    if (!work_.empty()) fs::remove_all(work_);
  }
  std::string convert(const std::string& type) {
    const std::string out = (work_ / (type + ".mote")).string();
    auto r = run_command({MOTE_CONVERT_BIN, dir_.string(), "-o", out, "--weights", type, "--quiet"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
  fs::path dir_, work_;
  std::vector<int32_t> ids_, greedy_prompt_;
  int greedy_n_ = 0;
};

TEST_P(CudaModel, F32LogitsAndGreedyMatchTheCpuBackend) {
  const std::string path = convert("f32");
  auto cpu = open(path, backend::BackendKind::kCpu);
  auto cuda = open(path, backend::BackendKind::kCuda);
  ASSERT_TRUE(cpu && cuda);
  const std::vector<float> want = prefill_then_decode_logits(*cpu, ids_, 7);
  const std::vector<float> got = prefill_then_decode_logits(*cuda, ids_, 7);
  const double err = rel_max_error(got, want);
  std::printf("[%s] f32 cuda vs cpu relative max error %.3g\n", GetParam().c_str(), err);
  EXPECT_LE(err, 1e-4);
  EXPECT_EQ(greedy(*cuda, greedy_prompt_, greedy_n_), greedy(*cpu, greedy_prompt_, greedy_n_));
  if (GetParam() == "ds3_tiny" || GetParam() == "qwen3_moe_tiny") {  // experts staged from the store
    auto budget = open(path, backend::BackendKind::kCuda, uint64_t(1) << 20);
    ASSERT_TRUE(budget);
    EXPECT_LE(rel_max_error(prefill_then_decode_logits(*budget, ids_, 7), want), 1e-4) << "with an expert budget";
  }
  if (GetParam() == "ds3_tiny" || GetParam() == "olmoe_tiny" || GetParam() == "gpt_oss_tiny") {
    ASSERT_NE(cuda->device_experts(), nullptr);
    const DevicePlacement plan = cuda->placement();
    const DeviceExpertCache& all = *cuda->device_experts();
    for (TierMode mode : {TierMode::kUpload, TierMode::kCpu, TierMode::kAuto}) {
      ModelOptions o;
      o.backend.kind = backend::BackendKind::kCuda;
      o.backend.kernels = "reference";
      o.vram_session_bytes = plan.session_bytes;
      o.vram_budget_bytes = plan.dense_bytes + plan.session_bytes +
                            uint64_t(std::max<int64_t>(1, all.total_experts() / 4)) * all.slot_bytes();
      o.expert_tier_mode = mode;
      auto quarter = Model::open(path, o);
      ASSERT_TRUE(quarter.is_ok()) << quarter.status().to_string();
      EXPECT_LE(rel_max_error(prefill_then_decode_logits(**quarter, ids_, 7), want), 1e-4)
          << "VRAM cache of 25% of the experts, tier mode " << int(mode);
      const TierStats t = (*quarter)->device_experts()->stats();
      EXPECT_GT(mode == TierMode::kCpu ? t.cpu_host : t.uploads_host, 0u) << int(mode);
    }
  }
  for (KvType kv : {KvType::kF16, KvType::kQ8_0}) {
    const double e = rel_max_error(prefill_then_decode_logits(*cuda, ids_, 7, kv),
                                   prefill_then_decode_logits(*cpu, ids_, 7, kv));
    EXPECT_LE(e, 1e-3) << kv_type_name(kv) << " KV rows";
  }
}

TEST_P(CudaModel, QuantisedLogitsKeepCosine) {
  for (const auto& [type, bound] : {std::pair<std::string, double>{"q8_0", 0.999}, {"q4", 0.99}}) {
    const std::string path = convert(type);
    auto cpu = open(path, backend::BackendKind::kCpu);
    auto cuda = open(path, backend::BackendKind::kCuda);
    ASSERT_TRUE(cpu && cuda);
    const double c = cosine(prefill_then_decode_logits(*cuda, ids_, 7), prefill_then_decode_logits(*cpu, ids_, 7));
    std::printf("[%s] %s cuda vs cpu cosine %.7f\n", GetParam().c_str(), type.c_str(), c);
    EXPECT_GE(c, bound) << type;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaModel, ::testing::ValuesIn(kFixtures), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mote::test
