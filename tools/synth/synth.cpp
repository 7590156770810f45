#include "synth.h"

#include <algorithm>
#include <cmath>

#include "arch/expected.h"
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
  uint32_t heads = 1;  // attention heads (--route-locality)

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

// gpt-oss: the fused tensors a layer's expert slices come from, planned once (from expert 0's
// slices that start at row 0): *_blocks [E, R, nb, 16] and *_scales [E, R, nb] as U8, *_bias
// [E, N] in the checkpoint dtype.
void plan_fused(Planner& p, const convert::ExpectedTensor& e, uint64_t n_experts) {
  using K = convert::SourceSlice::Kind;
  const convert::SourceSlice& s = e.slice;
  if (s.expert != 0 || s.row0 != 0) return;
  const uint64_t n = e.shape[0] * s.row_step;  // rows (or entries) per expert
  if (s.kind == K::kBiasRows) return p.add(s.tensor, {n_experts, n}, Init::Bias, p.opt.dtype);
  const uint64_t nb = e.shape[1] / 32;
  p.add(s.tensor, {n_experts, n, nb, 16}, Init::Mxfp4Codes, Dtype::U8);
  const std::string scales = s.tensor.substr(0, s.tensor.size() - 7) + "_scales";  // "_blocks" -> "_scales"
  p.add(scales, {n_experts, n, nb}, Init::Mxfp4Scale, Dtype::U8);
  p.out.back().values.std = 1.0f / std::sqrt(float(e.shape[1]));
}

// --route-skew: marks the constant channel's tensors (values.h Skew) on the tensor just planned.
void mark_skew(Planner& p, const convert::ExpectedTensor& e) {
  if (p.opt.route_skew <= 0 || p.out.empty() || p.out.back().name != e.name) return;
  using R = fb::TensorRole;
  ValueSpec& v = p.out.back().values;
  switch (e.role) {
    case R::TokenEmbedding:
    case R::MtpEmbedding: v.skew = Skew::ConstCol0; break;
    case R::AttnOut:
    case R::FfnDown:
    case R::SharedDown:
    case R::ExpertDown:
    case R::AttnOutBias:
    case R::ExpertDownBias: v.skew = e.shape.size() == 2 ? Skew::ZeroRow0 : Skew::ZeroCol0; break;  // [H]: entry 0
    case R::AttnQ:
    case R::AttnQA:
    case R::AttnKvA:
    case R::AttnK:
    case R::AttnV:
    case R::FfnGate:
    case R::FfnUp:
    case R::SharedGate:
    case R::SharedUp:
    case R::ExpertGate:
    case R::ExpertUp:
    case R::SharedExpertGate:
    case R::Output:
    case R::MtpHead:
      if (e.shape.size() == 2) v.skew = Skew::ZeroCol0;
      break;
    case R::MtpEhProj: v.skew = Skew::EhProj; break;
    case R::Router:
      if (e.shape.size() != 2) break;
      v.skew = Skew::RouterCol0;
      v.skew_s = p.opt.route_skew;
      v.rows = e.shape[0];
      break;
    default: break;
  }
}

// --route-locality: head 0's query rows zero, its o_proj columns scaled (values.h ValueSpec).
void mark_locality(Planner& p, const convert::ExpectedTensor& e) {
  // Layer 0 only: the residual stream then carries one slowly varying component to every later
  // router, the same size at every depth (in every layer it would add up, layer after layer).
  if (p.opt.route_locality <= 0 || p.out.empty() || p.out.back().name != e.name || e.shape.size() != 2 ||
      e.layer != 0)
    return;
  ValueSpec& v = p.out.back().values;
  const uint64_t nh = std::max<uint32_t>(1, p.heads);
  if (e.role == fb::TensorRole::AttnQ || e.role == fb::TensorRole::AttnQB) v.zero_rows = e.shape[0] / nh;
  if (e.role == fb::TensorRole::AttnOut) {
    v.gain_cols = e.shape[1] / nh;
    v.gain = p.opt.route_locality;
  }
}

void plan_tensor_values(Planner& p, const convert::ExpectedTensor& e);

void plan_tensor(Planner& p, const convert::ExpectedTensor& e) {
  plan_tensor_values(p, e);
  mark_skew(p, e);
  mark_locality(p, e);
}

void plan_tensor_values(Planner& p, const convert::ExpectedTensor& e) {
  using C = fb::TensorClass;
  switch (e.tensor_class) {
    case C::Norm: return p.add(e.name, e.shape, Init::Norm, p.opt.dtype);
    case C::Embedding: return p.add(e.name, e.shape, Init::Embedding, p.opt.dtype);
    case C::Router:
      if (e.shape.size() == 1) return p.add(e.name, e.shape, Init::Bias, Dtype::F32);  // F32 as shipped
      return p.add(e.name, e.shape, Init::Linear, p.opt.dtype);
    case C::Output: return p.add(e.name, e.shape, Init::Linear, p.opt.dtype);
    default:
      if (e.shape.size() == 1) return p.add(e.name, e.shape, Init::Bias, p.opt.dtype);  // q/k/v biases
      // attention, dense FFN, shared and routed experts: FP8 in V3 except eh_proj (BF16)
      return p.linear(e.name, e.shape, e.role != fb::TensorRole::MtpEhProj);
  }
}

// Every family the converter supports: the names and shapes are the converter's own mapping
// (converter/arch/), MTP layers included. lm_head is left out when the embeddings are tied.
void plan_from_mapping(Planner& p, const json& config) {
  convert::HfConfig c;
  try {
    c = convert::parse_config(config.dump(), p.opt.config_path);
  } catch (const convert::ConvertError& e) {
    throw SynthError(std::string("bad config: ") + e.what());
  }
  const convert::ExpectedModel m = convert::expected_tensors(c, true);
  if ((p.opt.route_skew > 0 || p.opt.route_locality > 0) && c.model_type == "gpt_oss")
    throw SynthError("--route-skew / --route-locality are not supported for gpt_oss (MXFP4 experts, attention sinks)");
  p.heads = c.num_attention_heads;
  for (const auto& t : m.globals)
    if (!(c.tie_word_embeddings && t.role == fb::TensorRole::Output)) plan_tensor(p, t);
  for (const auto& layer : m.layers) {
    for (const auto& t : layer.tensors) plan_tensor(p, t);
    for (const auto& ex : layer.experts)
      for (const auto& t : ex)
        if (t.slice.kind == convert::SourceSlice::Kind::kNone) plan_tensor(p, t);
        else plan_fused(p, t, c.n_routed_experts);
    for (const auto& extras : layer.expert_extras)
      for (const auto& t : extras) plan_fused(p, t, c.n_routed_experts);
  }
}

}  // namespace

std::vector<PlannedTensor> plan_tensors(const json& config, const Options& opt) {
  Planner p{opt, {}, 1};
  plan_from_mapping(p, config);
  return p.out;
}

}  // namespace mote::synth
