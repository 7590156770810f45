#include "arch/gqa.h"

namespace mote::convert {
namespace {

using R = fb::TensorRole;
using C = fb::TensorClass;

struct GqaLayerBuilder {
  const HfConfig& c;
  const GqaNaming& n;
  ExpectedLayer& out;
  std::string prefix;  // "model.layers.L."

  void add(const std::string& suffix, R role, C cls, std::vector<uint64_t> shape) {
    out.tensors.push_back({prefix + suffix, role, cls, int(out.layer), -1, std::move(shape)});
  }

  void attention() {
    const uint64_t H = c.hidden_size, hd = c.head_dim;
    const uint64_t q = uint64_t(c.num_attention_heads) * hd, kv = uint64_t(c.num_key_value_heads) * hd;
    add("input_layernorm.weight", R::AttnNorm, C::Norm, {H});
    add("self_attn.q_proj.weight", R::AttnQ, C::Attention, {q, H});
    add("self_attn.k_proj.weight", R::AttnK, C::Attention, {kv, H});
    add("self_attn.v_proj.weight", R::AttnV, C::Attention, {kv, H});
    if (c.attention_bias) {
      // 1-D, so stored F32 whatever the recipe (WeightRecipe::type_for types only matrices).
      add("self_attn.q_proj.bias", R::AttnQBias, C::Attention, {q});
      add("self_attn.k_proj.bias", R::AttnKBias, C::Attention, {kv});
      add("self_attn.v_proj.bias", R::AttnVBias, C::Attention, {kv});
    }
    if (c.qk_norm == fb::QkNorm::PerHead) {
      add("self_attn.q_norm.weight", R::AttnQNorm, C::Norm, {hd});
      add("self_attn.k_norm.weight", R::AttnKNorm, C::Norm, {hd});
    } else if (c.qk_norm == fb::QkNorm::Full) {
      add("self_attn.q_norm.weight", R::AttnQNorm, C::Norm, {q});
      add("self_attn.k_norm.weight", R::AttnKNorm, C::Norm, {kv});
    }
    add("self_attn.o_proj.weight", R::AttnOut, C::Attention, {H, q});
    if (n.gpt_oss_extras) {
      add("self_attn.o_proj.bias", R::AttnOutBias, C::Attention, {H});
      add("self_attn.sinks", R::AttnSinks, C::Attention, {uint64_t(c.num_attention_heads)});
    }
    add("post_attention_layernorm.weight", R::FfnNorm, C::Norm, {H});
  }

  // Llama / Qwen2: one always-active SwiGLU MLP.
  void dense_mlp() {
    const uint64_t H = c.hidden_size, I = c.intermediate_size;
    add("mlp.gate_proj.weight", R::FfnGate, C::DenseFfn, {I, H});
    add("mlp.up_proj.weight", R::FfnUp, C::DenseFfn, {I, H});
    add("mlp.down_proj.weight", R::FfnDown, C::DenseFfn, {H, I});
  }

  // gpt-oss: expert e's gate / up are the even / odd rows of gate_up_proj (MXFP4 blocks, kept),
  // down is down_proj; biases likewise from gate_up_proj_bias / down_proj_bias. Named as
  // per-expert tensors "...experts.E.{gate,up,down}_proj.{weight,bias}" in the .mote file.
  void fused_mxfp4_experts() {
    using K = SourceSlice::Kind;
    const uint64_t H = c.hidden_size, I = c.moe_intermediate_size, E = c.n_routed_experts;
    const std::string m = prefix + n.moe + "experts.";
    const int L = int(out.layer);
    auto piece = [&](int e, const char* name, R role, std::vector<uint64_t> shape, K kind, const std::string& src,
                     uint32_t row0, uint32_t step) {
      ExpectedTensor t{m + std::to_string(e) + "." + name, role, C::RoutedExpert, L, e, std::move(shape)};
      t.slice = SourceSlice{kind, m + src, uint32_t(e), row0, step};
      return t;
    };
    for (uint32_t e = 0; e < E; ++e) {
      const int ei = int(e);
      out.experts.push_back({piece(ei, "gate_proj.weight", R::ExpertGate, {I, H}, K::kMxfp4Rows, "gate_up_proj_blocks", 0, 2),
                             piece(ei, "up_proj.weight", R::ExpertUp, {I, H}, K::kMxfp4Rows, "gate_up_proj_blocks", 1, 2),
                             piece(ei, "down_proj.weight", R::ExpertDown, {H, I}, K::kMxfp4Rows, "down_proj_blocks", 0, 1)});
      out.expert_extras.push_back(
          {piece(ei, "gate_proj.bias", R::ExpertGateBias, {I}, K::kBiasRows, "gate_up_proj_bias", 0, 2),
           piece(ei, "up_proj.bias", R::ExpertUpBias, {I}, K::kBiasRows, "gate_up_proj_bias", 1, 2),
           piece(ei, "down_proj.bias", R::ExpertDownBias, {H}, K::kBiasRows, "down_proj_bias", 0, 1)});
    }
  }

