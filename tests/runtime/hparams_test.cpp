// HParams: DeepSeek YaRN constants (as transformers' _compute_yarn_parameters and DeepSeek's
// inference/model.py give them) and validation errors that name the field.
#include <gtest/gtest.h>

#include <cmath>

#include "model/hparams.h"
#include "runtime/tiny_model.h"

namespace mote {
namespace {

using test::TinyConfig;

Result<HParams> parse(const TinyConfig& c) {
  flatbuffers::FlatBufferBuilder b;
  b.Finish(test::build_tiny_config(b, c));
  return HParams::from_config(*flatbuffers::GetRoot<fb::ModelConfig>(b.GetBufferPointer()));
}

TinyConfig v3_attention() {
  TinyConfig c;
  c.dn = 128;
  c.dr = 64;
  c.factor = 40;
  c.original_max_position = 4096;
  c.mscale = c.mscale_all_dim = 1.0f;
  return c;
}

TEST(HParams, DeepSeekV3YarnConstants) {
  auto hp = parse(v3_attention());
  ASSERT_TRUE(hp) << hp.status().to_string();
  EXPECT_EQ(hp->qk_head_dim, 192);
  EXPECT_NEAR(hp->softmax_scale, 0.1352337789, 1e-8);
  EXPECT_FLOAT_EQ(hp->rope.attention_factor, 1.0f);
  EXPECT_EQ(hp->rope.yarn_low, 10.0);
  EXPECT_EQ(hp->rope.yarn_high, 23.0);
  ASSERT_EQ(hp->rope.inv_freq.size(), 32u);
  // Below low: pure extrapolation (base frequencies); from high on: interpolation (/ factor).
  EXPECT_FLOAT_EQ(hp->rope.inv_freq[0], 1.0f);
  EXPECT_FLOAT_EQ(hp->rope.inv_freq[10], float(std::pow(10000.0, -20.0 / 64)));
  EXPECT_FLOAT_EQ(hp->rope.inv_freq[23], float(std::pow(10000.0, -46.0 / 64) / 40));
  EXPECT_FLOAT_EQ(hp->rope.inv_freq[31], float(std::pow(10000.0, -62.0 / 64) / 40));
  const double ramp = (16.0 - 10.0) / 13.0, base16 = std::pow(10000.0, -32.0 / 64);
  EXPECT_FLOAT_EQ(hp->rope.inv_freq[16], float(base16 * (1 - ramp) + base16 / 40 * ramp));
  EXPECT_EQ(hp->kv_cache_dim, 20 + 64);  // kv_lora_rank + qk_rope_head_dim
}

TEST(HParams, DeepSeekV2LiteSoftmaxScaleIncludesMscaleAllDim) {
  TinyConfig c = v3_attention();
  c.arch = fb::Architecture::DeepSeekV2;
  c.mscale = c.mscale_all_dim = 0.707f;
  auto hp = parse(c);
  ASSERT_TRUE(hp) << hp.status().to_string();
  EXPECT_NEAR(hp->softmax_scale, 0.1147213868, 1e-8);
  EXPECT_FLOAT_EQ(hp->rope.attention_factor, 1.0f);
  EXPECT_NEAR(yarn_get_mscale(40, 0.707), 1.2608038, 1e-7);
}

TEST(HParams, CosSinMultiplierIsTheMscaleRatio) {
  TinyConfig c = v3_attention();
  c.factor = 8;
  c.mscale = 1.0f;
  c.mscale_all_dim = 0.707f;
  auto hp = parse(c);
  ASSERT_TRUE(hp);
  const double m1 = 0.1 * std::log(8.0) + 1, m2 = 0.1 * double(0.707f) * std::log(8.0) + 1;
  EXPECT_NEAR(hp->rope.attention_factor, m1 / m2, 1e-7);
  EXPECT_NEAR(hp->softmax_scale, m2 * m2 / std::sqrt(192.0), 1e-8);
}

// transformers: without mscale_all_dim (0) the softmax scale has no factor, but the cos/sin
// multiplier is get_mscale(factor) (not 1).
TEST(HParams, AbsentMscaleAllDimFollowsTransformers) {
  TinyConfig c = v3_attention();
  c.mscale_all_dim = 0.0f;
  auto hp = parse(c);
  ASSERT_TRUE(hp);
  EXPECT_NEAR(hp->softmax_scale, 1 / std::sqrt(192.0), 1e-8);
  EXPECT_NEAR(hp->rope.attention_factor, 0.1 * std::log(40.0) + 1, 1e-6);
}

TEST(HParams, NoRopeScalingUsesBaseFrequencies) {
  TinyConfig c = v3_attention();
  c.yarn = false;
  auto hp = parse(c);
  ASSERT_TRUE(hp);
  EXPECT_FALSE(hp->rope.yarn);
  EXPECT_NEAR(hp->softmax_scale, 1 / std::sqrt(192.0), 1e-8);
  EXPECT_FLOAT_EQ(hp->rope.attention_factor, 1.0f);
  for (int j = 0; j < 32; ++j) EXPECT_FLOAT_EQ(hp->rope.inv_freq[size_t(j)], float(std::pow(10000.0, -2.0 * j / 64)));
}

TEST(HParams, CorrectionRangeIsFlooredAndCeiled) {
  double low = 0, high = 0;
  yarn_correction_range(32, 1, 64, 10000, 4096, &low, &high);
  EXPECT_EQ(low, 10);
  EXPECT_EQ(high, 23);
  yarn_correction_range(32, 1, 16, 10000, 256, &low, &high);  // tiny dims: clamped to [0, dim-1]
  EXPECT_GE(low, 0);
  EXPECT_LE(high, 15);
}

TEST(HParams, MoeLayerRule) {
  TinyConfig c;
  c.layers = 6;
  c.first_dense = 1;
  c.moe_freq = 2;
  auto hp = parse(c);
  ASSERT_TRUE(hp) << hp.status().to_string();
  EXPECT_FALSE(hp->is_moe_layer(0));
  EXPECT_FALSE(hp->is_moe_layer(1));
  EXPECT_TRUE(hp->is_moe_layer(2));
  EXPECT_FALSE(hp->is_moe_layer(3));
  EXPECT_TRUE(hp->is_moe_layer(4));
}

struct BadCase {
  const char* what;
  void (*edit)(TinyConfig&);
  const char* message;
};

TEST(HParams, ValidationNamesTheField) {
  const BadCase cases[] = {
      {"groups", [](TinyConfig& c) { c.experts = 10; }, "n_routed_experts (10) is not a multiple of n_group (4)"},
      {"topk_group", [](TinyConfig& c) { c.topk_group = 5; }, "topk_group (5) must be in [1, n_group = 4]"},
      {"top_k", [](TinyConfig& c) { c.top_k = 9; }, "num_experts_per_tok (9) must be in [1, n_routed_experts = 8]"},
      {"group capacity", [](TinyConfig& c) { c.topk_group = 1; }, "exceeds the experts of topk_group"},
      {"noaux groups", [](TinyConfig& c) { c.n_group = 8; c.topk_group = 4; }, "noaux_tc needs >= 2 experts per group"},
      {"heads", [](TinyConfig& c) { c.heads = 0; }, "num_attention_heads must be > 0"},
      {"rope dims", [](TinyConfig& c) { c.dr = 5; }, "qk_rope_head_dim must be even"},
      {"kv_lora", [](TinyConfig& c) { c.kv_lora = 0; }, "kv_lora_rank must be > 0"},
      {"vocab", [](TinyConfig& c) { c.vocab = 0; }, "vocab_size must be > 0"},
      {"eps", [](TinyConfig& c) { c.eps = 0; }, "rms_norm_eps"},
      {"dense", [](TinyConfig& c) { c.first_dense = 4; }, "first_k_dense_replace (4) > num_hidden_layers (3)"},
      {"dense width", [](TinyConfig& c) { c.intermediate = 0; }, "intermediate_size must be > 0"},
      {"architecture", [](TinyConfig& c) { c.arch = fb::Architecture::Unknown; }, "architecture 0"},
      {"yarn factor", [](TinyConfig& c) { c.factor = 0; }, "rope_scaling.factor"},
  };
  for (const BadCase& bc : cases) {
    TinyConfig c;
    bc.edit(c);
    auto hp = parse(c);
    ASSERT_FALSE(hp) << bc.what;
    EXPECT_NE(hp.status().message().find(bc.message), std::string::npos)
        << bc.what << ": " << hp.status().to_string();
  }
}

TEST(HParams, ValidConfigsOfEveryRouterKind) {
  TinyConfig v2;
  v2.arch = fb::Architecture::DeepSeekV2;
  v2.topk_method = fb::TopkMethod::GroupLimitedGreedy;
  v2.scoring = fb::ScoringFunc::Softmax;
  ASSERT_TRUE(parse(v2));
  v2.topk_method = fb::TopkMethod::Greedy;
  v2.n_group = v2.topk_group = 1;
  v2.q_lora = 0;
  auto hp = parse(v2);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->arch, Arch::kDeepSeekV2);
  EXPECT_EQ(hp->q_lora_rank, 0);
  EXPECT_EQ(hp->topk_method, TopkMethod::kGreedy);
}

}  // namespace
}  // namespace mote
