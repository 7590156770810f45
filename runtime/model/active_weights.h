// The weights one decoded token touches, for a memory roofline (mote_model_info's per-token
// figures; `mote bench` divides them by the measured memory bandwidth).
#pragma once

#include "model/model.h"

namespace mote {

// Per decoded token, over the main layers (the MTP module is not part of plain decoding).
// Bytes are the tensors' stored (quantised) sizes; MACs count one multiply-add per element of a
// 2-D weight (a matrix-vector product), so FLOPs = 2 * MACs.
struct ActiveWeights {
  // Every weight each token uses: attention, dense and shared FFNs, router, norms, lm_head, and
  // one embedding row (bytes only: a lookup, no multiply-adds).
  double dense_bytes = 0, dense_macs = 0;
  // One routed expert (gate + up + down), averaged over the experts of the main layers; 0 when
  // the model has none. A token uses n_experts_per_tok of them per MoE layer.
  double expert_bytes = 0, expert_macs = 0;
};

ActiveWeights active_weights(const Model& model);

}  // namespace mote
