// Unit tests of config.json parsing (converter/hf/config.h) and the DeepSeek tensor mapping.
#include <gtest/gtest.h>

#include "arch/deepseek.h"
#include "converter/ckpt_builder.h"
#include "hf/config.h"
#include "hf/error.h"

namespace mote::test {
namespace {

using convert::ConvertError;
using convert::HfConfig;
using convert::parse_config;
using json = nlohmann::json;

HfConfig parse(const json& j) { return parse_config(j.dump(), "dir/config.json"); }

void expect_error(const json& j, const std::string& needle) {
  try {
    parse(j);
    ADD_FAILURE() << "expected an error containing '" << needle << "' for " << j.dump();
  } catch (const ConvertError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ConverterConfig, ParsesTinyV3) {
  const HfConfig c = parse(tiny_config(TinySpec{}));
  EXPECT_EQ(c.architecture, fb::Architecture::DeepSeekV3);
  EXPECT_EQ(c.hidden_size, 40u);
  EXPECT_EQ(c.q_lora_rank, 24u);
  EXPECT_EQ(c.num_nextn_predict_layers, 1u);
  EXPECT_EQ(c.topk_method, fb::TopkMethod::NoauxTc);
  EXPECT_EQ(c.scoring_func, fb::ScoringFunc::Sigmoid);
  EXPECT_EQ(c.rope_scaling.type, fb::RopeScalingType::Yarn);
  EXPECT_FLOAT_EQ(c.rope_scaling.factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64u);
  EXPECT_FLOAT_EQ(c.rope_scaling.mscale_all_dim, 1.0f);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{1});
  EXPECT_FLOAT_EQ(c.routed_scaling_factor, 2.5f);
}

TEST(ConverterConfig, DefaultsFollowTransformers) {
  const HfConfig v3 = parse(json{{"model_type", "deepseek_v3"}});
  EXPECT_EQ(v3.hidden_size, 7168u);
  EXPECT_EQ(v3.vocab_size, 129280u);
  EXPECT_EQ(v3.n_routed_experts, 256u);
  EXPECT_EQ(v3.first_k_dense_replace, 3u);
  EXPECT_EQ(v3.num_nextn_predict_layers, 0u);
  EXPECT_EQ(v3.topk_method, fb::TopkMethod::NoauxTc);
  EXPECT_EQ(v3.rope_scaling.type, fb::RopeScalingType::None);
  EXPECT_TRUE(v3.norm_topk_prob);
  // V2: num_experts_per_tok has no usable default (None in transformers).
  expect_error(json{{"model_type", "deepseek_v2"}}, "'num_experts_per_tok' is missing");
  const HfConfig v2 = parse(json{{"model_type", "deepseek_v2"}, {"num_experts_per_tok", 6}});
  EXPECT_EQ(v2.topk_method, fb::TopkMethod::Greedy);
  EXPECT_EQ(v2.scoring_func, fb::ScoringFunc::Softmax);
  EXPECT_EQ(v2.n_shared_experts, 2u);
  EXPECT_EQ(v2.q_lora_rank, 1536u);
  EXPECT_EQ(v2.num_key_value_heads, v2.num_attention_heads);
}

TEST(ConverterConfig, NullsMapToDocumentedValues) {
  json j = tiny_config(TinySpec{});
  j["q_lora_rank"] = nullptr;
  j["n_shared_experts"] = nullptr;
  j["num_key_value_heads"] = nullptr;
  j["rope_scaling"] = nullptr;
  j["bos_token_id"] = nullptr;
  j["eos_token_id"] = json::array({1, 7});
  const HfConfig c = parse(j);
  EXPECT_EQ(c.q_lora_rank, 0u);
  EXPECT_EQ(c.n_shared_experts, 0u);
  EXPECT_EQ(c.num_key_value_heads, 2u);
  EXPECT_EQ(c.rope_scaling.type, fb::RopeScalingType::None);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{1, 7}));
}

TEST(ConverterConfig, RopeScalingForms) {
  json j = tiny_config(TinySpec{});
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                       {"mscale", 0.707}, {"mscale_all_dim", 0.707}};
  HfConfig c = parse(j);
  EXPECT_EQ(c.rope_scaling.type, fb::RopeScalingType::Yarn);
  EXPECT_FLOAT_EQ(c.rope_scaling.factor, 40.0f);
  EXPECT_FLOAT_EQ(c.rope_scaling.beta_fast, 32.0f);  // default
  EXPECT_FLOAT_EQ(c.rope_scaling.mscale, 0.707f);
  // transformers v5: rope_parameters with rope_theta inside.
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 50000.0}, {"factor", 8},
                          {"original_max_position_embeddings", 128}};
  c = parse(j);
  EXPECT_FLOAT_EQ(c.rope_theta, 50000.0f);
  EXPECT_EQ(c.rope_scaling.type, fb::RopeScalingType::Yarn);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 128u);
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  c = parse(j);
  EXPECT_EQ(c.rope_scaling.type, fb::RopeScalingType::None);
  EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
  j["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2}};
  expect_error(j, "unsupported rope_parameters type 'linear' in dir/config.json");
  j.erase("rope_parameters");
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2}};
  expect_error(j, "unsupported rope_scaling type 'dynamic'");
  j["rope_scaling"] = "yarn";
  expect_error(j, "field 'rope_scaling' must be an object");
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", "big"}};
  expect_error(j, "field 'rope_scaling.factor' must be a number");
}

