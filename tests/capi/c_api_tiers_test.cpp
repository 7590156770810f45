// The expert tiers through the C API (API version 7): mote_model_params.vram_budget and
// expert_tier_mode (validation, one-line errors), MOTE_BACKEND_STAGING with a budget whose
// device cache holds a quarter of the experts (the same greedy tokens as the CPU backend, the
// tier counters of mote_stats, mote_model_get_layer_tiers), and zeros on the CPU backend.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

class CApiTiers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_tiers");
    path_ = (dir_ / "olmoe_tiny.mote").string();
    auto r = mote::test::run_command(
        {MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / "olmoe_tiny").string(), "-o", path_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static mote_model_params params(mote_backend backend) {
    mote_model_params p = mote_model_params_default();
    p.backend = backend;
    p.n_threads = 2;
    p.plan_context = 64;
    return p;
  }

  // Greedy ids of 8 tokens after a fixed prompt, and the session's stats afterwards.
  static std::vector<int32_t> generate(mote_model* m, mote_stats* stats) {
    mote_session_params sp = mote_session_params_default();
    sp.max_context = 64;
    sp.mtp = 0;
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(m, &sp, &s), MOTE_OK) << mote_last_error();
    if (s == nullptr) return {};
    const int32_t prompt[6] = {3, 17, 42, 5, 9, 120};
    mote_generate_params gp = mote_generate_params_default();
    gp.max_tokens = 8;
    gp.ignore_eos = 1;
    std::vector<int32_t> ids;
    auto on_token = [](void* user, int32_t id, const char*, size_t) -> int {
      static_cast<std::vector<int32_t>*>(user)->push_back(id);
      return 0;
    };
    EXPECT_EQ(mote_generate_tokens(s, prompt, 6, &gp, on_token, &ids), MOTE_OK) << mote_last_error();
    EXPECT_EQ(mote_session_get_stats(s, stats), MOTE_OK);
    mote_session_destroy(s);
    return ids;
  }

  static inline fs::path dir_;
  static inline std::string path_;
};

TEST_F(CApiTiers, DefaultsAndValidation) {
  EXPECT_GE(MOTE_API_VERSION, 7);
  const mote_model_params d = mote_model_params_default();
  EXPECT_EQ(d.vram_budget, 0u);
  EXPECT_EQ(d.expert_tier_mode, MOTE_TIER_MODE_AUTO);
  mote_model* m = nullptr;
  mote_model_params p = params(MOTE_BACKEND_STAGING);
  p.vram_budget = uint64_t(1) << 51;
  EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_ERR_INVALID_ARGUMENT);
  std::string e = mote_last_error();
  EXPECT_NE(e.find("vram_budget"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  p = params(MOTE_BACKEND_CPU);
  p.vram_budget = 1 << 30;
  EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_ERR_INVALID_ARGUMENT);
  e = mote_last_error();
  EXPECT_NE(e.find("MOTE_BACKEND_CPU"), std::string::npos) << e;
  p = params(MOTE_BACKEND_STAGING);
  p.expert_tier_mode = static_cast<mote_expert_tier_mode>(9);
  EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("expert_tier_mode"), std::string::npos) << mote_last_error();
  p = params(MOTE_BACKEND_STAGING);
  p.vram_budget = 4096;  // not even the dense weights
  EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_ERR_OUT_OF_MEMORY);
  e = mote_last_error();
  EXPECT_NE(e.find("vram_budget"), std::string::npos) << e;
  EXPECT_NE(e.find("dense weights"), std::string::npos) << e;
  EXPECT_EQ(m, nullptr);
}

TEST_F(CApiTiers, QuarterBudgetOnStagingMatchesTheCpuBackend) {
  mote_model* cpu = nullptr;
  mote_model_params p = params(MOTE_BACKEND_CPU);
  ASSERT_EQ(mote_model_open(path_.c_str(), &p, &cpu), MOTE_OK) << mote_last_error();
  mote_stats cpu_stats{};
  const std::vector<int32_t> want = generate(cpu, &cpu_stats);
  EXPECT_EQ(cpu_stats.vram_budget_bytes, 0u);
  EXPECT_EQ(cpu_stats.tier_device_hits + cpu_stats.tier_cpu_host, 0);
  size_t n_layers = 0;
  EXPECT_EQ(mote_model_get_layer_tiers(cpu, nullptr, 0, &n_layers), MOTE_ERR_BUFFER_TOO_SMALL);
  std::vector<mote_layer_tier> tiers(n_layers);
  ASSERT_EQ(mote_model_get_layer_tiers(cpu, tiers.data(), tiers.size(), &n_layers), MOTE_OK);
  for (mote_layer_tier t : tiers) EXPECT_EQ(t, MOTE_LAYER_TIER_NONE);
  mote_model_destroy(cpu);

  // Everything on the device first: the sizes of the split.
  mote_model* all = nullptr;
  p = params(MOTE_BACKEND_STAGING);
  ASSERT_EQ(mote_model_open(path_.c_str(), &p, &all), MOTE_OK) << mote_last_error();
  mote_stats full{};
  EXPECT_EQ(generate(all, &full), want);
  EXPECT_EQ(full.device_expert_slots, full.device_experts_total);
  EXPECT_EQ(full.tier_uploads_host + full.tier_cpu_host, 0);
  ASSERT_EQ(mote_model_get_layer_tiers(all, tiers.data(), tiers.size(), &n_layers), MOTE_OK);
  for (mote_layer_tier t : tiers) EXPECT_TRUE(t == MOTE_LAYER_TIER_RESIDENT || t == MOTE_LAYER_TIER_NONE);
  mote_model_destroy(all);
  ASSERT_GT(full.device_expert_slots, 0);
  const uint64_t slot = full.device_cache_bytes / uint64_t(full.device_expert_slots);

  for (mote_expert_tier_mode mode : {MOTE_TIER_MODE_AUTO, MOTE_TIER_MODE_UPLOAD, MOTE_TIER_MODE_CPU}) {
    p = params(MOTE_BACKEND_STAGING);
    p.expert_tier_mode = mode;
    p.vram_budget = full.device_dense_bytes + full.device_session_bytes + uint64_t(full.device_experts_total / 4) * slot;
    mote_model* m = nullptr;
    ASSERT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_OK) << mote_last_error();
    mote_stats st{};
    EXPECT_EQ(generate(m, &st), want) << int(mode);
    EXPECT_EQ(st.vram_budget_bytes, p.vram_budget);
    EXPECT_EQ(st.device_expert_slots, full.device_experts_total / 4);
    const int64_t served = st.tier_device_hits + st.tier_uploads_host + st.tier_uploads_disk + st.tier_cpu_host +
                           st.tier_cpu_disk;
    EXPECT_GT(served, 0);
    if (mode == MOTE_TIER_MODE_CPU) EXPECT_EQ(st.tier_cpu_host, served);
    if (mode == MOTE_TIER_MODE_UPLOAD) EXPECT_EQ(st.tier_cpu_host, 0);
    EXPECT_GT(st.tier_layers_upload + st.tier_layers_cpu, 0);
    ASSERT_EQ(mote_model_get_layer_tiers(m, tiers.data(), tiers.size(), &n_layers), MOTE_OK);
    for (mote_layer_tier t : tiers) EXPECT_NE(t, MOTE_LAYER_TIER_RESIDENT);
    mote_model_destroy(m);
  }
}

}  // namespace
