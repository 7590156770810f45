#include "arch/deepseek.h"
#include "arch/family.h"

namespace mote::convert {

namespace {

using R = fb::TensorRole;
using C = fb::TensorClass;

struct LayerBuilder {
  const HfConfig& c;
  ExpectedLayer& out;
  std::string prefix;  // "model.layers.L."

  void add(const std::string& suffix, R role, C cls, std::vector<uint64_t> shape) {
    out.tensors.push_back({prefix + suffix, role, cls, int(out.layer), -1, std::move(shape)});
  }

  void attention() {
    const uint64_t H = c.hidden_size, nh = c.num_attention_heads;
    const uint64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
    add("input_layernorm.weight", R::AttnNorm, C::Norm, {H});
    if (c.q_lora_rank > 0) {
      add("self_attn.q_a_proj.weight", R::AttnQA, C::Attention, {c.q_lora_rank, H});
      add("self_attn.q_a_layernorm.weight", R::AttnQANorm, C::Norm, {c.q_lora_rank});
      add("self_attn.q_b_proj.weight", R::AttnQB, C::Attention, {nh * qk, c.q_lora_rank});
    } else {
      add("self_attn.q_proj.weight", R::AttnQ, C::Attention, {nh * qk, H});
    }
    add("self_attn.kv_a_proj_with_mqa.weight", R::AttnKvA, C::Attention,
        {uint64_t(c.kv_lora_rank) + c.qk_rope_head_dim, H});
    add("self_attn.kv_a_layernorm.weight", R::AttnKvANorm, C::Norm, {c.kv_lora_rank});
    add("self_attn.kv_b_proj.weight", R::AttnKvB, C::Attention,
        {nh * (uint64_t(c.qk_nope_head_dim) + c.v_head_dim), c.kv_lora_rank});
    add("self_attn.o_proj.weight", R::AttnOut, C::Attention, {H, nh * c.v_head_dim});
    add("post_attention_layernorm.weight", R::FfnNorm, C::Norm, {H});
  }

  void dense_mlp() {
    const uint64_t H = c.hidden_size, I = c.intermediate_size;
    add("mlp.gate_proj.weight", R::FfnGate, C::DenseFfn, {I, H});
    add("mlp.up_proj.weight", R::FfnUp, C::DenseFfn, {I, H});
    add("mlp.down_proj.weight", R::FfnDown, C::DenseFfn, {H, I});
  }

  void moe() {
    const uint64_t H = c.hidden_size, I = c.moe_intermediate_size, E = c.n_routed_experts;
    add("mlp.gate.weight", R::Router, C::Router, {E, H});
    if (c.topk_method == fb::TopkMethod::NoauxTc)
      add("mlp.gate.e_score_correction_bias", R::RouterBias, C::Router, {E});
    if (c.n_shared_experts > 0) {
      const uint64_t S = uint64_t(c.n_shared_experts) * I;
      add("mlp.shared_experts.gate_proj.weight", R::SharedGate, C::SharedExpert, {S, H});
      add("mlp.shared_experts.up_proj.weight", R::SharedUp, C::SharedExpert, {S, H});
      add("mlp.shared_experts.down_proj.weight", R::SharedDown, C::SharedExpert, {H, S});
    }
    out.experts.reserve(E);
    for (uint32_t e = 0; e < E; ++e) {
      const std::string ep = prefix + "mlp.experts." + std::to_string(e) + ".";
      const int L = int(out.layer), ei = int(e);
      out.experts.push_back({ExpectedTensor{ep + "gate_proj.weight", R::ExpertGate, C::RoutedExpert, L, ei, {I, H}},
                             ExpectedTensor{ep + "up_proj.weight", R::ExpertUp, C::RoutedExpert, L, ei, {I, H}},
                             ExpectedTensor{ep + "down_proj.weight", R::ExpertDown, C::RoutedExpert, L, ei, {H, I}}});
    }
  }

