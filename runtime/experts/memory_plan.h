// Memory planning for the automatic expert budget (mote_model_params.expert_budget_bytes =
// MOTE_EXPERT_BUDGET_AUTO, `mote plan`): how much memory this process may still use, and how
// much of it the routed-expert cache gets.
//
// probe_memory reads, under `root` ("" = the real system; tests pass a temporary directory laid
// out like / with fake files):
//   /proc/meminfo           MemAvailable (kB)
//   /proc/self/cgroup       the process's cgroups: "N:...memory...:/path" (v1), "0::/path" (v2)
//   cgroup v1               /sys/fs/cgroup/memory/<path>/memory.limit_in_bytes, memory.usage_in_bytes
//   cgroup v2               /sys/fs/cgroup/<path>/memory.max, memory.current (when /sys/fs/cgroup
//                           is the v2 mount: it has cgroup.controllers), else the hybrid layout's
//                           /sys/fs/cgroup/unified/<path>/...
// The cgroup and each ancestor up to the mount are read (a parent's limit binds too); a <path>
// absent under the mount (a container's own cgroup namespace) is read at the mount itself.
// "max" and v1's "no limit" (>= 2^60) are no limit; a directory without the files (no memory
// controller there) is skipped. Available = the smallest of MemAvailable and, per limited
// cgroup, limit - (usage - inactive file pages of its memory.stat: page cache reclaimed first). A cgroup file holding something else than a byte count is an error
// naming the file (a limit that cannot be read may be a tight one: guessing risks the OOM
// killer); no readable MemAvailable and no cgroup limit is an error telling to set a limit.
//
// plan_expert_budget is the arithmetic (pure): see its comment. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mote {

struct MemoryProbe {
  uint64_t available = 0;      // bytes this process may still use (the minimum below)
  uint64_t mem_available = 0;  // /proc/meminfo MemAvailable in bytes; 0 if not read
  uint64_t cgroup_limit = 0;   // limit of the binding cgroup; 0 = no cgroup limit found
  uint64_t cgroup_usage = 0;   // that cgroup's usage when probed, less its inactive file pages
  std::string source;          // where `available` came from, e.g. "cgroup v1 /sys/fs/cgroup/memory/x"
};

Result<MemoryProbe> probe_memory(const std::string& root = "");

// What stays in memory besides the expert cache, and the experts' sizes (bytes).
struct BudgetInputs {
  uint64_t available = 0;           // MemoryProbe::available, or an explicit limit
  uint64_t dense_bytes = 0;         // Model::dense_bytes(): mapped, resident once used
  uint64_t kv_bytes = 0;            // one session's KV cache at the planning context
  uint64_t scratch_bytes = 0;       // that session's activation scratch and host buffers
  uint64_t expert_total_bytes = 0;  // every routed expert's segment (MTP layers included)
  uint64_t slot_bytes = 0;          // one cache slot (largest expert rounded up to 4 KiB)
  int64_t n_experts = 0;            // routed experts served by the store (MTP layers included)
  int64_t min_slots = 0;            // the store's minimum (n_experts_per_tok)
};

struct BudgetPlan {
  uint64_t margin_bytes = 0;  // kept free: see plan_margin_bytes
  uint64_t budget_bytes = 0;  // the expert budget: slots * slot_bytes; 0 when all_resident
  int64_t slots = 0;          // cache slots; n_experts when all_resident
  bool all_resident = false;  // every expert fits: no budget, experts read through the mapping
  bool fits = false;          // false: not even min_slots fit; `error` says by how much
  std::string error;          // one line with the numbers, when !fits
};

// The memory kept free: 64 MiB plus 1/32 of `available`. The fixed part covers what the plan
// does not count: the tokenizer's tables and chat template (tens of MB for a 150k vocabulary),
// libmote and libstdc++ text, thread stacks, the I/O pool and allocator slack. The proportional
// part is headroom for the kernel: a cgroup reclaims page cache as usage nears its limit, and
// the dense weights are page cache, so a plan that fills the limit to the byte makes the kernel
// drop and re-read them on every token.
uint64_t plan_margin_bytes(uint64_t available);

// remaining = available - dense - kv - scratch - margin. remaining >= expert_total_bytes: every
// expert fits, all_resident (budget 0: the mapping, no copies, no reads in the decode loop).
// Else slots = min(remaining / slot_bytes, n_experts), budget = slots * slot_bytes; fewer than
// min_slots slots (or nothing remaining) is !fits with an error naming every term.
BudgetPlan plan_expert_budget(const BudgetInputs& in);

// Expected hit rate of a cache that holds the `slots_per_layer` most used experts of one layer,
// given per-expert use counts of that layer (any non-negative scale): the share of uses that
// fall on those experts. Uniform counts give slots / experts. Empty or all-zero counts: the
// uniform estimate (slots / size, or 0 for no experts); slots >= size: 1.
double expected_hit_rate(const std::vector<double>& counts_of_one_layer, int64_t slots_per_layer);

class MoteFile;

// The routed-expert read speed of `file`, as the expert cache's demand misses see it: one thread
// reads whole expert segments through file.loader().reader(direct_io = true) (O_DIRECT when the
// file system allows) into one aligned buffer, in a scattered order (a stride coprime with the
// expert count over every expert layer, like misses across layers), for up to max_seconds and
// at most one pass. Errors: no routed experts, read errors, a memory-buffer model (kUnsupported).
struct ReadSpeed {
  double bytes_per_s = 0;
  uint64_t bytes = 0;     // read in all
  int64_t reads = 0;      // segments read
  bool direct_io = false; // the reads bypassed the page cache
};
Result<ReadSpeed> measure_expert_reads(const MoteFile& file, double max_seconds);

}  // namespace mote
