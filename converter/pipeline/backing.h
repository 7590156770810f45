// Config counts checked against the checkpoint before planning. The plan (expected tensor list,
// writer tables) grows with num_hidden_layers x n_routed_experts, so a config.json that declares
// counts the checkpoint does not hold (2^24 experts against a 2-layer checkpoint) must fail here,
// in memory proportional to the checkpoint's tensor count, not to the numbers in the config.
#pragma once

#include <cstdint>
#include <string>

#include "hf/checkpoint.h"
#include "hf/config.h"

namespace mote::convert {

// What the checkpoint's tensor names back: 1 + the highest layer index N of
// "model.layers.N.*" (MTP layers included), and 1 + the highest routed-expert index of
// "*.experts.E.*" (or the leading dimension of a fused "*.experts.<name>" tensor, gpt-oss).
struct CheckpointExtent {
  uint64_t layers = 0;
  uint64_t experts = 0;
};
CheckpointExtent checkpoint_extent(const Checkpoint& ck);

// Throws ConvertError naming `config_path` and the field when num_hidden_layers or the expert
// count exceeds what `extent` backs.
void check_backed(const HfConfig& cfg, const CheckpointExtent& extent, const std::string& config_path);

// The MTP layers to plan: 0 when the checkpoint has none (a note is the caller's), the config's
// count when the checkpoint has that many; throws naming num_nextn_predict_layers when it has
// some but fewer.
uint32_t backed_mtp_layers(const HfConfig& cfg, const CheckpointExtent& extent, const std::string& config_path);

}  // namespace mote::convert
