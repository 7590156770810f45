// What `mote bench` reads through the C API: the expert cache's geometry, settings and counters
// (mote_expert_stats), mote_model_wait_expert_io, the per-token active-weight figures of
// mote_model_info, the KV bytes a decoded token reads (mote_session_get_kv_read_bytes), the
// kernel tables (mote_model_get_kernels, mote_available_kernels), and greedy ids from mote_generate_tokens on a model without a tokenizer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

class CApiBenchFields : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_bench_fields");
    const fs::path fixture = fs::path(MOTE_FIXTURES_DIR) / "ds3_tiny";
    path_ = (dir_ / "ds3_tiny.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, fixture.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The same checkpoint without its tokenizer files: a model that has ids only.
    const fs::path bare = dir_ / "bare";
    fs::create_directories(bare);
    for (const auto& entry : fs::directory_iterator(fixture)) {
      const std::string name = entry.path().filename().string();
      if (name == "config.json" || entry.path().extension() == ".safetensors" || name.find(".index.json") != std::string::npos)
        fs::copy_file(entry.path(), bare / name);
    }
    bare_path_ = (dir_ / "bare.mote").string();
    r = mote::test::run_command({MOTE_CONVERT_BIN, bare.string(), "-o", bare_path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static mote_model* open(const std::string& path, const mote_model_params& params) {
    mote_model* m = nullptr;
    EXPECT_EQ(mote_model_open(path.c_str(), &params, &m), MOTE_OK) << mote_last_error();
    return m;
  }

  // Greedy ids after `prompt` (EOS ignored) from a fresh session; the session's stats in *stats.
  static std::vector<int32_t> greedy(mote_model* m, int mtp, int n, mote_stats* stats = nullptr) {
    mote_session_params sp = mote_session_params_default();
    sp.mtp = mtp;
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(m, &sp, &s), MOTE_OK) << mote_last_error();
    if (s == nullptr) return {};
    mote_generate_params gp = mote_generate_params_default();
    gp.max_tokens = n;
    gp.ignore_eos = 1;
    struct Out {
      std::vector<int32_t> ids;
      std::string text;
    } out;
    auto collect = [](void* user, int32_t token, const char* text, size_t len) {
      auto* o = static_cast<Out*>(user);
      if (token >= 0) o->ids.push_back(token);
      o->text.append(text, len);
      return 0;
    };
    const std::vector<int32_t> prompt = {3, 17, 42, 5, 9};
    EXPECT_EQ(mote_generate_tokens(s, prompt.data(), prompt.size(), &gp, collect, &out), MOTE_OK) << mote_last_error();
    if (stats != nullptr) {
      EXPECT_EQ(mote_session_get_stats(s, stats), MOTE_OK);
    }
    mote_session_destroy(s);
    return out.ids;
  }

  static inline fs::path dir_;
  static inline std::string path_, bare_path_;
};

TEST_F(CApiBenchFields, NullArgumentsAreStatuses) {
  mote_expert_stats e{};
  mote_model_info info{};
  EXPECT_EQ(mote_model_wait_expert_io(nullptr), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("mote_model_wait_expert_io"), std::string::npos);
  EXPECT_EQ(mote_model_get_expert_stats(nullptr, &e), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mote_model_get_info(nullptr, &info), MOTE_ERR_INVALID_ARGUMENT);
  mote_model* m = open(path_, mote_model_params_default());
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(mote_model_get_expert_stats(m, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mote_model_get_info(m, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  mote_model_destroy(m);
}

TEST_F(CApiBenchFields, ActiveWeightsMatchTheFile) {
  mote_model_params p = mote_model_params_default();
  p.n_threads = 1;
  mote_model* m = open(path_, p);
  ASSERT_NE(m, nullptr);
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(m, &info), MOTE_OK);
  EXPECT_EQ(info.n_threads, 1);
  EXPECT_GT(info.dense_bytes, 0u);
  EXPECT_LT(info.dense_bytes, info.file_bytes);
  EXPECT_GT(info.dense_bytes_per_token, 0.0);
  EXPECT_LE(info.dense_bytes_per_token, double(info.dense_bytes));
  EXPECT_GT(info.dense_macs_per_token, 0.0);
  EXPECT_GT(info.expert_bytes, 0.0);
  EXPECT_GT(info.expert_macs, 0.0);
  mote_expert_stats e{};
  ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
  EXPECT_EQ(e.slot_count, 0);  // resident: no cache slots
  EXPECT_EQ(e.slot_bytes, 0u);
  EXPECT_EQ(e.prefetch, 0);
  EXPECT_EQ(e.direct_io, 0);
  EXPECT_EQ(mote_model_wait_expert_io(m), MOTE_OK);  // nothing in flight: returns at once
  EXPECT_GE(double(e.total_bytes), info.expert_bytes * info.n_routed_experts);
#ifdef MOTE_CLI_BIN
  auto r = mote::test::run_command({MOTE_CLI_BIN, "inspect", path_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& hp = j["hyperparameters"];
  // Gate, up and down of moe_intermediate_size x hidden_size: one multiply-add per element.
  EXPECT_DOUBLE_EQ(info.expert_macs, 3.0 * hp["moe_intermediate_size"].get<double>() * info.hidden_size);
  // moe_layer_count includes the MTP layers; the figures are per main layer.
  const int main_moe_layers = j["moe_layer_count"].get<int>() - (info.has_mtp ? hp["num_nextn_predict_layers"].get<int>() : 0);
  ASSERT_GT(main_moe_layers, 0);
  const double routed = j["bytes"]["routed_experts"].get<double>();
  EXPECT_NEAR(info.expert_bytes * info.n_routed_experts * main_moe_layers, routed, 0.03 * routed);
  EXPECT_EQ(e.total_bytes, j["bytes"]["routed_experts"].get<uint64_t>());  // main layers only
#endif
  mote_model_destroy(m);
}

TEST_F(CApiBenchFields, BudgetGeometryAndCountersAfterAGeneration) {
  mote_model* resident = open(path_, mote_model_params_default());
  ASSERT_NE(resident, nullptr);
  const std::vector<int32_t> expected = greedy(resident, 0, 12);
  mote_expert_stats all{};
  ASSERT_EQ(mote_model_get_expert_stats(resident, &all), MOTE_OK);
  mote_model_destroy(resident);
  for (int prefetch : {1, 0}) {
    mote_model_params p = mote_model_params_default();
    p.expert_budget_bytes = 64 << 10;  // a few slots for 16 experts per layer: reads and evictions
    p.expert_prefetch = prefetch;
    p.expert_hot_slots = 1;
    p.expert_policy = MOTE_EXPERT_POLICY_LRU;
    mote_model* m = open(path_, p);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(greedy(m, 0, 12), expected);
    ASSERT_EQ(mote_model_wait_expert_io(m), MOTE_OK);
    mote_expert_stats e{};
    ASSERT_EQ(mote_model_get_expert_stats(m, &e), MOTE_OK);
    EXPECT_EQ(e.budget_bytes, p.expert_budget_bytes);
    EXPECT_GT(e.slot_count, 0);
    EXPECT_GT(e.slot_bytes, 0u);
    EXPECT_EQ(e.slot_bytes % 4096, 0u);
    EXPECT_LE(uint64_t(e.slot_count) * e.slot_bytes, p.expert_budget_bytes);
    EXPECT_EQ(e.total_bytes, all.total_bytes);
    EXPECT_EQ(e.hot_slots, 1);
    EXPECT_EQ(e.policy, MOTE_EXPERT_POLICY_LRU);
    EXPECT_EQ(e.prefetch, prefetch);
    EXPECT_EQ(e.hits + e.misses, e.accesses);
    EXPECT_GT(e.misses, 0u);
    EXPECT_GT(e.evictions, 0u);
    EXPECT_GT(e.bytes_read, 0u);
    EXPECT_GT(e.read_ms, 0.0);
    EXPECT_LE(e.prefetch_hits + e.prefetch_unused, e.prefetch_reads);
    if (!prefetch) {
      EXPECT_EQ(e.prefetch_reads, 0u);
    }
    mote_model_destroy(m);
  }
}

TEST_F(CApiBenchFields, GenerateTokensWithoutATokenizerGivesIds) {
  mote_model* m = open(path_, mote_model_params_default());
  mote_model* bare = open(bare_path_, mote_model_params_default());
  ASSERT_NE(m, nullptr);
  ASSERT_NE(bare, nullptr);
  const std::vector<int32_t> expected = greedy(m, 0, 10);
  ASSERT_EQ(expected.size(), 10u);
  mote_stats plain{}, drafted{};
  EXPECT_EQ(greedy(bare, 0, 10, &plain), expected);
  EXPECT_EQ(plain.generated_tokens, 10);
  EXPECT_EQ(plain.draft_steps, 0);
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(bare, &info), MOTE_OK);
  if (info.has_mtp) {  // MTP drafts give the same greedy ids
    EXPECT_EQ(greedy(bare, 1, 10, &drafted), expected);
    EXPECT_GT(drafted.draft_steps, 0);
    EXPECT_LE(drafted.drafts_accepted, drafted.draft_steps);
  }
  // Text needs the tokenizer: stop strings and text prompts are errors naming it.
  mote_session* s = nullptr;
  ASSERT_EQ(mote_session_create(bare, nullptr, &s), MOTE_OK);
  mote_generate_params gp = mote_generate_params_default();
  const char* stop[] = {"x"};
  gp.stop = stop;
  gp.n_stop = 1;
  const int32_t id = 3;
  EXPECT_EQ(mote_generate_tokens(s, &id, 1, &gp, nullptr, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("tokenizer"), std::string::npos) << mote_last_error();
  EXPECT_NE(mote_generate(s, "Hi", 2, nullptr, nullptr, nullptr), MOTE_OK);
  mote_session_destroy(s);
  mote_model_destroy(bare);
  mote_model_destroy(m);
}

// KV bytes one decoded token reads: linear in the depth for this MLA model (no window), half
// for f16 what f32 is, less again for q8_0.
TEST_F(CApiBenchFields, KvReadBytesGrowWithDepthAndShrinkWithTheType) {
  mote_model* m = open(path_, mote_model_params_default());
  ASSERT_NE(m, nullptr);
  uint64_t by_type[3] = {};
  const mote_kv_type types[3] = {MOTE_KV_F32, MOTE_KV_F16, MOTE_KV_Q8_0};
  for (int i = 0; i < 3; ++i) {
    mote_session_params sp = mote_session_params_default();
    sp.kv_type = types[i];
    sp.max_context = 64;
    mote_session* s = nullptr;
    ASSERT_EQ(mote_session_create(m, &sp, &s), MOTE_OK) << mote_last_error();
    uint64_t at0 = 0, at9 = 0, beyond = 0;
    ASSERT_EQ(mote_session_get_kv_read_bytes(s, 0, &at0), MOTE_OK);
    ASSERT_EQ(mote_session_get_kv_read_bytes(s, 9, &at9), MOTE_OK);
    ASSERT_EQ(mote_session_get_kv_read_bytes(s, 1000, &beyond), MOTE_OK);  // not held: a figure still
    EXPECT_GT(at0, 0u);
    EXPECT_EQ(at9, 10 * at0);
    EXPECT_EQ(beyond, 1001 * at0);
    by_type[i] = at0;
    uint64_t out = 0;
    EXPECT_EQ(mote_session_get_kv_read_bytes(s, -1, &out), MOTE_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(mote_last_error()).find("position -1"), std::string::npos) << mote_last_error();
    EXPECT_EQ(mote_session_get_kv_read_bytes(s, 0, nullptr), MOTE_ERR_INVALID_ARGUMENT);
    mote_session_destroy(s);
  }
  EXPECT_EQ(by_type[0], 2 * by_type[1]);
  EXPECT_LT(by_type[2], by_type[1]);  // 32 int8 codes + one f16 scale per 32 values (widths padded to 32)
  EXPECT_EQ(mote_session_get_kv_read_bytes(nullptr, 0, &by_type[0]), MOTE_ERR_INVALID_ARGUMENT);
  mote_model_destroy(m);
}

// The kernel tables: the model's is one of the available ones; reference always comes first.
TEST_F(CApiBenchFields, KernelTables) {
  size_t n = 0;
  EXPECT_EQ(mote_available_kernels(nullptr, 0, &n), MOTE_ERR_BUFFER_TOO_SMALL);
  ASSERT_GE(n, 1u);
  std::vector<const char*> names(n);
  ASSERT_EQ(mote_available_kernels(names.data(), names.size(), &n), MOTE_OK);
  EXPECT_STREQ(names[0], "reference");
  EXPECT_EQ(mote_available_kernels(nullptr, 0, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  mote_model_params p = mote_model_params_default();
  p.kernels = "reference";
  mote_model* m = open(path_, p);
  ASSERT_NE(m, nullptr);
  const char* active = nullptr;
  ASSERT_EQ(mote_model_get_kernels(m, &active), MOTE_OK);
  EXPECT_STREQ(active, "reference");
  EXPECT_EQ(mote_model_get_kernels(m, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  mote_model_destroy(m);
  m = open(path_, mote_model_params_default());
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(mote_model_get_kernels(m, &active), MOTE_OK);
  if (std::getenv("MOTE_KERNELS") == nullptr) EXPECT_STREQ(active, names.back());  // the best table by default
  mote_model_destroy(m);
}

}  // namespace
