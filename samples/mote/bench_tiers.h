// The routed expert tiers of `mote bench` on a backend with device memory (API version 7,
// mote_stats' tier fields): where each expert access of the prefill and of the decode was served
// from (device cache hit, upload from host RAM or disk, CPU), the device memory split, the
// measured speeds and the per-layer choice (mote_model_get_layer_tiers).
#pragma once

#include <nlohmann/json.hpp>

#include "mote/mote.h"

namespace mote::cli {

// The "tiers" object of the bench JSON. base / after_prefill / end: the timed session's stats
// before the prefill, after it, and after the decode (the tier counters are the model's, so the
// differences are the timed run's). All zeros on the CPU backend.
nlohmann::ordered_json tiers_json(const mote_model* model, const mote_stats& base, const mote_stats& after_prefill,
                                  const mote_stats& end);

}  // namespace mote::cli
