// mote_model_get_expert_map through libmote.so only, on the bundled demo model (DeepSeek-V3 layout:
// 4 layers, the first dense, 16 routed experts, top-2, an MTP module), converted at q8_0:
// - geometry: one row per MoE layer (the dense first layer has none), ids in order;
// - use counts: one token evaluated at a time adds exactly top_k uses to every MoE row, and the
//   counts always sum to the store's accesses;
// - residency: everything without a budget; under a budget (no prefetch) exactly
//   min(slots, experts used) and only used experts; hot pinning marks hot_slots experts;
// - output rules: NULL arguments, a short or NULL buffer (MOTE_ERR_BUFFER_TOO_SMALL, count set).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

struct Map {
  int32_t n_layers = 0, n_experts = 0;
  std::vector<mote_expert_entry> entries;
  uint64_t total_uses() const {
    uint64_t s = 0;
    for (const auto& e : entries) s += e.uses;
    return s;
  }
  int64_t count(int8_t mote_expert_entry::*flag) const {
    int64_t n = 0;
    for (const auto& e : entries) n += e.*flag != 0;
    return n;
  }
};

Map get_map(const mote_model* model) {
  Map m;
  size_t count = 0;
  const mote_status rc = mote_model_get_expert_map(model, &m.n_layers, &m.n_experts, nullptr, 0, &count);
  EXPECT_TRUE(rc == MOTE_ERR_BUFFER_TOO_SMALL || (rc == MOTE_OK && count == 0)) << mote_last_error();
  m.entries.resize(count);
  size_t again = 0;
  EXPECT_EQ(mote_model_get_expert_map(model, &m.n_layers, &m.n_experts, m.entries.data(), m.entries.size(), &again),
            MOTE_OK)
      << mote_last_error();
  EXPECT_EQ(again, count);
  return m;
}

class ExpertMapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_expert_map");
    path_ = (dir_ / "demo.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static mote_model* open(uint64_t budget = 0, int prefetch = 1, int hot_slots = 0) {
    mote_model_params p = mote_model_params_default();
    p.expert_budget_bytes = budget;
    p.expert_prefetch = prefetch;
    p.expert_hot_slots = hot_slots;
    mote_model* m = nullptr;
    EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_OK) << mote_last_error();
    return m;
  }
  static mote_session* session(mote_model* model) {
    mote_session_params p = mote_session_params_default();
    p.mtp = 0;  // main layers only (the MTP layer's experts are not in the map)
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(model, &p, &s), MOTE_OK) << mote_last_error();
    return s;
  }
  static void generate(mote_session* s, int n) {
    mote_generate_params g = mote_generate_params_default();
    g.max_tokens = n;
    g.ignore_eos = 1;
    const char* prompt = "To be, or not to be, that is the question:";
    ASSERT_EQ(mote_generate(s, prompt, std::strlen(prompt), &g, nullptr, nullptr), MOTE_OK) << mote_last_error();
  }

  static inline fs::path dir_;
  static inline std::string path_;
};

TEST_F(ExpertMapTest, GeometryAndOrder) {
  mote_model* model = open();
  ASSERT_NE(model, nullptr);
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(model, &info), MOTE_OK);
  const Map m = get_map(model);
  EXPECT_EQ(m.n_layers, info.n_layers - 1);  // first_k_dense_replace = 1
  EXPECT_EQ(m.n_experts, info.n_routed_experts);
  ASSERT_EQ(m.entries.size(), size_t(m.n_layers) * size_t(m.n_experts));
  for (int32_t r = 0; r < m.n_layers; ++r)
    for (int32_t e = 0; e < m.n_experts; ++e) {
      const mote_expert_entry& x = m.entries[size_t(r) * size_t(m.n_experts) + size_t(e)];
      EXPECT_EQ(x.layer, r + 1);
      EXPECT_EQ(x.expert, e);
      EXPECT_EQ(x.uses, 0u);  // nothing evaluated yet
      EXPECT_EQ(x.resident, 1);
      EXPECT_EQ(x.pinned, 0);
      EXPECT_EQ(x.loading, 0);
    }
  mote_model_destroy(model);
}

