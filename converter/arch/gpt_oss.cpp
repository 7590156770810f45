// gpt-oss: mlp.router (+ bias), self_attn.{o_proj.bias, sinks}, and the fused
// MXFP4 experts mlp.experts.{gate_up,down}_proj_{blocks,scales,bias}, split per expert by the
// shared GQA mapping (gqa.cpp, fused_mxfp4_experts) so each expert is still one segment.
#include "arch/gqa.h"

namespace mote::convert {

ExpectedModel gpt_oss_expected_tensors(const HfConfig& config) {
  static constexpr GqaNaming kNames{"mlp.", "gate_proj", "up_proj", "down_proj", "router"};
  return gqa_expected_tensors(config, kNames);
}

}  // namespace mote::convert
