// Unit tests of config.json parsing for the GQA MoE families (converter/hf/config_gqa.cpp) and
// their tensor mappings (converter/arch/gqa.h): defaults, family keys, refused features, names.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "arch/expected.h"
#include "hf/config.h"
#include "hf/error.h"

namespace mote::test {
namespace {

using convert::ConvertError;
using convert::HfConfig;
using json = nlohmann::json;

HfConfig parse(const json& j) { return convert::parse_config(j.dump(), "dir/config.json"); }

void expect_error(const json& j, const std::string& needle) {
  try {
    parse(j);
    ADD_FAILURE() << "expected an error containing '" << needle << "' for " << j.dump();
  } catch (const ConvertError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

json tiny(const std::string& model_type) {
  json j = {{"model_type", model_type}, {"vocab_size", 64},      {"hidden_size", 32},
            {"num_hidden_layers", 2},    {"num_attention_heads", 4}, {"num_key_value_heads", 2},
            {"num_experts_per_tok", 2},  {"max_position_embeddings", 128}};
  if (model_type == "mixtral") {
    j["num_local_experts"] = 4;
    j["intermediate_size"] = 24;
  } else if (model_type == "olmoe") {
    j["num_experts"] = 4;
    j["intermediate_size"] = 24;
  } else {
    j["num_experts"] = 4;
    j["moe_intermediate_size"] = 24;
    j["intermediate_size"] = 48;
  }
  return j;
}

// Every name of `m`, and the count of tensors (globals + per layer + 3 per expert).
std::set<std::string> names(const convert::ExpectedModel& m, size_t* count) {
  std::set<std::string> out;
  for (const auto& t : m.globals) out.insert(t.name);
  for (const auto& l : m.layers) {
    for (const auto& t : l.tensors) out.insert(t.name);
    for (const auto& e : l.experts)
      for (const auto& t : e) out.insert(t.name);
  }
  *count = out.size();
  return out;
}

TEST(GqaConfig, DefaultsFollowTransformers) {
  const HfConfig mixtral = parse(json{{"model_type", "mixtral"}});
  EXPECT_EQ(mixtral.architecture, fb::Architecture::Mixtral);
  EXPECT_EQ(mixtral.hidden_size, 4096u);
  EXPECT_EQ(mixtral.num_key_value_heads, 8u);
  EXPECT_EQ(mixtral.head_dim, 128u);
  EXPECT_EQ(mixtral.moe_intermediate_size, 14336u);  // per-expert intermediate_size
  EXPECT_EQ(mixtral.n_routed_experts, 8u);
  EXPECT_EQ(mixtral.num_experts_per_tok, 2u);
  EXPECT_TRUE(mixtral.norm_topk_prob);
  EXPECT_FLOAT_EQ(mixtral.rope_theta, 1e6f);
  EXPECT_EQ(mixtral.sliding_window, 0u);
  const HfConfig qwen3 = parse(json{{"model_type", "qwen3_moe"}});
  EXPECT_EQ(qwen3.n_routed_experts, 128u);
  EXPECT_EQ(qwen3.head_dim, 64u);  // hidden_size / heads when the key is absent
  EXPECT_EQ(qwen3.qk_norm, fb::QkNorm::PerHead);
  EXPECT_FALSE(qwen3.norm_topk_prob);
  EXPECT_EQ(qwen3.n_shared_experts, 0u);
  const HfConfig olmoe = parse(json{{"model_type", "olmoe"}});
  EXPECT_EQ(olmoe.qk_norm, fb::QkNorm::Full);
  EXPECT_EQ(olmoe.num_key_value_heads, 16u);
  EXPECT_EQ(olmoe.eos_token_ids, std::vector<int32_t>{50279});
  const HfConfig qwen2 = parse(json{{"model_type", "qwen2_moe"}});
  EXPECT_TRUE(qwen2.attention_bias);
  EXPECT_EQ(qwen2.n_shared_experts, 1u);
  EXPECT_EQ(qwen2.shared_expert_intermediate_size, 5632u);
  for (const HfConfig* c : {&mixtral, &qwen3, &olmoe, &qwen2}) {
    EXPECT_TRUE(c->is_gqa());
    EXPECT_EQ(c->scoring_func, fb::ScoringFunc::Softmax);
    EXPECT_EQ(c->topk_method, fb::TopkMethod::Greedy);
    EXPECT_EQ(c->first_k_dense_replace, 0u);
    for (uint32_t l = 0; l < c->num_hidden_layers; ++l) EXPECT_TRUE(c->is_moe_layer(l));
  }
}

TEST(GqaConfig, ReadsFamilyKeys) {
  json j = tiny("qwen3_moe");
  j["head_dim"] = 12;
  j["norm_topk_prob"] = true;
  j["eos_token_id"] = {5, 6};
  const HfConfig c = parse(j);
  EXPECT_EQ(c.head_dim, 12u);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.moe_intermediate_size, 24u);
  EXPECT_EQ(c.intermediate_size, 48u);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{5, 6}));
  json m = tiny("mixtral");
  m["sliding_window"] = 16;
  EXPECT_EQ(parse(m).sliding_window, 16u);
  m["sliding_window"] = nullptr;
  EXPECT_EQ(parse(m).sliding_window, 0u);
  json q2 = tiny("qwen2_moe");
  q2["shared_expert_intermediate_size"] = 40;
  q2["qkv_bias"] = false;
  EXPECT_EQ(parse(q2).shared_expert_intermediate_size, 40u);
  EXPECT_FALSE(parse(q2).attention_bias);
}

TEST(GqaConfig, DenseLlamaAndQwen2) {
  json llama = {{"model_type", "llama"}, {"vocab_size", 64}, {"hidden_size", 32}, {"intermediate_size", 40},
                {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                  {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}}}};
  const HfConfig c = parse(llama);
  EXPECT_TRUE(c.is_gqa());
  EXPECT_TRUE(c.is_dense());
  EXPECT_EQ(c.n_routed_experts, 0u);
  EXPECT_EQ(c.intermediate_size, 40u);
  EXPECT_EQ(c.head_dim, 8u);
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_FALSE(c.is_moe_layer(1));
  EXPECT_EQ(c.rope_scaling.type, fb::RopeScalingType::Llama3);
  EXPECT_FLOAT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64u);
  size_t n = 0;
  const auto names_llama = names(convert::expected_tensors(c, true), &n);
  EXPECT_EQ(n, 3u + 2 * (6 + 3));  // 2 norms + q/k/v/o + gate/up/down
  EXPECT_TRUE(names_llama.count("model.layers.1.mlp.down_proj.weight"));
  const HfConfig q2 = parse(json{{"model_type", "qwen2"}});
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_EQ(q2.intermediate_size, 22016u);
  llama["rope_scaling"]["high_freq_factor"] = 0.5;
  expect_error(llama, "field 'rope_scaling.high_freq_factor' must be > low_freq_factor > 0");
  llama.erase("rope_scaling");
  llama["mlp_bias"] = true;
  expect_error(llama, "field 'mlp_bias' is true");
  expect_error(json{{"model_type", "qwen2"}, {"use_sliding_window", true}}, "field 'use_sliding_window' is true");
  expect_error(json{{"model_type", "qwen3_moe"}, {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}},
               "rope scaling is not supported for qwen3_moe");
  expect_error(json{{"model_type", "deepseek_v3"}, {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}},
               "type llama3 is not supported for deepseek_v3");
}

