#include "experts/routing_stats.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>

#include "format/checksum.h"

namespace mote {
namespace {

constexpr char kSidecarMagic[8] = {'M', 'O', 'T', 'E', 'X', 'P', 'R', 'T'};
constexpr uint32_t kSidecarVersion = 1;
constexpr int64_t kMaxLayers = int64_t(1) << 16;
constexpr int64_t kMaxExperts = int64_t(1) << 20;

struct SidecarHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t model_file_size;
  uint64_t model_metadata_checksum;
  uint32_t n_layers, n_experts;
  double tokens;
  uint64_t runs;
  uint64_t reserved;
};
static_assert(sizeof(SidecarHeader) == 64);

std::string errno_text() { return std::strerror(errno); }

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

void merge_routing_run(RoutingStats& stats, const std::vector<uint64_t>& run_counts, double run_tokens) {
  if (stats.counts.size() != run_counts.size()) stats.counts.assign(run_counts.size(), 0.0f);
  const double keep = std::pow(0.5, std::max(run_tokens, 0.0) / kRoutingHalfLifeTokens);
  for (size_t i = 0; i < run_counts.size(); ++i) stats.counts[i] = float(stats.counts[i] * keep + double(run_counts[i]));
  stats.tokens = stats.tokens * keep + std::max(run_tokens, 0.0);
  ++stats.runs;
}

Result<RoutingStats> load_routing_stats(const std::string& path, const ModelIdentity& expect, int64_t n_layers,
                                        int64_t n_experts) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    if (errno == ENOENT) return Status(StatusCode::kNotFound, path + ": no routing statistics yet");
    return io_error(path + ": cannot open: " + errno_text());
  }
  SidecarHeader h{};
  if (std::fread(&h, sizeof h, 1, f.get()) != 1) return corrupt_file(path + ": shorter than its 64-byte header");
  if (std::memcmp(h.magic, kSidecarMagic, 8) != 0) return corrupt_file(path + ": not a routing statistics file (magic)");
  if (h.version != kSidecarVersion)
    return corrupt_file(path + ": version " + std::to_string(h.version) + ", this build reads version " +
                        std::to_string(kSidecarVersion));
  if (h.header_size != sizeof h) return corrupt_file(path + ": header_size " + std::to_string(h.header_size) + " is not 64");
  if (h.n_layers == 0 || h.n_layers > kMaxLayers || h.n_experts == 0 || h.n_experts > kMaxExperts)
    return corrupt_file(path + ": absurd dimensions (n_layers " + std::to_string(h.n_layers) + ", n_experts " +
                        std::to_string(h.n_experts) + ")");
  if (h.model_file_size != expect.file_size || h.model_metadata_checksum != expect.metadata_checksum)
    return invalid_argument(path + ": statistics of another model file (model identity differs)");
  if (int64_t(h.n_layers) != n_layers || int64_t(h.n_experts) != n_experts)
    return invalid_argument(path + ": statistics for " + std::to_string(h.n_layers) + " layers x " +
                            std::to_string(h.n_experts) + " experts, the model has " + std::to_string(n_layers) +
                            " x " + std::to_string(n_experts));
  if (!std::isfinite(h.tokens) || h.tokens < 0) return corrupt_file(path + ": tokens is not a finite count");
  RoutingStats s;
  s.model = expect;
  s.n_layers = n_layers;
  s.n_experts = n_experts;
  s.tokens = h.tokens;
  s.runs = h.runs;
  s.counts.resize(size_t(n_layers * n_experts));
  const size_t bytes = s.counts.size() * sizeof(float);
  uint64_t stored = 0;
  if (std::fread(s.counts.data(), 1, bytes, f.get()) != bytes || std::fread(&stored, 8, 1, f.get()) != 1)
    return corrupt_file(path + ": truncated (expected " + std::to_string(sizeof h + bytes + 8) + " bytes)");
  if (std::fgetc(f.get()) != EOF) return corrupt_file(path + ": longer than its header says");
  const uint64_t sum = checksum64(s.counts.data(), bytes, checksum64(&h, sizeof h));
  if (sum != stored) return corrupt_file(path + ": checksum mismatch");
  for (float c : s.counts)
    if (!std::isfinite(c) || c < 0) return corrupt_file(path + ": a count is negative or not finite");
  return s;
}

Status save_routing_stats(const std::string& path, const RoutingStats& stats) {
  namespace fs = std::filesystem;
  if (stats.counts.size() != size_t(stats.n_layers * stats.n_experts) || stats.n_layers <= 0 || stats.n_experts <= 0)
    return invalid_argument(path + ": routing statistics of inconsistent shape");
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);  // an error shows at fopen below
  SidecarHeader h{};
  std::memcpy(h.magic, kSidecarMagic, 8);
  h.version = kSidecarVersion;
  h.header_size = sizeof h;
  h.model_file_size = stats.model.file_size;
  h.model_metadata_checksum = stats.model.metadata_checksum;
  h.n_layers = uint32_t(stats.n_layers);
  h.n_experts = uint32_t(stats.n_experts);
  h.tokens = stats.tokens;
  h.runs = stats.runs;
  const size_t bytes = stats.counts.size() * sizeof(float);
  const uint64_t sum = checksum64(stats.counts.data(), bytes, checksum64(&h, sizeof h));
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    FilePtr f(std::fopen(tmp.c_str(), "wb"));
    if (!f) return io_error(tmp + ": cannot create: " + errno_text());
    const bool ok = std::fwrite(&h, sizeof h, 1, f.get()) == 1 &&
                    std::fwrite(stats.counts.data(), 1, bytes, f.get()) == bytes &&
                    std::fwrite(&sum, 8, 1, f.get()) == 1 && std::fflush(f.get()) == 0;
    if (!ok) {
      const std::string why = errno_text();
      f.reset();
      std::remove(tmp.c_str());
      return io_error(tmp + ": write failed: " + why);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    std::remove(tmp.c_str());
    return io_error(path + ": cannot rename the new statistics into place: " + why);
  }
  return Status::ok();
}

std::string default_routing_stats_path(const std::string& model_path, const ModelIdentity& id) {
  namespace fs = std::filesystem;
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
  };
  std::string dir = env("MOTE_CACHE_DIR");
  if (dir.empty() && !env("XDG_CACHE_HOME").empty()) dir = env("XDG_CACHE_HOME") + "/mote";
  if (dir.empty() && !env("HOME").empty()) dir = env("HOME") + "/.cache/mote";
  char ident[40];
  std::snprintf(ident, sizeof ident, "%016llx%08llx", static_cast<unsigned long long>(id.metadata_checksum),
                static_cast<unsigned long long>(id.file_size & 0xffffffffu));
  if (dir.empty()) return model_path.empty() ? std::string() : model_path + ".experts";
  const std::string stem = model_path.empty() ? std::string() : fs::path(model_path).filename().string() + "-";
  return dir + "/" + stem + ident + ".experts";
}

double expected_hit_rate(const float* counts, int64_t n_experts, int64_t slots) {
  if (n_experts <= 0) return 0.0;
  slots = std::clamp<int64_t>(slots, 0, n_experts);
  std::vector<float> sorted(counts, counts + n_experts);
  double total = 0;
  for (float c : sorted) total += c;
  if (total <= 0) return double(slots) / double(n_experts);
  std::partial_sort(sorted.begin(), sorted.begin() + slots, sorted.end(), std::greater<float>());
  double kept = 0;
  for (int64_t i = 0; i < slots; ++i) kept += sorted[size_t(i)];
  return kept / total;
}

}  // namespace mote
