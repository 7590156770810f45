#include "synth.h"

#include <cmath>

#include "arch/deepseek.h"
#include "hf/config.h"
#include "hf/error.h"

namespace mote::synth {

using nlohmann::json;

uint64_t PlannedTensor::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

namespace {

constexpr uint64_t kFp8Block = 128;

struct Planner {
  const Options& opt;
  std::vector<PlannedTensor> out;

  void add(const std::string& name, std::vector<uint64_t> shape, Init init, Dtype dt) {
    PlannedTensor t{name, std::move(shape), dt, {}};
    t.values.key = tensor_key(opt.seed, name);
    t.values.init = init;
    t.values.cols = t.shape.back();
    if (init == Init::Linear) t.values.std = 1.0f / std::sqrt(float(t.shape.back()));
    out.push_back(std::move(t));
  }
  // A linear weight [out, in]; FP8 (plus its [ceil(out/128), ceil(in/128)] F32 scales) if asked.
  void linear(const std::string& name, std::vector<uint64_t> shape, bool quantizable) {
    if (!(opt.fp8 && quantizable)) return add(name, std::move(shape), Init::Linear, opt.dtype);
    const uint64_t sr = (shape[0] + kFp8Block - 1) / kFp8Block, sc = (shape[1] + kFp8Block - 1) / kFp8Block;
    add(name, shape, Init::Fp8Weight, Dtype::F8_E4M3);
    PlannedTensor& w = out.back();
    w.values.std = 1.0f / std::sqrt(float(shape[1]));
    w.values.scale_cols = sc;
    const ValueSpec wv = w.values;
    add(name + "_scale_inv", {sr, sc}, Init::Fp8Scale, Dtype::F32);
    ValueSpec& s = out.back().values;
    s.key = wv.key;  // scales are derived from the weight's key
    s.std = wv.std;
    s.scale_cols = sc;
  }
};

void plan_deepseek_tensor(Planner& p, const convert::ExpectedTensor& e) {
  using C = fb::TensorClass;
  switch (e.tensor_class) {
    case C::Norm: return p.add(e.name, e.shape, Init::Norm, p.opt.dtype);
    case C::Embedding: return p.add(e.name, e.shape, Init::Embedding, p.opt.dtype);
    case C::Router:
      if (e.shape.size() == 1) return p.add(e.name, e.shape, Init::Bias, Dtype::F32);  // F32 as shipped
      return p.add(e.name, e.shape, Init::Linear, p.opt.dtype);
    case C::Output: return p.add(e.name, e.shape, Init::Linear, p.opt.dtype);
    default:  // attention, dense FFN, shared and routed experts: FP8 in V3 except eh_proj (§2.2)
      return p.linear(e.name, e.shape, e.role != fb::TensorRole::MtpEhProj);
  }
}

void plan_deepseek(Planner& p, const json& config) {
  convert::HfConfig c;
  try {
    c = convert::parse_config(config.dump(), p.opt.config_path);
  } catch (const convert::ConvertError& e) {
    throw SynthError(std::string("bad config: ") + e.what());
  }
  const convert::ExpectedModel m = convert::deepseek_expected_tensors(c, true);
  for (const auto& t : m.globals) plan_deepseek_tensor(p, t);
  for (const auto& layer : m.layers) {
    for (const auto& t : layer.tensors) plan_deepseek_tensor(p, t);
    for (const auto& ex : layer.experts)
      for (const auto& t : ex) plan_deepseek_tensor(p, t);
  }
}

uint64_t require_dim(const json& c, const char* key, const std::string& path) {
  if (!c.contains(key) || !c[key].is_number_integer() || c[key].get<int64_t>() <= 0)
    throw SynthError("bad config " + path + ": " + key + " must be a positive integer");
  return c[key].get<uint64_t>();
}

// OLMoE (model-specs §7.2): standard attention with q/k norms over the full projection width.
void plan_olmoe(Planner& p, const json& c) {
  const std::string& path = p.opt.config_path;
  const uint64_t H = require_dim(c, "hidden_size", path), I = require_dim(c, "intermediate_size", path);
  const uint64_t L = require_dim(c, "num_hidden_layers", path), nh = require_dim(c, "num_attention_heads", path);
  const uint64_t E = require_dim(c, "num_experts", path), V = require_dim(c, "vocab_size", path);
  const uint64_t nkv = c.contains("num_key_value_heads") && !c["num_key_value_heads"].is_null()
                           ? require_dim(c, "num_key_value_heads", path) : nh;
  if (H % nh != 0) throw SynthError("bad config " + path + ": hidden_size not divisible by num_attention_heads");
  const uint64_t hd = H / nh;
  p.add("model.embed_tokens.weight", {V, H}, Init::Embedding, p.opt.dtype);
  for (uint64_t l = 0; l < L; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    p.add(pre + "input_layernorm.weight", {H}, Init::Norm, p.opt.dtype);
    p.linear(pre + "self_attn.q_proj.weight", {nh * hd, H}, true);
    p.linear(pre + "self_attn.k_proj.weight", {nkv * hd, H}, true);
    p.linear(pre + "self_attn.v_proj.weight", {nkv * hd, H}, true);
    p.linear(pre + "self_attn.o_proj.weight", {H, nh * hd}, true);
    p.add(pre + "self_attn.q_norm.weight", {nh * hd}, Init::Norm, p.opt.dtype);
    p.add(pre + "self_attn.k_norm.weight", {nkv * hd}, Init::Norm, p.opt.dtype);
    p.add(pre + "post_attention_layernorm.weight", {H}, Init::Norm, p.opt.dtype);
    p.add(pre + "mlp.gate.weight", {E, H}, Init::Linear, p.opt.dtype);
    for (uint64_t e = 0; e < E; ++e) {
      const std::string ep = pre + "mlp.experts." + std::to_string(e) + ".";
      p.linear(ep + "gate_proj.weight", {I, H}, true);
      p.linear(ep + "up_proj.weight", {I, H}, true);
      p.linear(ep + "down_proj.weight", {H, I}, true);
    }
  }
  p.add("model.norm.weight", {H}, Init::Norm, p.opt.dtype);
  if (!c.value("tie_word_embeddings", false)) p.add("lm_head.weight", {V, H}, Init::Linear, p.opt.dtype);
}

}  // namespace

std::vector<PlannedTensor> plan_tensors(const json& config, const Options& opt) {
  Planner p{opt, {}};
  const std::string type = config.value("model_type", std::string());
  if (type == "deepseek_v3" || type == "deepseek_v2") plan_deepseek(p, config);
  else if (type == "olmoe") plan_olmoe(p, config);
  else
    throw SynthError("bad config " + opt.config_path + ": unsupported model_type '" + type +
                     "' (supported: deepseek_v3, deepseek_v2, olmoe)");
  return p.out;
}

}  // namespace mote::synth