TEST(ConverterConfig, RejectsUnsupportedArchitectureAndBadJson) {
  expect_error(json{{"model_type", "gpt2"}},
               "unsupported architecture 'gpt2' in dir/config.json (supported: deepseek_v3, deepseek_v2, mixtral, "
               "qwen2_moe, qwen3_moe, olmoe, llama, qwen2, gpt_oss)");
  expect_error(json{{"hidden_size", 8}}, "field 'model_type' is missing");
  expect_error(json::array({1}), "not an object");
  EXPECT_THROW(parse_config("{\"model_type\": ", "x"), ConvertError);
  try {
    parse_config("{oops", "dir/config.json");
  } catch (const ConvertError& e) {
    EXPECT_NE(std::string(e.what()).find("dir/config.json: invalid JSON"), std::string::npos) << e.what();
  }
}

TEST(ConverterConfig, RejectsWrongTypesNamingTheField) {
  const json base = tiny_config(TinySpec{});
  auto with = [&](const char* key, json v) {
    json j = base;
    j[key] = std::move(v);
    return j;
  };
  expect_error(with("hidden_size", "40"), "field 'hidden_size' must be a non-negative integer, got \"40\"");
  expect_error(with("hidden_size", 40.5), "field 'hidden_size' must be a non-negative integer");
  expect_error(with("num_hidden_layers", -2), "field 'num_hidden_layers'");
  expect_error(with("vocab_size", nullptr), "field 'vocab_size'");
  expect_error(with("norm_topk_prob", 1), "field 'norm_topk_prob' must be true or false");
  expect_error(with("rms_norm_eps", "tiny"), "field 'rms_norm_eps' must be a number");
  expect_error(with("topk_method", "best"), "field 'topk_method' has unsupported value 'best'");
  expect_error(with("scoring_func", 3), "field 'scoring_func' must be a string");
  expect_error(with("eos_token_id", "x"), "field 'eos_token_id'");
  expect_error(with("hidden_act", "gelu"), "field 'hidden_act' has unsupported value 'gelu'");
  expect_error(with("hidden_size", 5000000000ull), "larger than");
}

TEST(ConverterConfig, ValidatesValues) {
  const json base = tiny_config(TinySpec{});
  auto with = [&](const char* key, json v) {
    json j = base;
    j[key] = std::move(v);
    return j;
  };
  expect_error(with("hidden_size", 0), "field 'hidden_size' must be positive");
  expect_error(with("n_group", 3), "field 'n_group' (3) must divide n_routed_experts (4)");
  expect_error(with("topk_group", 3), "field 'topk_group' must be <= n_group");
  expect_error(with("num_experts_per_tok", 5), "field 'num_experts_per_tok' must be <= n_routed_experts");
  expect_error(with("num_experts_per_tok", 3), "exceeds the experts in topk_group groups");
  expect_error(with("qk_rope_head_dim", 5), "field 'qk_rope_head_dim' must be even");
  json four_groups = with("n_group", 4);
  four_groups["topk_group"] = 2;
  expect_error(four_groups, "fewer than 2 experts per group");
  expect_error(with("moe_layer_freq", 0), "field 'moe_layer_freq' must be positive");
  expect_error(with("intermediate_size", 0), "field 'intermediate_size' must be positive");
}

TEST(ConverterMapping, TinyV3ListsEveryTensor) {
  TinySpec spec;
  const HfConfig c = parse(tiny_config(spec));
  const auto with_mtp = convert::deepseek_expected_tensors(c, true);
  const auto without = convert::deepseek_expected_tensors(c, false);
  ASSERT_EQ(with_mtp.layers.size(), 3u);
  ASSERT_EQ(without.layers.size(), 2u);
  size_t count = with_mtp.globals.size();
  for (const auto& l : with_mtp.layers) count += l.tensors.size() + 3 * l.experts.size();
  // The test builder writes exactly the checkpoint the mapping expects.
  EXPECT_EQ(count, make_tiny(spec).tensors.size());
  EXPECT_TRUE(with_mtp.layers[0].experts.empty());  // dense layer 0
  EXPECT_EQ(with_mtp.layers[1].experts.size(), 4u);
  EXPECT_TRUE(with_mtp.layers[2].mtp);
  EXPECT_EQ(with_mtp.layers[2].tensors.front().name, "model.layers.2.embed_tokens.weight");
  const auto& down = with_mtp.layers[1].experts[3][2];
  EXPECT_EQ(down.name, "model.layers.1.mlp.experts.3.down_proj.weight");
  EXPECT_EQ(down.shape, (std::vector<uint64_t>{40, 24}));
  EXPECT_EQ(down.role, fb::TensorRole::ExpertDown);
  EXPECT_EQ(down.expert, 3);
}

TEST(ConverterMapping, V2LiteHasQProjAndNoRouterBias) {
  TinySpec spec;
  spec.model_type = "deepseek_v2";
  spec.q_lora = 0;
  spec.topk_method = "greedy";
  spec.scoring = "softmax";
  const HfConfig c = parse(tiny_config(spec));
  const auto m = convert::deepseek_expected_tensors(c, true);
  ASSERT_EQ(m.layers.size(), 2u);  // no MTP in V2
  bool q_proj = false, bias = false;
  for (const auto& l : m.layers)
    for (const auto& t : l.tensors) {
      q_proj |= t.role == fb::TensorRole::AttnQ;
      bias |= t.role == fb::TensorRole::RouterBias;
    }
  EXPECT_TRUE(q_proj);
  EXPECT_FALSE(bias);
  size_t count = m.globals.size();
  for (const auto& l : m.layers) count += l.tensors.size() + 3 * l.experts.size();
  EXPECT_EQ(count, make_tiny(spec).tensors.size());
}

}  // namespace
}  // namespace mote::test
