// Expert-store command-line flags and statistics, shared by the subcommands that open a model.
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "cli.h"
#include "kernels/kernels.h"

namespace mote::cli {

const std::vector<std::string> kExpertValueFlags = {"--expert-budget", "--expert-policy", "--expert-hot", "--threads"};
const std::vector<std::string> kExpertSwitches = {"--no-prefetch"};

uint64_t parse_size(const std::string& flag, const std::string& text) {
  size_t used = 0;
  unsigned long long n = 0;
  try {
    if (!text.empty() && text[0] != '-') n = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  uint64_t scale = 1;
  const std::string suffix = used == 0 ? "?" : text.substr(used);
  if (suffix == "K" || suffix == "k") scale = 1ull << 10;
  else if (suffix == "M" || suffix == "m") scale = 1ull << 20;
  else if (suffix == "G" || suffix == "g") scale = 1ull << 30;
  else if (!suffix.empty())
    throw std::runtime_error(flag + " must be bytes or a size like 512M, 2G, not '" + text + "'");
  return uint64_t(n) * scale;
}

ModelOptions model_options(const Args& args) {
  ModelOptions options;
  // Kernel threads are process-wide (one oneTBB arena); 0 = all cores, the default.
  if (args.has("--threads")) kernels::set_num_threads(int(parse_int("--threads", args.get("--threads"), 0, 4096)));
  if (args.has("--expert-budget")) options.expert_budget_bytes = parse_size("--expert-budget", args.get("--expert-budget"));
  if (args.has("--expert-policy") && !parse_eviction_kind(args.get("--expert-policy"), &options.expert_policy))
    throw std::runtime_error("--expert-policy must be lru or lfu");
  if (args.has("--expert-hot")) options.expert_hot_slots = parse_int("--expert-hot", args.get("--expert-hot"), 0, 1 << 30);
  options.expert_prefetch = !args.has("--no-prefetch");
  const bool tuning = args.has("--expert-policy") || args.has("--expert-hot") || args.has("--no-prefetch");
  if (tuning && options.expert_budget_bytes == 0)
    throw std::runtime_error("--expert-policy, --expert-hot and --no-prefetch need --expert-budget");
  return options;
}

void print_expert_stats(const Model& model) {
  const ExpertStore& store = model.expert_store();
  if (store.resident()) return;
  const ExpertStats s = store.stats();
  std::fprintf(stderr,
               "expert store: %lld slots of %llu bytes (%s), accesses %llu, hits %llu, misses %llu, "
               "evictions %llu, prefetched %llu (used %llu), bytes read %llu, io stall %.3f ms\n",
               (long long)store.slot_count(), (unsigned long long)store.slot_bytes(),
               store.direct_io() ? "O_DIRECT" : "buffered", (unsigned long long)s.accesses,
               (unsigned long long)s.hits, (unsigned long long)s.misses, (unsigned long long)s.evictions,
               (unsigned long long)s.prefetch_reads, (unsigned long long)s.prefetch_hits,
               (unsigned long long)s.bytes_read, double(s.io_stall_ns) / 1e6);
}

uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  return 0;
}

}  // namespace mote::cli
