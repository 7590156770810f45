// The learning expert cache (issue 17): glue between learned routing statistics
// (experts/routing_stats.h, the sidecar file) and the expert store. At open, the hottest experts
// of the statistics are pre-loaded into the cache and the hottest of those pinned; at close, this
// run's per-token routing counts are merged into the statistics and saved.
//
// Thread-safety: ExpertLearning is used by the owning Model on its opening and closing thread;
// save() may also be called by one thread at a time while sessions run (it reads the store's
// relaxed counters and takes no store lock).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "experts/expert_store.h"
#include "experts/routing_stats.h"

namespace mote {

struct ExpertLearningOptions {
  std::string path;        // the sidecar (see default_routing_stats_path)
  int64_t pin_slots = -1;  // experts held by hot pinning after the pre-load; -1: default_pin_slots
};

class ExpertLearning {
 public:
  // Loads the statistics at options.path (a missing file is a first run; a corrupt, stale or
  // foreign one is logged as one warning naming the path and ignored: it is replaced at save)
  // and pre-loads the store from them (budget mode). Never fails the open.
  ExpertLearning(ExpertStore& store, const HParams& hp, const ModelIdentity& identity,
                 const ExpertLearningOptions& options);

  // Merges the routing counted since open (minus what an earlier save already merged) into the
  // statistics and writes the sidecar. A run that routed no token writes nothing.
  Status save();

  const std::string& path() const { return options_.path; }
  bool loaded() const { return loaded_; }         // statistics were read at open
  double learned_tokens() const { return loaded_tokens_; }  // of the statistics read at open
  int64_t preloaded() const { return preload_started_; }
  const RoutingStats& statistics() const { return learned_; }  // changes at save(): opening thread only
  // Per main-layer expert ([n_layers * n_routed_experts]): the share of tokens routed to it in the
  // statistics read at open (counts / tokens); empty without. Constant after construction, so
  // any thread may read it.
  const std::vector<float>& loaded_shares() const { return loaded_shares_; }

 private:
  ExpertStore& store_;
  const HParams& hp_;
  ExpertLearningOptions options_;
  RoutingStats learned_;
  bool loaded_ = false;
  double loaded_tokens_ = 0;
  std::vector<float> loaded_shares_;
  int64_t preload_started_ = 0;
  std::vector<uint64_t> saved_counts_;  // token counts already merged by an earlier save()
  double saved_tokens_ = 0;
};

// The pre-load order (main-layer keys, hottest first, ties by key) and the hot-pinning seed
// uses that ExpertLearning hands the store (exposed for tests and `mote plan`).
std::vector<int64_t> hottest_first(const RoutingStats& stats);

// Experts pinned after a learned pre-load by default: half the slots, but never so many that the
// unpinned slots cannot hold one decoded token's experts of every MoE layer (LFU keeps what a
// token reuses; on the demo model pinning into that room lowered the first 64 tokens' hit rate
// from 0.40 to 0.32). So none when the cache streams (fewer slots than one token's experts):
// on the 17 GB synthetic model, pinning the 165 hottest of statistics learned on other text of
// the same kind covered 4.5% of the accesses, and the bytes read per token rose 16% (their hot
// set moves with the context, README "At the scale it was made for").
int64_t default_pin_slots(const ExpertStore& store, const HParams& hp);

}  // namespace mote
