#include "experts/memory_plan.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>

#include "cpu/file_reader.h"
#include "format/mote_file.h"

namespace mote {

namespace {

// v1 reports "no limit" as a page-rounded LLONG_MAX (0x7ffffffffffff000); anything this large
// (1 EiB) is no limit.
constexpr uint64_t kNoLimit = uint64_t(1) << 60;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The first line of `path`, trimmed; false if it cannot be opened.
bool read_line(const std::string& path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::getline(f, *out);
  while (!out->empty() && (out->back() == '\n' || out->back() == ' ' || out->back() == '\r')) out->pop_back();
  return true;
}

// A decimal byte count, or "max" (kNoLimit). Anything else is an error naming the file.
Result<uint64_t> parse_bytes(const std::string& path, const std::string& text) {
  if (text == "max") return kNoLimit;
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
    return invalid_argument(path + ": '" + text.substr(0, 40) + "' is not a byte count");
  uint64_t v = 0;
  for (char c : text) {
    const uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return invalid_argument(path + ": '" + text + "' is out of range");
    v = v * 10 + d;
  }
  return v;
}

// MemAvailable of <root>/proc/meminfo in bytes; 0 if the file or the line is missing.
Result<uint64_t> read_mem_available(const std::string& root) {
  const std::string path = root + "/proc/meminfo";
  std::ifstream f(path);
  if (!f) return uint64_t(0);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream in(line.substr(13));
    std::string number, unit;
    in >> number >> unit;
    MOTE_ASSIGN_OR_RETURN(uint64_t kb, parse_bytes(path + " MemAvailable", number));
    if (unit != "kB") return invalid_argument(path + ": MemAvailable unit '" + unit + "' is not kB");
    if (kb >= kNoLimit / 1024) return invalid_argument(path + ": MemAvailable " + number + " kB is out of range");
    return kb * 1024;
  }
  return uint64_t(0);
}

struct Hierarchy {
  std::string version;   // "v1" or "v2"
  std::string mount;     // the hierarchy's mount directory
  std::string path;      // the process's cgroup path from /proc/self/cgroup
  std::string limit_file, usage_file;
};

// The memory hierarchies /proc/self/cgroup lists (v1 "memory" controller, v2 "0::").
std::vector<Hierarchy> hierarchies(const std::string& root) {
  std::vector<Hierarchy> out;
  std::ifstream f(root + "/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (id == "0" && controllers.empty()) {
      const std::string base = root + "/sys/fs/cgroup";
      const std::string mount = exists(base + "/cgroup.controllers") ? base : base + "/unified";
      out.push_back({"v2", mount, path, "memory.max", "memory.current"});
      continue;
    }
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ','))
      if (c == "memory") out.push_back({"v1", root + "/sys/fs/cgroup/memory", path, "memory.limit_in_bytes",
                                        "memory.usage_in_bytes"});
  }
  return out;
}

// Page cache the kernel reclaims first (inactive file pages) from a cgroup's memory.stat: v1
// "total_inactive_file" (hierarchical), v2 "inactive_file"; 0 if absent or unreadable. Usage
// counts it, but it is not a process's to keep: a cgroup that just wrote a model file holds
// gigabytes of it, and limit - usage would leave nothing for the experts.
uint64_t inactive_file_bytes(const std::string& path, const std::string& version) {
  std::ifstream f(path);
  const std::string key = version == "v1" ? "total_inactive_file " : "inactive_file ";
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) != 0) continue;
    auto value = parse_bytes(path, line.substr(key.size()));
    return value ? *value : 0;
  }
  return 0;
}

// Tightens *probe with each limited cgroup from h's directory up to its mount.
Status read_hierarchy(const Hierarchy& h, const std::string& root, MemoryProbe* probe, bool* limited) {
  std::string dir = h.mount + (h.path == "/" ? "" : h.path);
  if (!exists(dir)) dir = h.mount;  // a cgroup namespace: our cgroup is the mount's root
  while (true) {
    std::string text;
    if (read_line(dir + "/" + h.limit_file, &text)) {
      MOTE_ASSIGN_OR_RETURN(uint64_t limit, parse_bytes(dir + "/" + h.limit_file, text));
      if (limit < kNoLimit) {
        std::string used_text;
        if (!read_line(dir + "/" + h.usage_file, &used_text))
          return not_found(dir + "/" + h.usage_file + ": cannot be read (the limit next to it is " + text + ")");
        MOTE_ASSIGN_OR_RETURN(uint64_t usage, parse_bytes(dir + "/" + h.usage_file, used_text));
        usage -= std::min(usage, inactive_file_bytes(dir + "/memory.stat", h.version));
        const uint64_t left = limit > usage ? limit - usage : 0;
        if (!*limited || left < probe->available) {  // the tightest cgroup binds
          probe->available = left;
          probe->cgroup_limit = limit;
          probe->cgroup_usage = usage;
          probe->source = "cgroup " + h.version + " " + dir.substr(root.size());
        }
        *limited = true;
      }
    }
    if (dir.size() <= h.mount.size()) break;
    dir = dir.substr(0, dir.rfind('/'));
  }
  return Status::ok();
}

}  // namespace

