// Per-layer attention state descriptors: what a Session allocates for each layer, where in one
// arena it lives, and when it can be rewound. Computed from HParams and the session's settings;
// no allocation of the state itself (the Session allocates the arena from the Backend and points
// AttentionArgs at it, kernels/attention.h).
//
// Kinds and row layout (each piece stored as `type`, kernels/kv_rows.h; kv_piece_bytes):
//   kMlaLatent  DeepSeek MLA: per position one piece [c_kv (kv_lora) | k_pe (dr)]; rows = max_context.
//   kKv         GQA, full causal: per position [K head 0 .. K head n_kv-1 | V head 0 .. V head
//               n_kv-1], each head one piece of head_dim; rows = max_context, row = position.
//   kKvRing     GQA, sliding window (HParams::window_for(layer) > 0): the kKv row layout in a ring
//               of rows = min(max_context, window + max_batch - 1 + rewind_slack); position p
//               lives in row p % rows (AttentionArgs::ring_rows).
//   kRecurrent  reserved, no family produces it yet: a fixed-size per-sequence state updated in
//               place by each token (a linear-attention or state-space layer: its [heads, d_state,
//               d_head] matrix plus the last conv-width inputs); rows = 1, and rewinding needs a
//               saved copy per position (can_rewind: only to the current position).
//
// Rewind (cutting the session from `position` tokens processed back to `to` tokens kept, the
// next token then at position `to`), derived in layer_state.cpp and tested by simulation.
// A ring's rows of positions floor .. position - 1 are current, where the session keeps `floor`
// per layer (RewindTracker): it starts at 0, a forward of T tokens from P raises it to
// max(floor, P + T - R) (those rows overwrote the oldest ones), a rewind to `to` lowers it to
// min(floor, to) (nothing below `to` that was not current becomes current). With no rewind so
// far, floor = max(0, position - R).
//   kMlaLatent, kKv: any to <= position (rows of positions < to are untouched; floor stays 0).
//   kKvRing of R rows and window w: the token at `to` reads from the cache positions
//     max(0, to - w + 1) .. to - 1; so: to == position, or that range is empty (to == 0 or
//     w == 1), or max(0, to - w + 1) >= floor. With no rewind so far and to >= w - 1 that is
//     position - to <= R - w + 1: right after a forward of T tokens a rewind of up to
//     R - w + 1 >= T + rewind_slack tokens is always possible. Otherwise the session must
//     re-evaluate from position 0: an evicted row cannot be recomputed alone (its K/V come from
//     the hidden state of its position, which depends on earlier ring rows of every earlier layer).
//   kRecurrent: only to == position.
// Plain values and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "core/kv_type.h"
#include "core/status.h"
#include "model/hparams.h"

namespace mote {

enum class LayerStateKind : uint8_t { kMlaLatent, kKv, kKvRing, kRecurrent };

const char* layer_state_kind_name(LayerStateKind kind);  // "mla_latent", "kv", "kv_ring", "recurrent"

struct LayerStateDesc {
  int64_t layer = 0;       // main-model layer 0..n_layers-1; the MTP block is layer n_layers (+i)
  LayerStateKind kind = LayerStateKind::kKv;
  KvType type = KvType::kF32;
  int64_t window = 0;      // kKvRing: the sliding window in positions; else 0
  int64_t rows = 0;        // rows allocated (ring: the ring size)
  int64_t row_bytes = 0;   // bytes of one row (pieces back to back, no padding)
  // Row layout (bytes within a row). GQA: K head g at g * k_head_bytes, V head g at
  // v_offset + g * v_head_bytes. MLA: one piece at 0 (k_head_bytes = its size, v_offset 0,
  // v_head_bytes 0: the value is the first kv_lora values of the same piece).
  int64_t k_head_bytes = 0;
  int64_t v_offset = 0;
  int64_t v_head_bytes = 0;
  int64_t offset = 0;      // byte offset of row 0 in the arena (a multiple of kLayerStateAlign)
  int64_t bytes = 0;       // rows * row_bytes
};

inline constexpr int64_t kLayerStateAlign = 64;

struct LayerStateOptions {
  KvType type = KvType::kF32;
  int64_t max_context = 0;  // positions a session can hold (> 0)
  int64_t max_batch = 0;    // tokens per forward (> 0): a ring must hold window + max_batch - 1 rows
  bool mtp = false;         // add the MTP block's state (HParams::n_mtp_layers layers)
  // Extra ring rows so that a rewind of this many tokens (MTP's rejected draft: 1) needs no
  // re-evaluation right after a forward of max_batch tokens.
  int64_t rewind_slack = 1;
  bool rings = true;        // false: sliding layers get full rows too (for memory comparisons)
};

struct LayerStatePlan {
  std::vector<LayerStateDesc> layers;  // main layers in order, then the MTP block's
  int64_t total_bytes = 0;             // arena size (the last layer's offset + bytes, aligned)
};

// One descriptor per layer. Errors (kInvalidArgument): max_context or max_batch < 1,
// rewind_slack < 0, an HParams without attention widths.
Result<LayerStatePlan> plan_layer_state(const HParams& hp, const LayerStateOptions& options);

// Whether `desc`'s state after `position` tokens, rows from `floor` on current (see above), can
// be cut back to `to` tokens with no recomputation. to > position or to < 0: false.
bool can_rewind(const LayerStateDesc& desc, int64_t position, int64_t to, int64_t floor);
// The same with no rewind since the session started from position 0.
bool can_rewind(const LayerStateDesc& desc, int64_t position, int64_t to);

// The per-layer floors a Session keeps for can_rewind (sized once, at Session creation; the
// updates do not allocate). Not thread-safe: one per Session.
class RewindTracker {
 public:
  explicit RewindTracker(const LayerStatePlan& plan);
  // After a forward of n_tokens tokens from `position`.
  void forwarded(const LayerStatePlan& plan, int64_t position, int64_t n_tokens);
  // After a rewind to `to` (allowed by restart_from, or a restart from 0).
  void rewound(int64_t to);
  // The position a rewind from `position` to `to` must re-evaluate from: `to` when every layer
  // can rewind there, else 0.
  int64_t restart_from(const LayerStatePlan& plan, int64_t position, int64_t to) const;
  int64_t floor(size_t layer) const { return floor_[layer]; }
  // Restores a saved floor (session files).
  void set_floor(size_t layer, int64_t floor) { floor_[layer] = floor; }

 private:
  std::vector<int64_t> floor_;  // [plan.layers.size()]
};

// Bytes per kind (the memory figure).
struct LayerStateBytes {
  int64_t mla_latent = 0, kv = 0, kv_ring = 0, recurrent = 0;
  int64_t total() const { return mla_latent + kv + kv_ring + recurrent; }
};
LayerStateBytes layer_state_bytes(const LayerStatePlan& plan);

// Cache bytes one decoded token at `position` (0-based) reads over the main layers (the MTP
// block's are left out): per layer the rows of the positions it attends to, its own included,
// times row_bytes at the layer's KvType (K and V heads for GQA, the [c_kv | k_pe] piece for MLA).
// A sliding layer (hp.window_for(layer) > 0, ring or not) reads min(position + 1, window) rows,
// every other layer position + 1. For the decode roofline (`mote bench`); position < 0: 0.
int64_t kv_read_bytes_at(const LayerStatePlan& plan, const HParams& hp, int64_t position);

}  // namespace mote
