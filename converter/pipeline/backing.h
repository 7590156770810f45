// Config counts checked against the checkpoint before planning. The plan (expected tensor list,
// writer tables) grows with num_hidden_layers x n_routed_experts, so a config.json that declares
// counts the checkpoint does not hold (2^24 experts against a 2-layer checkpoint) must fail here,
// in memory proportional to the checkpoint's tensor count, not to the numbers in the config:
// every layer the plan will list must have tensors, and every MoE layer at least one routed-expert
// tensor per expert (or fused [E, ...] tensors of E >= the count, gpt-oss). One, not three: this
// bounds memory only; a partly missing expert is left to the precise "missing tensor" error.
#pragma once

#include <cstdint>
#include <algorithm>
#include <map>
#include <string>

#include "hf/checkpoint.h"
#include "hf/config.h"

namespace mote::convert {

// What the tensors named "model.layers.N.*" hold, per layer index N.
struct LayerExtent {
  uint64_t expert_tensors = 0;  // "*.experts.E.*" tensors (gate/up/down, scales, biases)
  uint64_t fused_experts = 0;   // the largest leading dimension of a fused "*.experts.<name>"
  uint64_t backed_experts() const { return std::max(expert_tensors, fused_experts); }
};
struct CheckpointExtent {
  std::map<uint64_t, LayerExtent> layers;  // at most one entry per checkpoint tensor
};
CheckpointExtent checkpoint_extent(const Checkpoint& ck);

// Throws ConvertError naming `config_path` and the field when a layer below num_hidden_layers has
// no tensor, or an MoE layer has fewer routed-expert tensors than the expert count.
void check_backed(const HfConfig& cfg, const CheckpointExtent& extent, const std::string& config_path);

// The MTP layers to plan: 0 when the checkpoint has no layer num_hidden_layers (a note is the
// caller's), else the config's count, each of those layers checked as above; throws naming
// num_nextn_predict_layers when the checkpoint has some but not all.
uint32_t backed_mtp_layers(const HfConfig& cfg, const CheckpointExtent& extent, const std::string& config_path);

}  // namespace mote::convert
