// Qwen2-MoE and Qwen3-MoE: mlp.gate, mlp.experts.E.{gate,up,down}_proj.
// Config-driven differences: Qwen2-MoE has q/k/v biases and mlp.shared_expert(+_gate); Qwen3-MoE
// has per-head q_norm/k_norm [head_dim].
#include "arch/gqa.h"

namespace mote::convert {

ExpectedModel qwen_moe_expected_tensors(const HfConfig& config) {
  static constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj"};
  return gqa_expected_tensors(config, kNames);
}

}  // namespace mote::convert
