#include "model/device_weights.h"

namespace mote {
namespace {

// Places views and f32 vectors in place; remembers the first error.
class Placer {
 public:
  explicit Placer(backend::Backend& b) : b_(b) {}
  void view(WeightView& v) {
    if (v.empty() || !status_) return;
    auto placed = b_.place_weight(v);
    if (placed) v = *placed;
    else status_ = placed.status();
  }
  void floats(const float*& p, int64_t n) {
    if (p == nullptr || !status_) return;
    auto placed = b_.place_floats(p, n);
    if (placed) p = *placed;
    else status_ = placed.status();
  }
  void expert(ExpertWeights& e, int64_t width, int64_t hidden) {
    view(e.gate), view(e.up), view(e.down);
    floats(e.gate_bias, width), floats(e.up_bias, width), floats(e.down_bias, hidden);
  }
  const Status& status() const { return status_; }

 private:
  backend::Backend& b_;
  Status status_ = Status::ok();
};

void place_layer(Placer& p, const HParams& hp, LayerWeights& lw) {
  const int64_t H = hp.hidden_size, q = hp.n_heads * hp.head_dim, kv = hp.n_kv_heads * hp.head_dim;
  AttentionWeights& a = lw.attn;
  p.floats(a.norm, H);
  p.view(a.q_a), p.view(a.q_b), p.view(a.q), p.view(a.kv_a), p.view(a.kv_b), p.view(a.o), p.view(a.k), p.view(a.v);
  p.floats(a.q_a_norm, hp.q_lora_rank);
  p.floats(a.kv_a_norm, hp.kv_lora_rank);
  const bool per_head = hp.qk_norm == QkNorm::kPerHead;
  p.floats(a.q_norm, per_head ? hp.head_dim : q);
  p.floats(a.k_norm, per_head ? hp.head_dim : kv);
  p.floats(a.q_bias, q), p.floats(a.k_bias, kv), p.floats(a.v_bias, kv);
  p.floats(a.o_bias, H);
  p.floats(a.sinks, hp.n_heads);
  FfnWeights& f = lw.ffn;
  p.floats(f.norm, H);
  p.expert(f.dense, f.dense.gate.rows, H);
  p.view(f.router);
  p.floats(f.router_bias, hp.n_routed_experts);
  p.expert(f.shared, f.shared.gate.rows, H);
  p.expert(f.gated_shared, f.gated_shared.gate.rows, H);
  p.view(f.shared_gate);
  f.experts.clear();  // staged per group from the ExpertStore
}

}  // namespace

Result<ModelWeights> place_weights(backend::Backend& b, const HParams& hp, const ModelWeights& host) {
  ModelWeights d;
  d.embedding = host.embedding;
  d.output_norm = host.output_norm;
  d.output = host.output;
  d.layers = host.layers;
  d.mtp = host.mtp;
  Placer p(b);
  const int64_t H = hp.hidden_size;
  p.view(d.embedding);
  p.floats(d.output_norm, H);
  p.view(d.output);
  for (LayerWeights& lw : d.layers) place_layer(p, hp, lw);
  for (MtpWeights& m : d.mtp) {
    p.view(m.embedding), p.view(m.eh_proj), p.view(m.head);
    p.floats(m.enorm, H), p.floats(m.hnorm, H), p.floats(m.head_norm, H);
    place_layer(p, hp, m.block);
  }
  if (!p.status()) return p.status();
  return d;
}

}  // namespace mote
