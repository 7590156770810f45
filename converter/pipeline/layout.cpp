#include "pipeline/layout.h"

#include "kernels/quant.h"

namespace mote::convert {

bool matmul_only_role(fb::TensorRole role) {
  using R = fb::TensorRole;
  switch (role) {
    case R::Output:
    case R::AttnQA:
    case R::AttnQB:
    case R::AttnQ:
    case R::AttnKvA:
    case R::AttnOut:
    case R::AttnK:
    case R::AttnV:
    case R::FfnGate:
    case R::FfnUp:
    case R::FfnDown:
    case R::Router:
    case R::SharedGate:
    case R::SharedUp:
    case R::SharedDown:
    case R::SharedExpertGate:
    case R::ExpertGate:
    case R::ExpertUp:
    case R::ExpertDown:
    case R::MtpEhProj:
    case R::MtpHead:
      return true;
    default:  // embeddings, AttnKvB (sliced per head), norms, biases, sinks
      return false;
  }
}

int row_group_for(fb::TensorRole role, WeightType type, const std::vector<uint64_t>& shape, bool row_major) {
  if (row_major || !matmul_only_role(role) || !row_group_type(type) || shape.size() != 2) return 1;
  return shape[0] % kRowGroup == 0 ? kRowGroup : 1;
}

}  // namespace mote::convert