  void moe() {
    const uint64_t H = c.hidden_size, I = c.moe_intermediate_size, E = c.n_routed_experts;
    const std::string m = prefix + n.moe;
    add(std::string(n.moe) + n.router + ".weight", R::Router, C::Router, {E, H});
    if (n.gpt_oss_extras) {
      add(std::string(n.moe) + n.router + ".bias", R::RouterBias, C::Router, {E});
      return fused_mxfp4_experts();
    }
    if (n.shared_expert != nullptr && c.shared_expert_intermediate_size > 0) {
      const uint64_t S = c.shared_expert_intermediate_size;
      const std::string se = n.shared_expert;
      add(se + ".gate_proj.weight", R::SharedGate, C::SharedExpert, {S, H});
      add(se + ".up_proj.weight", R::SharedUp, C::SharedExpert, {S, H});
      add(se + ".down_proj.weight", R::SharedDown, C::SharedExpert, {H, S});
      // [1, H]: a router-like gate read in f32 (stays F32 like the router).
      add(se + "_gate.weight", R::SharedExpertGate, C::Router, {1, H});
    }
    out.experts.reserve(E);
    for (uint32_t e = 0; e < E; ++e) {
      const std::string ep = m + "experts." + std::to_string(e) + ".";
      const int L = int(out.layer), ei = int(e);
      out.experts.push_back(
          {ExpectedTensor{ep + n.expert_gate + ".weight", R::ExpertGate, C::RoutedExpert, L, ei, {I, H}},
           ExpectedTensor{ep + n.expert_up + ".weight", R::ExpertUp, C::RoutedExpert, L, ei, {I, H}},
           ExpectedTensor{ep + n.expert_down + ".weight", R::ExpertDown, C::RoutedExpert, L, ei, {H, I}}});
    }
  }
};

}  // namespace

ExpectedModel gqa_expected_tensors(const HfConfig& c, const GqaNaming& naming) {
  ExpectedModel m;
  const uint64_t H = c.hidden_size, V = c.vocab_size;
  m.globals.push_back({"model.embed_tokens.weight", R::TokenEmbedding, C::Embedding, -1, -1, {V, H}});
  m.globals.push_back({"model.norm.weight", R::OutputNorm, C::Norm, -1, -1, {H}});
  m.globals.push_back({"lm_head.weight", R::Output, C::Output, -1, -1, {V, H}});
  m.layers.resize(c.num_hidden_layers);
  for (uint32_t L = 0; L < c.num_hidden_layers; ++L) {
    ExpectedLayer& layer = m.layers[L];
    layer.layer = L;
    GqaLayerBuilder b{c, naming, layer, "model.layers." + std::to_string(L) + "."};
    b.attention();
    // Every layer of the MoE families is MoE (config_gqa.cpp refuses anything else); no layer of
    // the dense ones is.
    if (c.is_moe_layer(L)) b.moe();
    else b.dense_mlp();
  }
  return m;
}

}  // namespace mote::convert
