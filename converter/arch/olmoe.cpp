// OLMoE: mlp.gate, mlp.experts.E.{gate,up,down}_proj, and q_norm / k_norm over
// the whole projection ([n_heads*head_dim] / [n_kv_heads*head_dim]).
#include "arch/gqa.h"

namespace mote::convert {

ExpectedModel olmoe_expected_tensors(const HfConfig& config) {
  static constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj"};
  return gqa_expected_tensors(config, kNames);
}

}  // namespace mote::convert
