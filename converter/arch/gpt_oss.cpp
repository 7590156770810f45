// gpt-oss (transformers' GptOssConfig; openai/gpt-oss): model_type "gpt_oss".
// Config: num_local_experts, the per-expert width is intermediate_size, head_dim 64 by default
// (not hidden / heads), softmax over the selected biased logits, biases on every projection, the
// clamped SwiGLU (swiglu_limit; alpha 1.702 only), a per-layer sliding window from layer_types
// (default: even layers sliding), YaRN with truncate = false; hidden and expert widths multiples
// of 32 (MXFP4 blocks).
// Tensors: mlp.router (+ bias), self_attn.{o_proj.bias, sinks}, and the fused MXFP4 experts
// mlp.experts.{gate_up,down}_proj_{blocks,scales,bias}, split per expert by the shared GQA
// mapping (gqa.cpp, fused_mxfp4_experts) so each expert is still one segment.
#include <cmath>
#include <string>

#include "arch/family.h"
#include "arch/gqa.h"

namespace mote::convert {
namespace {

using detail::Fields;
using detail::json;

void parse_gpt_oss_keys(const Fields& f, HfConfig& c) {
  c.scoring_func = fb::ScoringFunc::SoftmaxTopk;
  c.norm_topk_prob = false;
  c.attention_bias = f.boolean("attention_bias", true);
  if (!c.attention_bias) f.bad("attention_bias", "is false: gpt-oss without attention biases is not supported");
  c.swiglu_limit = f.f32("swiglu_limit", 7.0f);
  if (!(c.swiglu_limit > 0.0f) || !std::isfinite(c.swiglu_limit)) f.bad("swiglu_limit", "must be positive");
  // transformers 5 writes swiglu_alpha; the runtime's clamped SwiGLU has alpha 1.702 built in.
  if (const float alpha = f.f32("swiglu_alpha", 1.702f); alpha != 1.702f)
    f.bad("swiglu_alpha", "is " + std::to_string(alpha) + ": only gpt-oss's 1.702 is supported");
  c.sliding_window = f.u32("sliding_window", 128, true);
  detail::check_bounds(f, {{"num_hidden_layers", c.num_hidden_layers, detail::kMaxLayers}});  // before the list
  c.layer_sliding.assign(c.num_hidden_layers, 0);
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) c.layer_sliding[l] = l % 2 == 0;
  const json* types = f.get("layer_types");
  if (types != nullptr && !types->is_null()) {
    if (!types->is_array() || types->size() != c.num_hidden_layers)
      f.bad("layer_types", "must be a list of num_hidden_layers (" + std::to_string(c.num_hidden_layers) + ") entries");
    for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
      const json& t = (*types)[l];
      if (t == "sliding_attention") c.layer_sliding[l] = 1;
      else if (t == "full_attention") c.layer_sliding[l] = 0;
      else f.bad("layer_types", "entry " + std::to_string(l) + " is " + t.dump() + " (expected sliding_attention or full_attention)");
    }
  }
  // MXFP4 experts: whole 32-blocks along both input widths (hidden, intermediate).
  if (c.hidden_size % 32 != 0 || c.moe_intermediate_size % 32 != 0)
    f.bad("hidden_size", "and intermediate_size must be multiples of 32 (MXFP4 blocks) for gpt_oss");
}

constexpr detail::GqaFamilyTraits kTraits{
    .defaults = {201088, 2880, 36, 64, 8, 128, 4, 2880, 0, 0, 150000.0f, 1e-5f, 131072, -1, 200002},
    .local_experts_key = true,
    .default_head_dim = 64,
    .yarn_untruncated = true,
    .parse_keys = parse_gpt_oss_keys,
};

constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj", "router", nullptr, true};

}  // namespace

extern const ConverterFamily kGptOssConverter = {
    .architecture = fb::Architecture::GptOss,
    .model_type = "gpt_oss",
    .gqa = true,
    .dense = false,
    .fused_experts = true,
    .parse_config = [](const json& root, const Fields& f, HfConfig& c) { detail::parse_gqa_config(root, f, c, kTraits); },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kNames); },
};

}  // namespace mote::convert