  // MTP inputs (embedding, norms, eh_proj) come first, the head last, around the decoder block.
  void mtp_inputs() {
    const uint64_t H = c.hidden_size;
    add("embed_tokens.weight", R::MtpEmbedding, C::Embedding, {c.vocab_size, H});
    add("enorm.weight", R::MtpEnorm, C::Norm, {H});
    add("hnorm.weight", R::MtpHnorm, C::Norm, {H});
    // eh_proj has no class of its own; it is a dense projection and follows --weights.
    add("eh_proj.weight", R::MtpEhProj, C::DenseFfn, {H, 2 * H});
  }
  void mtp_head() {
    const uint64_t H = c.hidden_size;
    add("shared_head.norm.weight", R::MtpHeadNorm, C::Norm, {H});
    add("shared_head.head.weight", R::MtpHead, C::Output, {c.vocab_size, H});
  }
};

}  // namespace

ExpectedModel deepseek_expected_tensors(const HfConfig& c, bool with_mtp) {
  ExpectedModel m;
  const uint64_t H = c.hidden_size, V = c.vocab_size;
  m.globals.push_back({"model.embed_tokens.weight", R::TokenEmbedding, C::Embedding, -1, -1, {V, H}});
  m.globals.push_back({"model.norm.weight", R::OutputNorm, C::Norm, -1, -1, {H}});
  m.globals.push_back({"lm_head.weight", R::Output, C::Output, -1, -1, {V, H}});
  const uint32_t total = c.num_hidden_layers + (with_mtp ? c.num_nextn_predict_layers : 0);
  m.layers.resize(total);
  for (uint32_t L = 0; L < total; ++L) {
    ExpectedLayer& layer = m.layers[L];
    layer.layer = L;
    layer.mtp = L >= c.num_hidden_layers;
    LayerBuilder b{c, layer, "model.layers." + std::to_string(L) + "."};
    if (layer.mtp) b.mtp_inputs();
    b.attention();
    if (c.is_moe_layer(L)) b.moe();
    else b.dense_mlp();
    if (layer.mtp) b.mtp_head();
  }
  return m;
}

namespace {

// transformers' DeepseekV3Config / DeepseekV2Config defaults. V2's num_experts_per_tok is None in
// HF, so required (0 here).
constexpr detail::MlaDefaults kV3Defaults{
    129280, 7168, 18432, 2048, 61, 128, 1, 256, 8, 2.5f, 8, 4, 3, true, 4096, 0, 1,
    fb::TopkMethod::NoauxTc, fb::ScoringFunc::Sigmoid, 1536, 512, 128, 64, 128};
constexpr detail::MlaDefaults kV2Defaults{
    32000, 4096, 11008, 1407, 32, 32, 2, 64, 0, 1.0f, 1, 1, 0, false, 2048, 1, 2,
    fb::TopkMethod::Greedy, fb::ScoringFunc::Softmax, 1536, 512, 128, 64, 128};

}  // namespace

// DeepSeek-V3 / R1 (model_type "deepseek_v3") and DeepSeek-V2 / V2-Lite ("deepseek_v2"): MLA,
// parsed by the shared MLA parser (hf/config.cpp) with these defaults; one tensor mapping.
extern const ConverterFamily kDeepSeekV3Converter = {
    .architecture = fb::Architecture::DeepSeekV3,
    .model_type = "deepseek_v3",
    .gqa = false,
    .dense = false,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const detail::Fields& f, HfConfig& c) {
      detail::parse_mla_config(root, f, c, kV3Defaults);
    },
    .expected_tensors = deepseek_expected_tensors,
};

extern const ConverterFamily kDeepSeekV2Converter = {
    .architecture = fb::Architecture::DeepSeekV2,
    .model_type = "deepseek_v2",
    .gqa = false,
    .dense = false,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const detail::Fields& f, HfConfig& c) {
      detail::parse_mla_config(root, f, c, kV2Defaults);
    },
    .expected_tensors = deepseek_expected_tensors,
};

}  // namespace mote::convert
