// Learned routing statistics: how often each routed expert of each main MoE layer was used, kept
// across runs of one model in a small sidecar file, so that the expert store can start a run
// with the experts this user's workload routes to already in memory (issue 17, README "Learning
// expert cache").
//
// Counts are decayed, not summed forever: merging a run's counts first multiplies the stored
// counts by 0.5^(tokens of the run / kHalfLifeTokens), so a workload that changes is followed
// within a few thousand tokens while one short run cannot wipe out a long history.
//
// Sidecar file (little-endian, 8-byte aligned fields):
//   SidecarHeader (64 bytes: magic "MOTEXPRT", version, the model file's identity - its size and
//   metadata checksum, as session files use - n_layers, n_experts, tokens, runs)
//   float32 counts[n_layers * n_experts]   (layer-major; 0 for layers without routed experts)
//   uint64 checksum64 of everything before it
// Files are written to a temporary name in the same directory and renamed, so a reader sees the
// old file or the new one, never a torn one; two processes saving at once: the last rename wins.
//
// Thread-safety: plain values and free functions; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mote {

// Tokens of new routing after which old counts weigh half (see the file comment).
inline constexpr double kRoutingHalfLifeTokens = 4096.0;

struct ModelIdentity {
  uint64_t file_size = 0;
  uint64_t metadata_checksum = 0;
  bool operator==(const ModelIdentity& o) const {
    return file_size == o.file_size && metadata_checksum == o.metadata_checksum;
  }
};

struct RoutingStats {
  ModelIdentity model;
  int64_t n_layers = 0;       // main layers of the model (dense ones included, all-zero rows)
  int64_t n_experts = 0;      // routed experts per MoE layer
  double tokens = 0;          // decayed token count the counts stand for (per MoE layer)
  uint64_t runs = 0;          // runs merged so far
  std::vector<float> counts;  // [n_layers * n_experts] decayed uses per expert

  float count(int64_t layer, int64_t id) const { return counts[size_t(layer * n_experts + id)]; }
  bool empty() const { return tokens <= 0; }
};

// Adds one run's raw counts (`run_counts`: [n_layers * n_experts] acquisitions, `run_tokens`:
// tokens each MoE layer routed) to `stats`, decaying the old counts first. Shapes must match.
void merge_routing_run(RoutingStats& stats, const std::vector<uint64_t>& run_counts, double run_tokens);

// Reads a sidecar. Errors name the path and the reason: kNotFound (no file), kCorruptFile
// (magic, size, checksum, absurd dimensions), kInvalidArgument (another model: identity or
// dimensions differ from `expect`'s). Reads at most the size the header's dimensions imply, and
// refuses dimensions above 2^16 layers or 2^20 experts (bounded memory for a crafted file).
Result<RoutingStats> load_routing_stats(const std::string& path, const ModelIdentity& expect, int64_t n_layers,
                                        int64_t n_experts);
// Writes `stats` to `path` (temporary name + rename; creates the parent directory if missing).
Status save_routing_stats(const std::string& path, const RoutingStats& stats);

// Where a model's sidecar lives when no path is given: $MOTE_CACHE_DIR, else
// $XDG_CACHE_HOME/mote, else $HOME/.cache/mote, named "<model file name>-<identity>.experts";
// without any of those variables, next to the model file ("<model path>.experts").
// model_path may be empty (a model opened from memory): the name is then the identity alone,
// and without a cache directory there is no default (empty result).
std::string default_routing_stats_path(const std::string& model_path, const ModelIdentity& id);

// Expected fraction of one layer's expert uses served from memory when the `slots` experts with
// the largest counts are kept resident (counts: that layer's learned counts, any scale). With
// no counts at all: slots / experts (uniform routing).
double expected_hit_rate(const float* counts, int64_t n_experts, int64_t slots);

}  // namespace mote
