// mote serve: the counters behind GET /metrics (Prometheus text format 0.0.4), the process memory
// figures, and the memory bound the process is expected to stay within.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <mote/mote.h>

#include "slot_pool.h"

namespace mote::serve {

struct Metrics {
  std::atomic<uint64_t> requests{0};          // generation requests received (chat + completions)
  std::atomic<uint64_t> rejected{0};          // answered 503 (queue full, queue timeout, shutdown)
  std::atomic<uint64_t> errors{0};            // answered 4xx (any path)
  std::atomic<uint64_t> prompt_tokens{0};     // whole rendered prompts
  std::atomic<uint64_t> reused_tokens{0};     // of those, kept from a slot's KV cache
  std::atomic<uint64_t> generated_tokens{0};
  std::atomic<double> decode_tok_s{0.0};      // of the last request
  std::atomic<double> prefill_tok_s{0.0};
};

// The memory bound, in bytes:
//   dense_bytes (every weight but the routed experts, always mapped)
// + experts: the expert budget, or, when every routed expert is resident, file_bytes - dense_bytes
//   (all routed experts, the MTP layers' included, plus the file's small metadata)
// + slots x (kv_cache_bytes + scratch_bytes) of one session (mote_stats; allocated at creation)
// + a fixed 96 MiB allowance for code, heap, thread stacks and the HTTP server.
struct MemoryBound {
  uint64_t dense = 0;
  uint64_t experts = 0;
  uint64_t per_slot = 0;
  uint64_t slots = 0;
  uint64_t allowance = 96ull << 20;
  uint64_t total() const { return dense + experts + per_slot * slots + allowance; }
};
MemoryBound compute_memory_bound(const mote_model* model, const mote_session* one_session, size_t slots);

// A "VmRSS" / "VmHWM" line of /proc/self/status, in bytes (0 if unknown).
uint64_t proc_status_bytes(const char* key);

std::string render_metrics(const Metrics& m, const PoolStatus& pool, const mote_model* model, uint64_t memory_bound);

}  // namespace mote::serve
