// DraftRowGate: the per-step gate of a speculative verify pass (Session::mtp_verify runs the
// pending token and the MTP's draft as rows 0 and 1 of one forward). Under an expert budget the
// draft row can route to experts that row 0 does not need and that are not in memory; reading
// them can cost more than an accepted draft saves. So at every MoE layer of that pass the
// decoder prices the draft row's own misses (ExpertStore::missing_bytes x the measured seconds
// per byte) twice:
//   - pre-gate: the next MoE layer's router applied to the draft row's residual stream (as the
//     prefetch hint does), before that layer's attention and before any read is queued for it;
//   - exact: this layer's router on both rows, before this layer's experts are acquired.
// When the misses let through plus the new ones would exceed allowance_seconds, the draft row is
// dropped: the rest of the pass runs row 0 alone (its logits and final hidden row are then the
// only valid ones) and the caller treats the step as a rejected draft, so the emitted tokens do
// not change. The allowance comes from DraftPolicy::miss_allowance (session/draft_policy.h): what
// a draft step is expected to save before any draft-row miss.
//
// Host value owned by the caller for one forward; the decoder writes the out fields. Not shared
// between threads.
#pragma once

#include <cstdint>

namespace mote::families {

struct DraftRowGate {
  double allowance_seconds = 0;  // in: priced draft-row misses one step may let through
  double seconds_per_byte = 0;   // in: price of one byte read (ExpertStore::read_seconds_per_byte)
  double spent_seconds = 0;      // out: priced draft-row misses let through (they were read)
  bool dropped = false;          // out: the draft row was dropped at dropped_at_layer
  bool predicted = false;        // out: by the pre-gate (next layer's router), not the exact check
  int64_t dropped_at_layer = -1;
  int64_t checks = 0;            // out: layers the gate priced
};

}  // namespace mote::families