Result<MemoryProbe> probe_memory(const std::string& root) {
  MemoryProbe probe;
  MOTE_ASSIGN_OR_RETURN(probe.mem_available, read_mem_available(root));
  bool limited = false;
  for (const Hierarchy& h : hierarchies(root)) MOTE_RETURN_IF_ERROR(read_hierarchy(h, root, &probe, &limited));
  if (probe.mem_available > 0 && (!limited || probe.mem_available < probe.available)) {
    probe.available = probe.mem_available;
    probe.source = "MemAvailable (" + root + "/proc/meminfo)";
  }
  if (probe.mem_available == 0 && !limited)
    return not_found("cannot tell the available memory: no MemAvailable in " + root +
                     "/proc/meminfo and no cgroup memory limit; give a limit (mem_limit_bytes, --mem-limit)");
  return probe;
}

uint64_t plan_margin_bytes(uint64_t available) { return (uint64_t(64) << 20) + available / 32; }

BudgetPlan plan_expert_budget(const BudgetInputs& in) {
  BudgetPlan plan;
  plan.margin_bytes = plan_margin_bytes(in.available);
  const uint64_t fixed = in.dense_bytes + in.kv_bytes + in.scratch_bytes + plan.margin_bytes;
  const uint64_t remaining = in.available > fixed ? in.available - fixed : 0;
  if (in.n_experts == 0 || remaining >= in.expert_total_bytes) {
    plan.all_resident = plan.fits = in.available >= fixed;
    plan.slots = in.n_experts;
  } else if (in.slot_bytes > 0) {
    plan.slots = int64_t(std::min<uint64_t>(remaining / in.slot_bytes, uint64_t(in.n_experts)));
    plan.budget_bytes = uint64_t(plan.slots) * in.slot_bytes;
    plan.fits = plan.slots >= in.min_slots && plan.slots > 0;
  }
  if (!plan.fits) {
    const uint64_t need = fixed + uint64_t(std::max<int64_t>(in.min_slots, 1)) * in.slot_bytes;
    plan.error = "automatic expert budget: " + std::to_string(in.available) + " bytes available - dense " +
                 std::to_string(in.dense_bytes) + " - KV " + std::to_string(in.kv_bytes) + " - scratch " +
                 std::to_string(in.scratch_bytes) + " - margin " + std::to_string(plan.margin_bytes) + " leaves " +
                 std::to_string(remaining) + " bytes, below the minimum of " + std::to_string(in.min_slots) +
                 " expert slots of " + std::to_string(in.slot_bytes) + " bytes (about " + std::to_string(need >> 20) +
                 " MiB needed in all)";
    if (in.n_experts == 0)
      plan.error = "automatic memory plan: " + std::to_string(in.available) + " bytes available < dense " +
                   std::to_string(in.dense_bytes) + " + KV " + std::to_string(in.kv_bytes) + " + scratch " +
                   std::to_string(in.scratch_bytes) + " + margin " + std::to_string(plan.margin_bytes);
  }
  return plan;
}

double expected_hit_rate(const std::vector<double>& counts, int64_t slots) {
  const int64_t n = int64_t(counts.size());
  if (n == 0 || slots <= 0) return 0.0;
  if (slots >= n) return 1.0;
  std::vector<double> sorted;
  sorted.reserve(counts.size());
  double total = 0;
  for (double c : counts) {
    const double v = c > 0 ? c : 0.0;  // negative or NaN counts count as unused
    sorted.push_back(v);
    total += v;
  }
  if (!(total > 0)) return double(slots) / double(n);
  std::partial_sort(sorted.begin(), sorted.begin() + slots, sorted.end(), std::greater<double>());
  double top = 0;
  for (int64_t i = 0; i < slots; ++i) top += sorted[size_t(i)];
  return top / total;
}

Result<ReadSpeed> measure_expert_reads(const MoteFile& file, double max_seconds) {
  if (file.loader().kind() == LoaderKind::kMemory)
    return unsupported(file.loader().name() + ": the expert read speed needs a file, not a memory buffer");
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // (file offset, bytes)
  uint64_t max_seg = 0;
  if (const auto* layers = file.model().expert_layers())
    for (const fb::ExpertLayer* el : *layers)
      for (const fb::Expert* e : *el->experts()) {
        segments.emplace_back(file.segment_file_offset(e->segment()), file.segment_size(e->segment()));
        max_seg = std::max(max_seg, segments.back().second);
      }
  if (segments.empty()) return unsupported(file.loader().name() + ": no routed experts to read");
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<DataLoader> reader, file.loader().reader(/*direct_io=*/true));
  const uint64_t capacity = align_up(max_seg, kDirectIoAlign) + kDirectIoAlign;
  MOTE_ASSIGN_OR_RETURN(AlignedBuffer buffer, AlignedBuffer::allocate(capacity));
  const uint64_t n = segments.size();
  uint64_t stride = 7919;  // a prime: coprime with n unless n is a multiple of it
  while (n % stride == 0) stride += 2;
  ReadSpeed speed;
  speed.direct_io = reader->direct_io();
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  double elapsed = 0;
  for (uint64_t i = 0, index = 0; i < n; ++i, index = (index + stride) % n) {
    const auto& [offset, bytes] = segments[index];
    MOTE_RETURN_IF_ERROR(reader->read_at(offset, buffer.data(), bytes, capacity));
    speed.bytes += bytes;
    ++speed.reads;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed >= max_seconds) break;
  }
  speed.bytes_per_s = elapsed > 0 ? double(speed.bytes) / elapsed : 0;
  return speed;
}

}  // namespace mote
