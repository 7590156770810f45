// The grouped-query-attention families end to end beyond the reference logits
// (fixture_reference_test.cpp): each MoE fixture converts to a file whose routed experts sit in
// the expert table one segment per expert (as DeepSeek's) and runs bit-identically under an
// expert byte budget of exactly top-k slots and of half the expert bytes (LRU and LFU) in prefill
// and decode (a dense model has no experts: any budget leaves it unchanged), its RoPE tables and
// softmax scale are transformers', and `mote inspect` names the architecture.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/session_logits.h"
#include "common/test_util.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

struct Family {
  std::string fixture;
  std::string architecture;  // as `mote inspect` prints it (fb::EnumNameArchitecture)
};

const std::vector<Family> kFamilies = {
    {"qwen3_moe_tiny", "Qwen3Moe"}, {"qwen3_moe_yarn", "Qwen3Moe"}, {"olmoe_tiny", "Olmoe"},
    {"mixtral_swa", "Mixtral"},     {"qwen2_moe_tiny", "Qwen2Moe"}, {"llama_dense", "Llama"},
    {"qwen2_dense", "Qwen2"},       {"gpt_oss_tiny", "GptOss"}};

std::unique_ptr<Model> open_model(const fs::path& path, uint64_t budget, EvictionKind policy) {
  ModelOptions o;
  o.expert_budget_bytes = budget;
  o.expert_policy = policy;
  auto m = Model::open(path.string(), o);
  EXPECT_TRUE(m) << m.status().to_string();
  return m ? std::move(m).value() : nullptr;
}

// Prefill logits [n, vocab] (in batches of 4, so the KV cache is reused across calls), then
// decode logits [n, vocab] one token at a time in a reset session.
std::vector<float> run_logits(const Model& m, const std::vector<int32_t>& ids) {
  return test::prefill_then_decode_logits(m, ids, 4);
}

class GqaFamily : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    work_ = test::fresh_temp_dir("gqa_" + GetParam().fixture);
    path_ = work_ / "model.mote";
    auto r = test::run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / GetParam().fixture).string(), "-o",
                                path_.string(), "--weights", "q8_0", "--expert-weights", "q4", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void TearDown() override { fs::remove_all(work_); }

  fs::path work_, path_;
};

TEST_P(GqaFamily, ExpertBudgetGivesBitIdenticalLogits) {
  auto resident = open_model(path_, 0, EvictionKind::kLru);
  ASSERT_TRUE(resident);
  const HParams& hp = resident->hparams();
  ASSERT_TRUE(hp.is_gqa());
  const ExpertStore& store = resident->expert_store();
  uint64_t max_seg = 0;
  for (int64_t l = 0; l < hp.n_layers; ++l) {
    // MoE families: every layer; dense Llama / Qwen2: none (a budget then changes nothing).
    ASSERT_EQ(resident->layer(l).ffn.moe, hp.n_routed_experts > 0) << "layer " << l;
    for (int64_t e = 0; e < hp.n_routed_experts; ++e) max_seg = std::max(max_seg, store.segment_bytes(l, e));
  }
  const uint64_t topk_budget = std::max<uint64_t>((max_seg + 4095) / 4096 * 4096 * uint64_t(hp.n_experts_per_tok), 1);
  const uint64_t half = std::max(store.total_expert_bytes() / 2, topk_budget);
  std::vector<int32_t> ids;
  for (int i = 0; i < 13; ++i) ids.push_back(int32_t((i * 37 + 3) % hp.vocab_size));
  const std::vector<float> ref = run_logits(*resident, ids);
  for (EvictionKind policy : {EvictionKind::kLru, EvictionKind::kLfu})
    for (uint64_t budget : {topk_budget, half}) {
      auto m = open_model(path_, budget, policy);
      ASSERT_TRUE(m);
      const std::vector<float> got = run_logits(*m, ids);
      ASSERT_EQ(got.size(), ref.size());
      EXPECT_EQ(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)), 0)
          << eviction_kind_name(policy) << " budget " << budget;
    }
}

// RoPE frequencies (Llama-3 scaled in llama_dense, YaRN in qwen3_moe_yarn), cos/sin multiplier
// and softmax scale equal
// the ones transformers used for the reference (reference.json diagnostics).
TEST_P(GqaFamily, RopeAndScaleMatchTransformers) {
  auto m = open_model(path_, 0, EvictionKind::kLru);
  ASSERT_TRUE(m);
  const HParams& hp = m->hparams();
  const auto ref = nlohmann::json::parse(
      test::read_file_bytes(fs::path(MOTE_FIXTURES_DIR) / GetParam().fixture / "reference.json"));
  const auto& d = ref.at("diagnostics");
  const auto inv_freq = d.at("rope_inv_freq").get<std::vector<double>>();
  ASSERT_EQ(hp.rope.inv_freq.size(), inv_freq.size());
  ASSERT_EQ(hp.rope.dim, hp.head_dim);
  for (size_t j = 0; j < inv_freq.size(); ++j)
    EXPECT_NEAR(hp.rope.inv_freq[j], inv_freq[j], 2e-6 * inv_freq[j]) << "pair " << j;
  EXPECT_FLOAT_EQ(hp.rope.attention_factor, float(d.at("rope_cos_sin_multiplier").get<double>()));
  EXPECT_FLOAT_EQ(hp.softmax_scale, float(d.at("softmax_scale").get<double>()));
}

TEST_P(GqaFamily, InspectNamesTheArchitecture) {
  auto r = test::run_command({MOTE_CLI_BIN, "inspect", path_.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("architecture").get<std::string>(), GetParam().architecture);
}

INSTANTIATE_TEST_SUITE_P(Families, GqaFamily, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return info.param.fixture; });

}  // namespace
}  // namespace mote
