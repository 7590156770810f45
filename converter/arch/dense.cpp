// Dense Llama and Qwen2 (the DeepSeek-R1 distills): self_attn.{q,k,v,o}_proj (Qwen2 with q/k/v
// biases) and one mlp.{gate,up,down}_proj per layer, no router and no experts.
#include "arch/gqa.h"

namespace mote::convert {

ExpectedModel dense_expected_tensors(const HfConfig& config) {
  // The MoE names are never used: config.is_moe_layer() is false for every layer.
  static constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj"};
  return gqa_expected_tensors(config, kNames);
}

}  // namespace mote::convert
