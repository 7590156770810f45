#include <unistd.h>

#include "runtime/tiny_model.h"

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "kernels/quant.h"

namespace mote::test {
namespace {

using Role = fb::TensorRole;
using Class = fb::TensorClass;

struct Spec {
  convert::PlannedTensor t;
  float gain = 1.0f;    // std multiplier on top of 1/sqrt(in)
  enum Kind { kMatrix, kNorm, kBias, kEmbedding } kind = kMatrix;
};

class Rng {
 public:
  explicit Rng(uint32_t seed) : gen_(seed) {}
  // Uniform in [-1, 1).
  float uniform() { return float(gen_() >> 8) * (2.0f / 16777216.0f) - 1.0f; }

 private:
  std::mt19937 gen_;
};

Spec spec(std::string name, Role role, Class cls, int layer, std::vector<uint64_t> shape, Spec::Kind kind,
          int expert = -1, float gain = 1.0f) {
  Spec s;
  s.t.name = std::move(name);
  s.t.role = role;
  s.t.tensor_class = cls;
  s.t.layer = layer;
  s.t.expert = expert;
  s.t.shape = std::move(shape);
  s.kind = kind;
  s.gain = gain;
  return s;
}

void add_block(const TinyConfig& c, int l, bool moe, std::vector<Spec>* out) {
  const std::string p = "model.layers." + std::to_string(l) + ".";
  const uint64_t H = c.hidden, nh = c.heads, qk = c.dn + c.dr;
  auto& v = *out;
  v.push_back(spec(p + "input_layernorm.weight", Role::AttnNorm, Class::Norm, l, {H}, Spec::kNorm));
  if (c.q_lora > 0) {
    v.push_back(spec(p + "self_attn.q_a_proj.weight", Role::AttnQA, Class::Attention, l, {uint64_t(c.q_lora), H},
                     Spec::kMatrix));
    v.push_back(spec(p + "self_attn.q_a_layernorm.weight", Role::AttnQANorm, Class::Norm, l, {uint64_t(c.q_lora)},
                     Spec::kNorm));
    v.push_back(spec(p + "self_attn.q_b_proj.weight", Role::AttnQB, Class::Attention, l, {nh * qk, uint64_t(c.q_lora)},
                     Spec::kMatrix));
  } else {
    v.push_back(spec(p + "self_attn.q_proj.weight", Role::AttnQ, Class::Attention, l, {nh * qk, H}, Spec::kMatrix));
  }
  v.push_back(spec(p + "self_attn.kv_a_proj_with_mqa.weight", Role::AttnKvA, Class::Attention, l,
                   {uint64_t(c.kv_lora + c.dr), H}, Spec::kMatrix));
  v.push_back(spec(p + "self_attn.kv_a_layernorm.weight", Role::AttnKvANorm, Class::Norm, l, {uint64_t(c.kv_lora)},
                   Spec::kNorm));
  v.push_back(spec(p + "self_attn.kv_b_proj.weight", Role::AttnKvB, Class::Attention, l,
                   {nh * uint64_t(c.dn + c.dv), uint64_t(c.kv_lora)}, Spec::kMatrix));
  v.push_back(spec(p + "self_attn.o_proj.weight", Role::AttnOut, Class::Attention, l, {H, nh * c.dv}, Spec::kMatrix));
  v.push_back(spec(p + "post_attention_layernorm.weight", Role::FfnNorm, Class::Norm, l, {H}, Spec::kNorm));
  if (!moe) {
    const uint64_t I = c.intermediate;
    v.push_back(spec(p + "mlp.gate_proj.weight", Role::FfnGate, Class::DenseFfn, l, {I, H}, Spec::kMatrix));
    v.push_back(spec(p + "mlp.up_proj.weight", Role::FfnUp, Class::DenseFfn, l, {I, H}, Spec::kMatrix));
    v.push_back(spec(p + "mlp.down_proj.weight", Role::FfnDown, Class::DenseFfn, l, {H, I}, Spec::kMatrix));
    return;
  }
  const uint64_t E = c.experts, I = c.moe_intermediate, Is = uint64_t(c.shared) * I;
  v.push_back(spec(p + "mlp.gate.weight", Role::Router, Class::Router, l, {E, H}, Spec::kMatrix, -1, c.router_gain));
  if (c.topk_method == fb::TopkMethod::NoauxTc || c.force_router_bias)
    v.push_back(spec(p + "mlp.gate.e_score_correction_bias", Role::RouterBias, Class::Router, l, {E}, Spec::kBias));
  if (c.shared > 0) {
    v.push_back(spec(p + "mlp.shared_experts.gate_proj.weight", Role::SharedGate, Class::SharedExpert, l, {Is, H},
                     Spec::kMatrix));
    v.push_back(spec(p + "mlp.shared_experts.up_proj.weight", Role::SharedUp, Class::SharedExpert, l, {Is, H},
                     Spec::kMatrix));
    v.push_back(spec(p + "mlp.shared_experts.down_proj.weight", Role::SharedDown, Class::SharedExpert, l, {H, Is},
                     Spec::kMatrix));
  }
  for (int e = 0; e < c.experts; ++e) {
    const std::string q = p + "mlp.experts." + std::to_string(e) + ".";
    v.push_back(spec(q + "gate_proj.weight", Role::ExpertGate, Class::RoutedExpert, l, {I, H}, Spec::kMatrix, e));
    v.push_back(spec(q + "up_proj.weight", Role::ExpertUp, Class::RoutedExpert, l, {I, H}, Spec::kMatrix, e));
    v.push_back(spec(q + "down_proj.weight", Role::ExpertDown, Class::RoutedExpert, l, {H, I}, Spec::kMatrix, e));
  }
}

bool is_moe(const TinyConfig& c, int l) { return c.experts > 0 && l >= c.first_dense && l % c.moe_freq == 0; }

std::vector<Spec> all_specs(const TinyConfig& c) {
  const uint64_t H = c.hidden, V = c.vocab;
  std::vector<Spec> v;
  v.push_back(spec("model.embed_tokens.weight", Role::TokenEmbedding, Class::Embedding, -1, {V, H}, Spec::kEmbedding));
  for (int l = 0; l < c.layers; ++l) add_block(c, l, is_moe(c, l), &v);
  v.push_back(spec("model.norm.weight", Role::OutputNorm, Class::Norm, -1, {H}, Spec::kNorm));
  v.push_back(spec("lm_head.weight", Role::Output, Class::Output, -1, {V, H}, Spec::kMatrix));
  for (int l = c.layers; l < c.layers + c.mtp_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    if (!c.mtp_alias)
      v.push_back(spec(p + "embed_tokens.weight", Role::MtpEmbedding, Class::Embedding, l, {V, H}, Spec::kEmbedding));
    v.push_back(spec(p + "enorm.weight", Role::MtpEnorm, Class::Norm, l, {H}, Spec::kNorm));
    v.push_back(spec(p + "hnorm.weight", Role::MtpHnorm, Class::Norm, l, {H}, Spec::kNorm));
    v.push_back(spec(p + "eh_proj.weight", Role::MtpEhProj, Class::Attention, l, {H, 2 * H}, Spec::kMatrix));
    add_block(c, l, is_moe(c, l), &v);
    v.push_back(spec(p + "shared_head.norm.weight", Role::MtpHeadNorm, Class::Norm, l, {H}, Spec::kNorm));
    if (!c.mtp_alias)
      v.push_back(spec(p + "shared_head.head.weight", Role::MtpHead, Class::Output, l, {V, H}, Spec::kMatrix));
  }
  return v;
}

std::vector<float> values(const Spec& s, const TinyConfig& c, Rng& rng) {
  const uint64_t rows = s.t.shape.size() == 2 ? s.t.shape[0] : 1, cols = s.t.shape.back();
  std::vector<float> out(rows * cols);
  const float std_dev = s.gain * std::sqrt(3.0f / float(cols));  // uniform: std = a / sqrt(3)
  for (float& x : out) {
    const float u = rng.uniform();
    switch (s.kind) {
      case Spec::kMatrix: x = u * std_dev; break;
      case Spec::kNorm: x = 1.0f + 0.25f * u; break;
      case Spec::kBias: x = c.bias_max * u; break;
      case Spec::kEmbedding: x = u; break;
    }
  }
  return out;
}

}  // namespace

flatbuffers::Offset<fb::ModelConfig> build_tiny_config(flatbuffers::FlatBufferBuilder& b, const TinyConfig& c) {
  auto model_type = b.CreateString(c.arch == fb::Architecture::DeepSeekV3 ? "deepseek_v3" : "deepseek_v2");
  auto eos = b.CreateVector(std::vector<int32_t>{1});
  auto rope = fb::CreateRopeScaling(b, c.yarn ? fb::RopeScalingType::Yarn : fb::RopeScalingType::None, c.factor,
                                    c.original_max_position, 32.0f, 1.0f, c.mscale, c.mscale_all_dim);
  fb::ModelConfigBuilder cb(b);
  cb.add_architecture(c.arch);
  cb.add_model_type(model_type);
  cb.add_vocab_size(uint32_t(c.vocab));
  cb.add_hidden_size(uint32_t(c.hidden));
  cb.add_intermediate_size(uint32_t(c.intermediate));
  cb.add_moe_intermediate_size(uint32_t(c.moe_intermediate));
  cb.add_num_hidden_layers(uint32_t(c.layers));
  cb.add_num_nextn_predict_layers(uint32_t(c.mtp_layers));
  cb.add_num_attention_heads(uint32_t(c.heads));
  cb.add_num_key_value_heads(uint32_t(c.heads));
  cb.add_q_lora_rank(uint32_t(c.q_lora));
  cb.add_kv_lora_rank(uint32_t(c.kv_lora));
  cb.add_qk_nope_head_dim(uint32_t(c.dn));
  cb.add_qk_rope_head_dim(uint32_t(c.dr));
  cb.add_v_head_dim(uint32_t(c.dv));
  cb.add_n_routed_experts(uint32_t(c.experts));
  cb.add_n_shared_experts(uint32_t(c.shared));
  cb.add_num_experts_per_tok(uint32_t(c.top_k));
  cb.add_first_k_dense_replace(uint32_t(c.first_dense));
  cb.add_moe_layer_freq(uint32_t(c.moe_freq));
  cb.add_n_group(uint32_t(c.n_group));
  cb.add_topk_group(uint32_t(c.topk_group));
  cb.add_topk_method(c.topk_method);
  cb.add_scoring_func(c.scoring);
  cb.add_norm_topk_prob(c.norm_topk_prob);
  cb.add_routed_scaling_factor(c.routed_scale);
  cb.add_rms_norm_eps(c.eps);
  cb.add_rope_theta(c.rope_theta);
  cb.add_rope_scaling(rope);
  cb.add_max_position_embeddings(c.max_position);
  cb.add_bos_token_id(0);
  cb.add_eos_token_ids(eos);
  return cb.Finish();
}

std::string tiny_path(const std::string& name) {
  // Per process: ctest runs test cases of this binary in parallel processes.
  const std::filesystem::path dir =
      std::filesystem::path(MOTE_TEST_TMP) / ("runtime." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void write_tiny_model(const std::string& path, const TinyConfig& c, const TensorEdit& edit) {
  Rng rng(c.seed);
  convert::MoteWriter writer(path);
  std::vector<std::vector<uint8_t>> bytes;  // per planned tensor, in writer order
  // Experts of one (layer, id) share a segment; every other tensor gets its own.
  std::vector<convert::PlannedExpert> experts;
  for (Spec& s : all_specs(c)) {
    s.t.type = s.t.shape.size() == 1 ? WeightType::F32 : c.type;
    if (edit && !edit(s.t)) continue;
    const std::vector<float> v = values(s, c, rng);
    const int64_t cols = int64_t(s.t.shape.back()), rows = int64_t(v.size()) / cols;
    std::vector<uint8_t> b(static_cast<size_t>(rows) * weight_row_bytes(s.t.type, cols));
    for (int64_t r = 0; r < rows; ++r)
      quantize_row(s.t.type, v.data() + r * cols, cols, b.data() + r * weight_row_bytes(s.t.type, cols));
    const bool expert = s.t.expert >= 0;
    const bool new_expert = expert && (experts.empty() || experts.back().layer != uint32_t(s.t.layer) ||
                                       experts.back().expert != uint32_t(s.t.expert));
    uint32_t segment = (expert && !new_expert) ? experts.back().segment : writer.add_segment();
    const fb::TensorRole role = s.t.role;
    const uint32_t index = writer.add_tensor(segment, s.t);
    if (new_expert) experts.push_back({uint32_t(s.t.layer), uint32_t(s.t.expert), segment, 0, 0, 0});
    if (expert) {
      auto& e = experts.back();
      (role == Role::ExpertGate ? e.gate : role == Role::ExpertUp ? e.up : e.down) = index;
    }
    bytes.push_back(std::move(b));
  }
  for (const auto& e : experts) writer.add_expert(e);
  writer.begin([&](flatbuffers::FlatBufferBuilder& b) { return build_tiny_config(b, c); },
               convert::ProvenanceInfo{"tiny", "F32", weight_type_name(c.type)}, c.mtp_layers > 0);
  for (uint32_t i = 0; i < bytes.size(); ++i) writer.write_tensor_bytes(i, bytes[i].data(), bytes[i].size());
  writer.finish();
}

}  // namespace mote::test
