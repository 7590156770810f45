// The whole forward on the staging backend (ModelOptions::backend.kind = kStaging): weights,
// per-layer state, scratch and expert slots live in pages that fault on any host access outside
// a backend op, so a decoder or session that reads or writes a device pointer directly (bypassing
// the seam) crashes here. The logits must equal, bit for bit, the CPU backend's with the same
// kernel table, for the demo model (samples/models/mote-demo, converted at q8_0) and for fixtures
// of both attention kinds (tests/fixtures: ds3_tiny with MTP, qwen3_moe_tiny, gpt_oss_tiny with
// sliding-window layers in rings), for f32, f16 and q8_0 KV caches, with every expert
// resident and under an expert budget (staged expert slots).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/session_logits.h"
#include "common/test_util.h"
#include "model/model.h"

namespace fs = std::filesystem;

namespace mote::test {
namespace {

class StagingModel : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() { dir_ = fresh_temp_dir("backend_staging_model"); }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string convert(const std::string& name) {
    const fs::path src = name == "mote-demo" ? fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / name
                                             : fs::path(MOTE_FIXTURES_DIR) / name;
    const std::string out = (dir_ / (name + ".mote")).string();
    if (!fs::exists(out)) {
      auto r = run_command({MOTE_CONVERT_BIN, src.string(), "-o", out, "--weights", "q8_0", "--quiet"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return out;
  }

  static std::unique_ptr<Model> open(const std::string& path, backend::BackendKind kind, uint64_t budget) {
    ModelOptions o;
    o.backend.kind = kind;
    o.backend.kernels = "";  // the best table, for both kinds
    o.backend.n_threads = 2;
    o.expert_budget_bytes = budget;
    auto m = Model::open(path, o);
    EXPECT_TRUE(m.is_ok()) << m.status().to_string();
    return m.is_ok() ? std::move(m).value() : nullptr;
  }

  static inline fs::path dir_;
};

TEST_P(StagingModel, LogitsEqualTheCpuBackendsBitForBit) {
  const std::string path = convert(GetParam());
  const std::vector<int32_t> ids = {1, 17, 5, 200, 42, 42, 7, 99, 250, 3, 11, 128, 64, 2, 19, 23, 31, 8, 77};
  for (uint64_t budget : {uint64_t(0), uint64_t(1) << 20}) {
    auto cpu = open(path, backend::BackendKind::kCpu, budget);
    auto staging = open(path, backend::BackendKind::kStaging, budget);
    ASSERT_TRUE(cpu && staging);
    EXPECT_STREQ(staging->backend().name(), "staging");
    EXPECT_STREQ(staging->backend().kernels_name(), cpu->backend().kernels_name());
    const std::vector<float> want = prefill_then_decode_logits(*cpu, ids, 8);
    const std::vector<float> got = prefill_then_decode_logits(*staging, ids, 8);
    ASSERT_FALSE(want.empty());
    EXPECT_TRUE(same_bits(got, want)) << GetParam() << " budget " << budget;
  }
}

// Typed KV caches (f16, q8_0: Backend::store_kv and the typed attention rows) on the staging
// backend equal the CPU backend's bits too.
TEST_P(StagingModel, TypedKvCachesEqualTheCpuBackendsBitForBit) {
  const std::string path = convert(GetParam());
  const std::vector<int32_t> ids = {1, 17, 5, 200, 42, 42, 7, 99, 250, 3, 11, 128, 64, 2, 19, 23, 31, 8, 77};
  auto cpu = open(path, backend::BackendKind::kCpu, 0);
  auto staging = open(path, backend::BackendKind::kStaging, 0);
  ASSERT_TRUE(cpu && staging);
  for (KvType type : {KvType::kF16, KvType::kQ8_0}) {
    const std::vector<float> want = prefill_then_decode_logits(*cpu, ids, 8, type);
    const std::vector<float> got = prefill_then_decode_logits(*staging, ids, 8, type);
    ASSERT_FALSE(want.empty());
    EXPECT_TRUE(same_bits(got, want)) << GetParam() << " " << kv_type_name(type);
    EXPECT_FALSE(same_bits(want, prefill_then_decode_logits(*cpu, ids, 8, KvType::kF32)))
        << kv_type_name(type) << " rows gave the f32 logits: the cache type did not take effect";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, StagingModel, ::testing::Values("mote-demo", "ds3_tiny", "qwen3_moe_tiny", "gpt_oss_tiny"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace mote::test
