// Model::open: binding by role/layer/expert, shape checks, MTP, in-place kv_b, errors.
#include <gtest/gtest.h>

#include "model/model.h"
#include "runtime/tiny_model.h"

namespace mote {
namespace {

using test::TinyConfig;
using Role = fb::TensorRole;

std::unique_ptr<Model> open_tiny(const std::string& name, const TinyConfig& c, const test::TensorEdit& edit = nullptr) {
  const std::string path = test::tiny_path(name);
  test::write_tiny_model(path, c, edit);
  auto m = Model::open(path);
  EXPECT_TRUE(m) << m.status().to_string();
  return m ? std::move(m).value() : nullptr;
}

Status open_error(const std::string& name, const TinyConfig& c, const test::TensorEdit& edit = nullptr) {
  const std::string path = test::tiny_path(name);
  test::write_tiny_model(path, c, edit);
  auto m = Model::open(path);
  return m ? Status::ok() : m.status();
}

TEST(Model, BindsAV3ModelWithMtp) {
  TinyConfig c;
  c.mtp_layers = 1;
  auto m = open_tiny("model_v3_mtp.mote", c);
  ASSERT_TRUE(m);
  const HParams& hp = m->hparams();
  EXPECT_EQ(hp.arch, Arch::kDeepSeekV3);
  EXPECT_EQ(hp.n_layers, 3);
  ASSERT_EQ(m->weights().layers.size(), 3u);
  EXPECT_FALSE(m->layer(0).ffn.moe);
  EXPECT_FALSE(m->layer(0).ffn.dense.gate.empty());
  EXPECT_TRUE(m->layer(1).ffn.moe);
  EXPECT_EQ(m->layer(1).ffn.experts.size(), 8u);
  EXPECT_NE(m->layer(1).ffn.router_bias, nullptr);
  EXPECT_FALSE(m->layer(2).ffn.shared.down.empty());
  EXPECT_FALSE(m->layer(1).attn.q_a.empty());
  EXPECT_TRUE(m->layer(1).attn.q.empty());
  EXPECT_EQ(m->expert(2, 5).gate.rows, c.moe_intermediate);
  EXPECT_EQ(m->expert(2, 5).down.rows, c.hidden);
  ASSERT_TRUE(m->has_mtp());
  const MtpWeights& mtp = m->weights().mtp[0];
  EXPECT_EQ(mtp.block.index, 3);
  EXPECT_TRUE(mtp.block.ffn.moe);
  EXPECT_EQ(mtp.eh_proj.cols, 2 * c.hidden);
  EXPECT_NE(mtp.embedding.data, m->weights().embedding.data);  // its own copy in this file
}

TEST(Model, MtpEmbeddingAndHeadFallBackToTheMainOnes) {
  TinyConfig c;
  c.mtp_layers = 1;
  c.mtp_alias = true;
  auto m = open_tiny("model_v3_mtp_alias.mote", c);
  ASSERT_TRUE(m && m->has_mtp());
  EXPECT_EQ(m->weights().mtp[0].embedding.data, m->weights().embedding.data);
  EXPECT_EQ(m->weights().mtp[0].head.data, m->weights().output.data);
}

TEST(Model, BindsAV2LiteModelWithoutQLora) {
  TinyConfig c;
  c.arch = fb::Architecture::DeepSeekV2;
  c.q_lora = 0;
  c.topk_method = fb::TopkMethod::Greedy;
  c.scoring = fb::ScoringFunc::Softmax;
  c.n_group = c.topk_group = 1;
  c.shared = 2;
  auto m = open_tiny("model_v2_lite.mote", c);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->layer(1).attn.q.empty());
  EXPECT_TRUE(m->layer(1).attn.q_a.empty());
  EXPECT_EQ(m->layer(1).ffn.router_bias, nullptr);
  EXPECT_EQ(m->layer(1).ffn.shared.gate.rows, 2 * c.moe_intermediate);
  EXPECT_FALSE(m->has_mtp());
}

// kv_b_proj stays where the file holds it, in its stored type: MLA reads W_UK/W_UV as row slices
// of it, so binding copies no weight matrix (all vectors are F32 here, so nothing is owned).
TEST(Model, KvBIsUsedInPlaceInItsStoredType) {
  TinyConfig c;
  c.type = WeightType::Q8_0;
  auto m = open_tiny("model_kv_b_q8.mote", c);
  ASSERT_TRUE(m);
  const WeightView& kv_b = m->layer(2).attn.kv_b;
  EXPECT_EQ(kv_b.type, WeightType::Q8_0);
  EXPECT_EQ(kv_b.rows, c.heads * (c.dn + c.dv));
  EXPECT_EQ(kv_b.cols, c.kv_lora);
  const fb::Tensor* stored = nullptr;
  for (const fb::Tensor* t : *m->file().model().tensors())
    if (t->role() == Role::AttnKvB && t->layer() == 2) stored = t;
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(kv_b.data, m->file().view(*stored).data);
  EXPECT_TRUE(m->weights().owned.empty());
}

TEST(Model, NonF32VectorsAreConvertedAtLoad) {
  TinyConfig c;
  auto m = open_tiny("model_bf16_norm.mote", c, [](convert::PlannedTensor& t) {
    if (t.role == Role::AttnNorm && t.layer == 1) t.type = WeightType::BF16;
    return true;
  });
  ASSERT_TRUE(m);
  const float* n = m->layer(1).attn.norm;
  for (int i = 0; i < c.hidden; ++i) EXPECT_NEAR(n[i], 1.0f, 0.3f);  // norm weights are 1 +- 0.25
}

TEST(Model, MissingTensorNamesRoleAndLayer) {
  const Status st = open_error("model_missing.mote", TinyConfig{},
                               [](convert::PlannedTensor& t) { return !(t.role == Role::AttnKvB && t.layer == 1); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("missing tensor: role AttnKvB, layer 1"), std::string::npos) << st.to_string();
}

TEST(Model, WrongShapeNamesTensorAndShapes) {
  const Status st = open_error("model_shape.mote", TinyConfig{}, [](convert::PlannedTensor& t) {
    if (t.role == Role::AttnOut && t.layer == 0) t.shape = {24, 31};
    return true;
  });
  EXPECT_EQ(st.code(), StatusCode::kCorruptFile);
  EXPECT_NE(st.message().find("tensor model.layers.0.self_attn.o_proj.weight: shape [24,31], expected [24,30]"),
            std::string::npos)
      << st.to_string();
}

TEST(Model, WrongExpertShapeIsReported) {
  const Status st = open_error("model_expert_shape.mote", TinyConfig{}, [](convert::PlannedTensor& t) {
    if (t.role == Role::ExpertDown && t.layer == 2 && t.expert == 3) t.shape = {24, 13};
    return true;
  });
  EXPECT_NE(st.message().find("mlp.experts.3.down_proj.weight: shape [24,13], expected [24,12]"), std::string::npos)
      << st.to_string();
}

TEST(Model, DuplicateRoleIsReported) {
  const Status st = open_error("model_duplicate.mote", TinyConfig{}, [](convert::PlannedTensor& t) {
    if (t.role == Role::FfnNorm && t.layer == 2) t.layer = 1;
    return true;
  });
  EXPECT_EQ(st.code(), StatusCode::kCorruptFile);
  EXPECT_NE(st.message().find("both have role FfnNorm, layer 1"), std::string::npos) << st.to_string();
}

TEST(Model, UnusedTensorIsReported) {
  TinyConfig c;
  c.topk_method = fb::TopkMethod::GroupLimitedGreedy;
  c.scoring = fb::ScoringFunc::Softmax;
  c.force_router_bias = true;
  const Status st = open_error("model_unused.mote", c);
  EXPECT_NE(st.message().find("e_score_correction_bias (role RouterBias, layer 1) is not used"), std::string::npos)
      << st.to_string();
}

TEST(Model, BadConfigNamesTheField) {
  TinyConfig c;
  c.n_group = 3;
  const Status st = open_error("model_bad_config.mote", c);
  EXPECT_EQ(st.code(), StatusCode::kCorruptFile);
  EXPECT_NE(st.message().find("model_bad_config.mote: model config: n_routed_experts (8) is not a multiple of "
                              "n_group (3)"),
            std::string::npos)
      << st.to_string();
}

TEST(Model, MissingFileIsAnError) {
  auto m = Model::open(test::tiny_path("does_not_exist.mote"));
  ASSERT_FALSE(m);
  EXPECT_NE(m.status().code(), StatusCode::kOk);
}

}  // namespace
}  // namespace mote
