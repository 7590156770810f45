#include "model/active_weights.h"

namespace mote {

ActiveWeights active_weights(const Model& model) {
  const HParams& hp = model.hparams();
  ActiveWeights a;
  double expert_bytes = 0, expert_macs = 0, experts = 0;
  for (const fb::Tensor* t : *model.file().model().tensors()) {
    if (t->layer() >= hp.n_layers) continue;  // MTP layers are not part of plain decoding
    double elements = 1;
    for (uint64_t d : *t->shape()) elements *= double(d);
    const double bytes = double(t->size());
    if (t->tensor_class() == fb::TensorClass::RoutedExpert) {
      expert_bytes += bytes, expert_macs += elements;
      if (t->role() == fb::TensorRole::ExpertGate) experts += 1;  // one gate per expert
    } else if (t->tensor_class() == fb::TensorClass::Embedding) {
      const double rows = double(t->shape()->Get(0));
      a.dense_bytes += bytes / rows;  // one row per token, no multiply-adds
    } else {
      a.dense_bytes += bytes;
      if (t->shape()->size() == 2) a.dense_macs += elements;
    }
  }
  if (experts > 0) a.expert_bytes = expert_bytes / experts, a.expert_macs = expert_macs / experts;
  return a;
}

}  // namespace mote