TEST(GqaConfig, RefusesWhatTheRuntimeDoesNotImplement) {
  auto with = [](const std::string& type, const char* key, json v) {
    json j = tiny(type);
    j[key] = std::move(v);
    return j;
  };
  expect_error(with("qwen3_moe", "use_sliding_window", true), "field 'use_sliding_window' is true");
  expect_error(with("qwen2_moe", "decoder_sparse_step", 2), "field 'decoder_sparse_step' > 1");
  expect_error(with("qwen3_moe", "mlp_only_layers", json::array({0})), "field 'mlp_only_layers' is not empty");
  expect_error(with("olmoe", "clip_qkv", 8.0), "field 'clip_qkv' is set");
  expect_error(with("qwen3_moe", "attention_bias", true), "field 'attention_bias' is true");
  expect_error(with("mixtral", "rope_scaling", json{{"type", "dynamic"}, {"factor", 4}}),
               "unsupported rope_scaling type 'dynamic'");
  expect_error(with("mixtral", "rope_scaling", json{{"type", "llama3"}, {"factor", 4}}),
               "field 'rope_scaling' is set: this rope scaling is not supported for mixtral");
  expect_error(with("qwen3_moe", "rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4}, {"truncate", false}}),
               "field 'rope_scaling' has truncate = false");
  expect_error(with("qwen3_moe", "rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4}, {"attention_factor", 1}}),
               "field 'rope_scaling' has attention_factor");
  expect_error(with("mixtral", "hidden_act", "gelu"), "field 'hidden_act' has unsupported value 'gelu'");
}

TEST(GqaConfig, ValidatesValues) {
  auto with = [](const std::string& type, const char* key, json v) {
    json j = tiny(type);
    j[key] = std::move(v);
    return j;
  };
  expect_error(with("mixtral", "num_key_value_heads", 3), "field 'num_key_value_heads' (3) must divide");
  expect_error(with("qwen3_moe", "head_dim", 7), "field 'head_dim' must be even");
  expect_error(with("mixtral", "num_experts_per_tok", 5), "field 'num_experts_per_tok' must be <=");
  expect_error(with("mixtral", "num_local_experts", 0), "field 'num_local_experts' must be positive");
  expect_error(with("olmoe", "intermediate_size", 0), "field 'intermediate_size' must be positive");
  json olmoe = with("olmoe", "num_attention_heads", 3);
  olmoe["num_key_value_heads"] = 3;
  expect_error(olmoe, "field 'num_attention_heads' must divide hidden_size");
}

TEST(GqaMapping, FamilyNamesAndShapes) {
  size_t n = 0;
  const auto mixtral = names(convert::expected_tensors(parse(tiny("mixtral")), true), &n);
  EXPECT_EQ(n, 3u + 2 * (6 + 1 + 4 * 3));  // 2 norms + q/k/v/o, router, 4 experts x 3
  EXPECT_TRUE(mixtral.count("model.layers.1.block_sparse_moe.gate.weight"));
  EXPECT_TRUE(mixtral.count("model.layers.1.block_sparse_moe.experts.3.w2.weight"));
  const auto olmoe = names(convert::expected_tensors(parse(tiny("olmoe")), false), &n);
  EXPECT_EQ(n, 3u + 2 * (8 + 1 + 4 * 3));  // + q_norm, k_norm
  EXPECT_TRUE(olmoe.count("model.layers.0.self_attn.k_norm.weight"));
  EXPECT_TRUE(olmoe.count("model.layers.0.mlp.experts.0.up_proj.weight"));
  const auto qwen2 = names(convert::expected_tensors(parse(tiny("qwen2_moe")), false), &n);
  EXPECT_EQ(n, 3u + 2 * (6 + 3 + 1 + 4 + 4 * 3));  // + q/k/v biases, + shared expert and its gate
  EXPECT_TRUE(qwen2.count("model.layers.1.self_attn.v_proj.bias"));
  EXPECT_TRUE(qwen2.count("model.layers.1.mlp.shared_expert_gate.weight"));

  json j = tiny("qwen3_moe");
  j["head_dim"] = 12;  // 4 heads x 12 = 48 != hidden 32
  const convert::ExpectedModel q3 = convert::expected_tensors(parse(j), true);
  ASSERT_EQ(q3.layers.size(), 2u);
  for (const auto& t : q3.layers[0].tensors) {
    if (t.role == fb::TensorRole::AttnQ) { EXPECT_EQ(t.shape, (std::vector<uint64_t>{48, 32})); }
    if (t.role == fb::TensorRole::AttnK) { EXPECT_EQ(t.shape, (std::vector<uint64_t>{24, 32})); }
    if (t.role == fb::TensorRole::AttnOut) { EXPECT_EQ(t.shape, (std::vector<uint64_t>{32, 48})); }
    if (t.role == fb::TensorRole::AttnQNorm) { EXPECT_EQ(t.shape, (std::vector<uint64_t>{12})); }
  }
  const auto& down = q3.layers[1].experts[2][2];
  EXPECT_EQ(down.name, "model.layers.1.mlp.experts.2.down_proj.weight");
  EXPECT_EQ(down.shape, (std::vector<uint64_t>{32, 24}));
  EXPECT_EQ(down.role, fb::TensorRole::ExpertDown);
  EXPECT_EQ(down.layer, 1);
  EXPECT_EQ(down.expert, 2);
}

}  // namespace
}  // namespace mote::test

