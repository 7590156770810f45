// The shared tensor mapping of the grouped-query-attention families (Mixtral, Qwen2-MoE, Qwen3-MoE,
// OLMoE, named as in transformers' modeling files; and the dense Llama / Qwen2). They share the
// decoder layout
//   input_layernorm, self_attn.{q,k,v,o}_proj (+ q/k/v biases, + q_norm/k_norm),
//   post_attention_layernorm, <moe>.gate (router), <moe>.experts.E.{gate,up,down}
//   (dense: mlp.{gate,up,down}_proj)
// and differ in a few names and optional tensor sets (GqaNaming, one per family in
// arch/<family>.cpp) and in config-driven parts (biases, q/k norm width).
// gpt-oss adds o_proj.bias, per-head sinks, a router bias, and fused MXFP4 experts: each expert's
// gate / up / down (and biases) are listed as slices of the fused tensors (SourceSlice).
// Routed experts are listed per expert, exactly like DeepSeek's, so each becomes one segment.
#pragma once

#include "arch/expected.h"

namespace mote::convert {

// Hugging Face names and tensor-set options that differ between the families.
struct GqaNaming {
  const char* moe;          // prefix of the sparse block inside a layer: "mlp." or "block_sparse_moe."
  const char* expert_gate;  // per-expert projection names: "gate_proj" / "w1"
  const char* expert_up;    // "up_proj" / "w3"
  const char* expert_down;  // "down_proj" / "w2"
  const char* router = "gate";  // the router inside <moe>: "gate" (gpt-oss: "router", with a bias)
  // Qwen2-MoE: "mlp.shared_expert" ({gate,up,down}_proj, with "<shared_expert>_gate" [1, H]),
  // listed when shared_expert_intermediate_size > 0; null: no shared expert.
  const char* shared_expert = nullptr;
  // gpt-oss: self_attn.o_proj.bias and self_attn.sinks, <moe><router>.bias, and the fused MXFP4
  // experts (gate_up_proj / down_proj _blocks, _scales, _bias) split per expert.
  bool gpt_oss_extras = false;
};

// Every tensor of a GQA model described by `config` (no MTP): MoE or dense per config.is_moe_layer.
ExpectedModel gqa_expected_tensors(const HfConfig& config, const GqaNaming& naming);

}  // namespace mote::convert
