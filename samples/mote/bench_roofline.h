// The memory roofline of decoding, for `mote bench`: this machine's measured read bandwidth and
// the weight bytes (and multiply-adds) one token touches.
#pragma once

#include <cstdint>

#include "model/model.h"

namespace mote::cli {

// Best of a few multi-threaded streaming reads of a 256 MiB buffer (far beyond the last-level
// cache), in GB/s (1e9 bytes/s). Allocates and frees the buffer, then resets the process's peak
// RSS (VmHWM) so the buffer does not count in later peak_rss_bytes.
double measure_read_bandwidth_gbs(int threads);

// Per decoded token: bytes and multiply-adds of the weights every token uses (attention, dense
// and shared FFNs, router, norms, lm_head, one embedding row) and of one average routed expert.
struct ActiveWeights {
  double dense_bytes = 0, dense_macs = 0;
  double expert_bytes = 0, expert_macs = 0;  // one routed expert, averaged over the main layers
};
ActiveWeights active_weights(const Model& model);

}  // namespace mote::cli