namespace mote::test {
namespace {

json tiny_gpt_oss() {
  return {{"model_type", "gpt_oss"},      {"vocab_size", 64},          {"hidden_size", 64},
          {"intermediate_size", 32},      {"num_hidden_layers", 4},    {"num_attention_heads", 4},
          {"num_key_value_heads", 2},     {"head_dim", 16},            {"num_local_experts", 4},
          {"num_experts_per_tok", 2},     {"max_position_embeddings", 256}};
}

// gpt-oss: transformers' defaults (alternating sliding layers, even first;
// swiglu_limit 7; attention biases), softmax over the selected logits, YaRN truncate false kept.
TEST(GqaConfig, GptOssKeys) {
  json j = tiny_gpt_oss();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                       {"original_max_position_embeddings", 64}, {"truncate", false}};
  HfConfig c = parse(j);
  EXPECT_EQ(c.architecture, fb::Architecture::GptOss);
  EXPECT_EQ(c.scoring_func, fb::ScoringFunc::SoftmaxTopk);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FLOAT_EQ(c.swiglu_limit, 7.0f);
  EXPECT_EQ(c.sliding_window, 128u);
  EXPECT_EQ(c.layer_sliding, (std::vector<uint8_t>{1, 0, 1, 0}));
  EXPECT_EQ(c.n_routed_experts, 4u);
  EXPECT_EQ(c.moe_intermediate_size, 32u);
  EXPECT_FALSE(c.rope_scaling.truncate);
  j["layer_types"] = {"full_attention", "sliding_attention", "sliding_attention", "full_attention"};
  j["sliding_window"] = 8;
  j["swiglu_limit"] = 2.5;
  c = parse(j);
  EXPECT_EQ(c.layer_sliding, (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(c.sliding_window, 8u);
  EXPECT_FLOAT_EQ(c.swiglu_limit, 2.5f);
  // Experts: one segment each, gate/up the even/odd rows of the fused MXFP4 gate_up_proj.
  const convert::ExpectedModel m = convert::expected_tensors(c, false);
  ASSERT_EQ(m.layers[0].experts.size(), 4u);
  const convert::ExpectedTensor& up = m.layers[0].experts[3][1];
  EXPECT_EQ(up.slice.kind, convert::SourceSlice::Kind::kMxfp4Rows);
  EXPECT_EQ(up.slice.tensor, "model.layers.0.mlp.experts.gate_up_proj_blocks");
  EXPECT_EQ(up.slice.expert, 3u);
  EXPECT_EQ(up.slice.row0, 1u);
  EXPECT_EQ(up.slice.row_step, 2u);
  EXPECT_EQ(up.shape, (std::vector<uint64_t>{32, 64}));
  ASSERT_EQ(m.layers[0].expert_extras[3].size(), 3u);
  EXPECT_EQ(m.layers[0].expert_extras[3][2].slice.tensor, "model.layers.0.mlp.experts.down_proj_bias");
}

TEST(GqaConfig, GptOssRefusals) {
  json j = tiny_gpt_oss();
  j["layer_types"] = {"sliding_attention", "full_attention"};
  expect_error(j, "field 'layer_types' must be a list of num_hidden_layers (4) entries");
  j["layer_types"] = {"sliding_attention", "full_attention", "chunked_attention", "full_attention"};
  expect_error(j, "entry 2 is \"chunked_attention\"");
  j = tiny_gpt_oss();
  j["hidden_size"] = 48;
  j["head_dim"] = 12;
  expect_error(j, "multiples of 32 (MXFP4 blocks)");
  j = tiny_gpt_oss();
  j["attention_bias"] = false;
  expect_error(j, "gpt-oss without attention biases is not supported");
  j = tiny_gpt_oss();
  j["swiglu_limit"] = 0.0;
  expect_error(j, "field 'swiglu_limit' must be positive");
}

}  // namespace
}  // namespace mote::test
