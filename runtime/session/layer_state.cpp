// Per-layer state plans and rewind rules (session/layer_state.h).
//
// Ring rewind, derived. Row p % R holds the latest position written with that residue. The
// current rows form one range floor .. position - 1: a forward of T tokens from P writes P ..
// P + T - 1, which overwrites the rows of P - R .. P + T - 1 - R (the oldest current ones, or
// abandoned positions >= P), so floor' = max(floor, P + T - R); a rewind to `to` abandons the
// positions from `to` on and makes no older row current, so floor' = min(floor, to). Rewinding
// to `to` makes the next forward start at position `to`; it first writes rows for its own tokens
// (to .. to + T - 1; with R >= w + T - 1 they overwrite only rows older than any key its tokens
// need) and then its first token reads keys max(0, to - w + 1) .. to, where `to` is its own
// fresh row. So the cache must still hold max(0, to - w + 1) .. to - 1: that range is empty
// (to == 0 or w == 1) or starts at or after floor. Later tokens of the batch need only later
// keys, which are either among those or written by the batch.
#include "session/layer_state.h"

#include <algorithm>
#include <string>

namespace mote {
namespace {

int64_t align_up(int64_t n) { return (n + kLayerStateAlign - 1) / kLayerStateAlign * kLayerStateAlign; }

LayerStateDesc describe(const HParams& hp, int64_t layer, const LayerStateOptions& o) {
  LayerStateDesc d;
  d.layer = layer;
  d.type = o.type;
  if (!hp.is_gqa()) {
    d.kind = LayerStateKind::kMlaLatent;
    d.k_head_bytes = kv_piece_bytes(o.type, hp.kv_lora_rank + hp.qk_rope_head_dim);
    d.row_bytes = d.k_head_bytes;
    d.rows = o.max_context;
  } else {
    d.k_head_bytes = d.v_head_bytes = kv_piece_bytes(o.type, hp.head_dim);
    d.v_offset = hp.n_kv_heads * d.k_head_bytes;
    d.row_bytes = d.v_offset + hp.n_kv_heads * d.v_head_bytes;
    const int64_t window = hp.window_for(layer);
    const int64_t ring = window + o.max_batch - 1 + o.rewind_slack;
    if (o.rings && window > 0 && ring < o.max_context) {
      d.kind = LayerStateKind::kKvRing;
      d.window = window;
      d.rows = ring;
    } else {
      d.kind = LayerStateKind::kKv;  // full rows (a ring as long as the context is just that)
      d.rows = o.max_context;
    }
  }
  d.bytes = d.rows * d.row_bytes;
  return d;
}

}  // namespace

const char* layer_state_kind_name(LayerStateKind kind) {
  switch (kind) {
    case LayerStateKind::kMlaLatent: return "mla_latent";
    case LayerStateKind::kKv: return "kv";
    case LayerStateKind::kKvRing: return "kv_ring";
    case LayerStateKind::kRecurrent: return "recurrent";
  }
  return "?";
}

Result<LayerStatePlan> plan_layer_state(const HParams& hp, const LayerStateOptions& o) {
  if (o.max_context < 1 || o.max_batch < 1 || o.rewind_slack < 0)
    return invalid_argument("layer state: max_context " + std::to_string(o.max_context) + ", max_batch " +
                            std::to_string(o.max_batch) + ", rewind_slack " + std::to_string(o.rewind_slack) +
                            " (need >= 1, >= 1, >= 0)");
  if (hp.is_gqa() ? hp.head_dim < 1 || hp.n_kv_heads < 1 : hp.kv_lora_rank < 1)
    return invalid_argument("layer state: the model has no attention widths");
  LayerStatePlan plan;
  const int64_t n = hp.n_layers + (o.mtp ? hp.n_mtp_layers : 0);
  plan.layers.reserve(size_t(n));
  int64_t offset = 0;
  for (int64_t layer = 0; layer < n; ++layer) {
    LayerStateDesc d = describe(hp, layer, o);
    d.offset = offset;
    offset = align_up(offset + d.bytes);
    plan.layers.push_back(d);
  }
  plan.total_bytes = offset;
  return plan;
}

bool can_rewind(const LayerStateDesc& d, int64_t position, int64_t to, int64_t floor) {
  if (to < 0 || to > position) return false;
  if (to == position) return true;
  switch (d.kind) {
    case LayerStateKind::kMlaLatent:
    case LayerStateKind::kKv:
      return true;
    case LayerStateKind::kKvRing:
    {
      const int64_t lo = std::max<int64_t>(0, to - d.window + 1);  // first key read from the cache
      return lo >= to || lo >= floor;                               // none needed, or all still held
    }
    case LayerStateKind::kRecurrent:
      return false;
  }
  return false;
}

bool can_rewind(const LayerStateDesc& d, int64_t position, int64_t to) {
  const int64_t floor = d.kind == LayerStateKind::kKvRing ? std::max<int64_t>(0, position - d.rows) : 0;
  return can_rewind(d, position, to, floor);
}

RewindTracker::RewindTracker(const LayerStatePlan& plan) : floor_(plan.layers.size(), 0) {}

void RewindTracker::forwarded(const LayerStatePlan& plan, int64_t position, int64_t n_tokens) {
  for (size_t i = 0; i < floor_.size(); ++i)
    if (plan.layers[i].kind == LayerStateKind::kKvRing)
      floor_[i] = std::max(floor_[i], position + n_tokens - plan.layers[i].rows);
}

void RewindTracker::rewound(int64_t to) {
  for (int64_t& f : floor_) f = std::min(f, to);
}

int64_t RewindTracker::restart_from(const LayerStatePlan& plan, int64_t position, int64_t to) const {
  for (size_t i = 0; i < floor_.size(); ++i)
    if (!can_rewind(plan.layers[i], position, to, floor_[i])) return 0;
  return to;
}

LayerStateBytes layer_state_bytes(const LayerStatePlan& plan) {
  LayerStateBytes b;
  for (const LayerStateDesc& d : plan.layers) {
    switch (d.kind) {
      case LayerStateKind::kMlaLatent: b.mla_latent += d.bytes; break;
      case LayerStateKind::kKv: b.kv += d.bytes; break;
      case LayerStateKind::kKvRing: b.kv_ring += d.bytes; break;
      case LayerStateKind::kRecurrent: b.recurrent += d.bytes; break;
    }
  }
  return b;
}

int64_t kv_read_bytes_at(const LayerStatePlan& plan, const HParams& hp, int64_t position) {
  if (position < 0) return 0;
  int64_t bytes = 0;
  for (const LayerStateDesc& d : plan.layers) {
    if (d.layer >= hp.n_layers || d.kind == LayerStateKind::kRecurrent) continue;  // MTP block; no rows
    const int64_t window = hp.window_for(d.layer);
    const int64_t rows = window > 0 ? std::min(position + 1, window) : position + 1;
    bytes += rows * d.row_bytes;
  }
  return bytes;
}

}  // namespace mote
