#include "metrics.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace mote::serve {

MemoryBound compute_memory_bound(const mote_model* model, const mote_session* one_session, size_t slots) {
  MemoryBound b;
  mote_model_info info{};
  if (mote_model_get_info(model, &info) == MOTE_OK) {
    b.dense = info.dense_bytes;
    b.experts = info.file_bytes > info.dense_bytes ? info.file_bytes - info.dense_bytes : 0;
  }
  mote_expert_stats e{};
  if (mote_model_get_expert_stats(model, &e) == MOTE_OK && e.budget_bytes > 0) b.experts = e.budget_bytes;
  mote_stats s{};
  if (one_session != nullptr && mote_session_get_stats(one_session, &s) == MOTE_OK)
    b.per_slot = s.kv_cache_bytes + s.scratch_bytes;
  b.slots = slots;
  return b;
}

uint64_t proc_status_bytes(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(status, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      try {
        return std::stoull(line.substr(n + 1)) * 1024;  // "VmRSS:   1234 kB"
      } catch (const std::exception&) {
        return 0;
      }
    }
  }
  return 0;
}

namespace {

struct Writer {
  std::string out;
  void metric(const char* name, const char* type, const char* help, double value) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
    out += buf;
  }
  void counter(const char* name, const char* help, double v) { metric(name, "counter", help, v); }
  void gauge(const char* name, const char* help, double v) { metric(name, "gauge", help, v); }
};

}  // namespace

std::string render_metrics(const Metrics& m, const PoolStatus& pool, const mote_model* model, uint64_t memory_bound) {
  Writer w;
  w.counter("mote_requests_total", "Generation requests received (chat and text completions).", double(m.requests));
  w.counter("mote_requests_rejected_total", "Requests answered 503 (queue full, queue timeout, shutting down).",
            double(m.rejected));
  w.counter("mote_request_errors_total", "Requests answered with a 4xx status.", double(m.errors));
  w.counter("mote_prompt_tokens_total", "Prompt tokens of completed requests (whole rendered prompts).",
            double(m.prompt_tokens));
  w.counter("mote_prompt_tokens_reused_total", "Prompt tokens kept from a slot's KV cache (not prefilled).",
            double(m.reused_tokens));
  w.counter("mote_generated_tokens_total", "Tokens generated.", double(m.generated_tokens));
  w.gauge("mote_decode_tokens_per_second", "Decode speed of the last request.", m.decode_tok_s.load());
  w.gauge("mote_prefill_tokens_per_second", "Prefill speed of the last request.", m.prefill_tok_s.load());
  w.gauge("mote_queue_depth", "Requests waiting for a slot.", double(pool.queue_depth));
  w.gauge("mote_queue_capacity", "Requests that may wait for a slot (--queue).", double(pool.queue_capacity));
  w.gauge("mote_slots_total", "Slots (sessions) serving requests (--slots).", double(pool.slots_total));
  w.gauge("mote_slots_busy", "Slots serving a request now.", double(pool.slots_total - pool.slots_idle));
  mote_expert_stats e{};
  if (mote_model_get_expert_stats(model, &e) != MOTE_OK) e = mote_expert_stats{};
  w.counter("mote_expert_accesses_total", "Routed experts acquired (hits + misses).", double(e.accesses));
  w.counter("mote_expert_hits_total", "Routed experts found in the expert cache.", double(e.hits));
  w.counter("mote_expert_misses_total", "Routed experts read on demand.", double(e.misses));
  w.counter("mote_expert_prefetch_hits_total", "Prefetched experts used before eviction.", double(e.prefetch_hits));
  w.counter("mote_expert_bytes_read_total", "Bytes of routed experts read from the file.", double(e.bytes_read));
  w.counter("mote_expert_io_stall_seconds_total", "Time forward passes waited for expert reads.",
            e.io_stall_ms / 1000.0);
  w.gauge("mote_expert_budget_bytes", "Expert cache budget (0 = every expert resident).", double(e.budget_bytes));
  w.gauge("mote_resident_bytes", "Resident set size of the process now (VmRSS).", double(proc_status_bytes("VmRSS")));
  w.gauge("mote_peak_resident_bytes", "Peak resident set size of the process (VmHWM).",
          double(proc_status_bytes("VmHWM")));
  w.gauge("mote_memory_bound_bytes",
          "Memory the process is expected to stay within: dense weights + expert budget (or all experts) + "
          "slots x (KV cache + scratch) + 96 MiB.",
          double(memory_bound));
  return w.out;
}

}  // namespace mote::serve