TEST_F(ExpertMapTest, OutputRulesAndNullArguments) {
  mote_model* model = open();
  ASSERT_NE(model, nullptr);
  size_t count = 0;
  int32_t layers = -1, experts = -1;
  EXPECT_EQ(mote_model_get_expert_map(nullptr, &layers, &experts, nullptr, 0, &count), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()), "");
  EXPECT_EQ(mote_model_get_expert_map(model, &layers, &experts, nullptr, 0, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  // NULL buffer: the size needed, and the geometry.
  EXPECT_EQ(mote_model_get_expert_map(model, &layers, &experts, nullptr, 0, &count), MOTE_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(count, 3u * 16u);
  EXPECT_EQ(layers, 3);
  EXPECT_EQ(experts, 16);
  // One short: too small, count still set, nothing written.
  std::vector<mote_expert_entry> buf(count - 1);
  for (auto& e : buf) e.layer = -7;
  count = 0;
  EXPECT_EQ(mote_model_get_expert_map(model, nullptr, nullptr, buf.data(), buf.size(), &count),
            MOTE_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(count, 3u * 16u);
  for (const auto& e : buf) EXPECT_EQ(e.layer, -7);
  // Exactly enough, the geometry outputs optional.
  buf.resize(count);
  EXPECT_EQ(mote_model_get_expert_map(model, nullptr, nullptr, buf.data(), buf.size(), &count), MOTE_OK);
  EXPECT_EQ(buf.back().layer, 3);
  EXPECT_EQ(buf.back().expert, 15);
  mote_model_destroy(model);
}

TEST_F(ExpertMapTest, UsesCountEveryAcquisitionResident) {
  mote_model* model = open();
  ASSERT_NE(model, nullptr);
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(model, &info), MOTE_OK);
  const uint64_t k = uint64_t(info.n_experts_per_tok);
  mote_session* s = session(model);
  ASSERT_NE(s, nullptr);
  // One token per evaluation: every MoE layer acquires exactly top_k distinct experts.
  const std::vector<int32_t> ids = {0, 17, 250, 42, 99, 7, 1000, 3};
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(mote_session_eval(s, &ids[i], 1, 0, nullptr, 0), MOTE_OK) << mote_last_error();
    const Map m = get_map(model);
    EXPECT_EQ(m.total_uses(), uint64_t(m.n_layers) * k * (i + 1));
    for (int32_t r = 0; r < m.n_layers; ++r) {
      uint64_t row = 0;
      for (int32_t e = 0; e < m.n_experts; ++e) row += m.entries[size_t(r * m.n_experts + e)].uses;
      EXPECT_EQ(row, k * (i + 1)) << "layer " << r + 1;
    }
    EXPECT_EQ(m.count(&mote_expert_entry::resident), int64_t(m.entries.size()));  // no budget: all resident
  }
  // A batch counts each distinct expert once per pass; the sum still equals the store's accesses.
  ASSERT_EQ(mote_session_eval(s, ids.data(), ids.size(), 0, nullptr, 0), MOTE_OK) << mote_last_error();
  generate(s, 6);
  const Map m = get_map(model);
  mote_expert_stats st{};
  ASSERT_EQ(mote_model_get_expert_stats(model, &st), MOTE_OK);
  EXPECT_EQ(m.total_uses(), st.accesses);
  EXPECT_GT(m.total_uses(), uint64_t(m.n_layers) * k * ids.size());
  EXPECT_EQ(m.count(&mote_expert_entry::pinned), 0);
  mote_session_destroy(s);
  mote_model_destroy(model);
}

TEST_F(ExpertMapTest, ResidencyUnderABudgetIsTheSlots) {
  // The experts' total from a resident open sizes the budget: a quarter of them.
  mote_model* resident = open();
  ASSERT_NE(resident, nullptr);
  mote_expert_stats rs{};
  ASSERT_EQ(mote_model_get_expert_stats(resident, &rs), MOTE_OK);
  mote_model_destroy(resident);
  ASSERT_GT(rs.total_bytes, 0u);

  mote_model* model = open(rs.total_bytes / 4, /*prefetch=*/0);
  ASSERT_NE(model, nullptr);
  mote_expert_stats st{};
  ASSERT_EQ(mote_model_get_expert_stats(model, &st), MOTE_OK);
  ASSERT_GT(st.slot_count, 0);
  Map m = get_map(model);
  EXPECT_EQ(m.count(&mote_expert_entry::resident), 0);  // empty cache at open
  mote_session* s = session(model);
  ASSERT_NE(s, nullptr);
  generate(s, 24);
  ASSERT_EQ(mote_model_wait_expert_io(model), MOTE_OK);
  m = get_map(model);
  ASSERT_EQ(mote_model_get_expert_stats(model, &st), MOTE_OK);
  int64_t used = 0;
  for (const auto& e : m.entries) {
    used += e.uses > 0;
    if (e.resident) {
      EXPECT_GT(e.uses, 0u) << "layer " << e.layer << " expert " << e.expert;  // no prefetch
    }
    EXPECT_EQ(e.loading, 0);
  }
  EXPECT_GT(used, st.slot_count);  // the demo's routing spreads over more experts than a quarter
  EXPECT_EQ(m.count(&mote_expert_entry::resident), std::min<int64_t>(st.slot_count, used));
  EXPECT_EQ(m.total_uses(), st.accesses);
  EXPECT_GT(st.misses, 0u);
  mote_session_destroy(s);
  mote_model_destroy(model);
}

TEST_F(ExpertMapTest, HotPinningIsMarked) {
  mote_model* resident = open();
  ASSERT_NE(resident, nullptr);
  mote_expert_stats rs{};
  ASSERT_EQ(mote_model_get_expert_stats(resident, &rs), MOTE_OK);
  mote_model_destroy(resident);

  mote_model* model = open(rs.total_bytes / 3, /*prefetch=*/1, /*hot_slots=*/3);
  ASSERT_NE(model, nullptr);
  mote_expert_stats st{};
  ASSERT_EQ(mote_model_get_expert_stats(model, &st), MOTE_OK);
  ASSERT_GT(st.hot_slots, 0);
  mote_session* s = session(model);
  ASSERT_NE(s, nullptr);
  generate(s, 40);  // well past the first repin period (64 acquisitions)
  ASSERT_EQ(mote_model_wait_expert_io(model), MOTE_OK);
  const Map m = get_map(model);
  EXPECT_EQ(m.count(&mote_expert_entry::pinned), st.hot_slots);
  for (const auto& e : m.entries) {
    if (e.pinned) {
      EXPECT_EQ(e.resident, 1);
    }
  }
  EXPECT_LE(m.count(&mote_expert_entry::resident), st.slot_count);
  mote_session_destroy(s);
  mote_model_destroy(model);
}

}  // namespace
