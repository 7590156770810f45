// The expert cache as JSON for the web page's live panel (GET /v1/experts). Built only on the
// public C API (mote.h): mote_model_get_expert_map, mote_model_get_expert_stats and
// mote_model_get_info.
#pragma once

#include <string>

#include "mote/mote.h"

namespace mote::serve {

// {"n_layers":L,"n_experts":E,"top_k":K,"model_layers":N,
//  "layers":[{"layer":i,"uses":[E counts],"resident":[E 0/1],"pinned":[E 0/1]}, ...L rows],
//  "stats":{"accesses","hits","misses","prefetch_hits","prefetch_reads","evictions","bytes_read",
//           "io_stall_ms","budget_bytes","slot_count","slot_bytes","hot_slots","total_bytes"}}
// Rows are the MoE layers only (dense layers have no experts; "layer" is the main-layer index),
// n_layers counts them. A NULL model or a failing call gives {"error":{"message":...}}.
// Thread-safe (reads counters; runs alongside generation).
std::string experts_view_json(const mote_model* model);

}  // namespace mote::serve
