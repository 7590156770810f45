// Mixtral: block_sparse_moe.gate, experts.E.{w1 = gate, w3 = up, w2 = down}.
#include "arch/gqa.h"

namespace mote::convert {

ExpectedModel mixtral_expected_tensors(const HfConfig& config) {
  static constexpr GqaNaming kNames{"block_sparse_moe.", "w1", "w3", "w2"};
  return gqa_expected_tensors(config, kNames);
}

}  // namespace mote::convert
