// The shared tensor mapping of the grouped-query-attention families (Mixtral, Qwen2-MoE, Qwen3-MoE,
// OLMoE, named as in transformers' modeling files; and the dense Llama / Qwen2). They share the
// decoder layout
//   input_layernorm, self_attn.{q,k,v,o}_proj (+ q/k/v biases, + q_norm/k_norm),
//   post_attention_layernorm, <moe>.gate (router), <moe>.experts.E.{gate,up,down}
//   (dense: mlp.{gate,up,down}_proj)
// and differ in a few names (GqaNaming, one per family in arch/<family>.cpp) and in
// config-driven parts (biases, q/k norm width, the Qwen2-MoE shared expert and its gate).
// gpt-oss adds o_proj.bias, per-head sinks, a router bias, and fused MXFP4 experts: each expert's
// gate / up / down (and biases) are listed as slices of the fused tensors (SourceSlice).
// Routed experts are listed per expert, exactly like DeepSeek's, so each becomes one segment.
#pragma once

#include "arch/expected.h"

namespace mote::convert {

// Hugging Face names that differ between the families.
struct GqaNaming {
  const char* moe;          // prefix of the sparse block inside a layer: "mlp." or "block_sparse_moe."
  const char* expert_gate;  // per-expert projection names: "gate_proj" / "w1"
  const char* expert_up;    // "up_proj" / "w3"
  const char* expert_down;  // "down_proj" / "w2"
  const char* router = "gate";  // the router inside <moe>: "gate" (gpt-oss: "router", with a bias)
};

// Every tensor of a GQA MoE model described by `config` (no MTP).
ExpectedModel gqa_expected_tensors(const HfConfig& config, const GqaNaming& naming);

// The families (arch/mixtral.cpp, arch/qwen_moe.cpp, arch/olmoe.cpp, arch/dense.cpp).
ExpectedModel mixtral_expected_tensors(const HfConfig& config);
ExpectedModel qwen_moe_expected_tensors(const HfConfig& config);  // qwen2_moe and qwen3_moe
ExpectedModel olmoe_expected_tensors(const HfConfig& config);
ExpectedModel dense_expected_tensors(const HfConfig& config);     // llama and qwen2
ExpectedModel gpt_oss_expected_tensors(const HfConfig& config);   // arch/gpt_oss.cpp

}  // namespace mote::convert
