// Model: an opened .mote file with validated hyper-parameters and bound weights.
//
// Model::open = MoteFile::open (header, FlatBuffer, bounds) -> HParams::from_config (field
// checks) -> bind_weights (roles, shapes, expert tables). No weight matrix is copied: views
// point into the mapping (MLA reads kv_b_proj in place). Ownership: the Model owns the file's
// DataLoader (a mapping, or a borrowed memory buffer the caller keeps alive) and the few f32
// copies of non-F32 1-D vectors; views stay valid while it lives.
// Routed experts are served by the Model's ExpertStore (experts/expert_store.h): resident views
// into the mapping by default, cache slots filled by pread under an expert byte budget.
// The Model owns its Backend (ModelOptions::backend) and the weights placed on it.
// Thread-safety: immutable after open() except the ExpertStore and the Backend, which are
// internally synchronised; any number of Sessions may share one Model.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "core/status.h"
#include "experts/device_expert_cache.h"
#include "experts/expert_learning.h"
#include "experts/expert_store.h"
#include "experts/memory_plan.h"
#include "format/mote_file.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote {

class Model;

struct ModelOptions {
  bool verify_checksums = false;  // recompute every segment checksum at open (a full read; with an
                                  // expert budget the pages read are dropped again afterwards)
  uint64_t expert_budget_bytes = 0;  // routed-expert cache size; 0 = every expert resident
  EvictionKind expert_policy = EvictionKind::kLfu;  // LFU with aging; kLru is the baseline
  bool expert_prefetch = true;     // budget mode: read the next layer's predicted experts ahead
  int64_t expert_hot_slots = 0;    // budget mode: slots pinned for the most used experts
  // Learning expert cache (experts/expert_learning.h): load the routing statistics sidecar at
  // open (with a budget: pre-load and pin the hottest experts) and save it when the Model is
  // destroyed or save_expert_stats() is called. Path: expert_stats_path, or when empty the
  // default (default_routing_stats_path: the user cache dir, else next to the model file).
  bool expert_learn = false;
  std::string expert_stats_path;
  int64_t expert_learn_pin = -1;   // experts pinned after the pre-load; -1: half the slots
  // Load progress, called on the opening thread with the fraction of open() done: in [0, 1],
  // non-decreasing, 1 once the model is ready (after mapping, each checksummed segment when
  // verify_checksums, binding, expert store setup). Returning false cancels: open() frees what
  // it built and returns StatusCode::kCancelled. May be empty.
  std::function<bool(float fraction)> progress;
  // The backend the model's forward runs on (kind, kernel threads, kernel table); Model::open
  // creates it and places the weights through it.
  backend::BackendOptions backend;
  // Automatic expert budget: expert_budget_bytes is ignored and the budget is planned at open
  // (experts/memory_plan.h) from mem_limit_bytes, or when 0 the memory found (MemAvailable,
  // cgroup limits), minus the dense weights, plan_session's KV + scratch and a margin. A plan
  // below the store's minimum fails the open with the numbers.
  bool expert_budget_auto = false;
  uint64_t mem_limit_bytes = 0;
  // The KV and scratch bytes of the session the plan keeps room for (session_bytes of
  // session/session.h at the planning context; that layer is above the Model, so the caller
  // supplies it). Called once in open() on the bound model before its expert store exists. Empty:
  // 0 and 0. When set, the plan is computed (and memory_plan() filled) even without auto.
  std::function<Result<std::pair<uint64_t, uint64_t>>(const Model&)> plan_session;
  // ---- placement on a backend with separate device memory (Backend::unified_memory() false;
  // ignored on the CPU backend). Dense weights go to the device first, then the sessions' KV and
  // scratch are kept room for, and the rest of the budget holds the device expert cache
  // (experts/device_expert_cache.h); routed experts not on the device come from the expert store.
  // The device memory the model and its sessions may use (bytes); 0 = what the device holds
  // (Backend::device_capacity(), or every expert when it has no bound). Above
  // kMaxVramBudgetBytes, or above the device's capacity, open fails (kInvalidArgument); below
  // the dense weights plus the session bytes it fails naming the three (kOutOfMemory).
  uint64_t vram_budget_bytes = 0;
  // Device bytes kept for the sessions' KV caches and scratch; 0: plan_session's one session when
  // set, else nothing (then a session that does not fit fails at Session::create).
  uint64_t vram_session_bytes = 0;
  // How misses of the device cache are served: kAuto chooses per layer from measured speeds.
  TierMode expert_tier_mode = TierMode::kAuto;
};

// Largest ModelOptions::vram_budget_bytes accepted (1 PiB): anything above is a mistake.
inline constexpr uint64_t kMaxVramBudgetBytes = uint64_t(1) << 50;

// Where the model's memory went on a backend with separate device memory (Model::placement()).
struct DevicePlacement {
  bool separate = false;          // the backend's memory is separate (else nothing below is set)
  uint64_t budget_bytes = 0;      // the VRAM budget in effect (0: no bound)
  uint64_t dense_bytes = 0;       // device bytes the dense weights took
  uint64_t session_bytes = 0;     // kept for the sessions' KV and scratch
  uint64_t cache_bytes = 0;       // given to the device expert cache (whole slots)
  double place_seconds = 0;       // time placing the dense weights took (the first upload speed)
};

// The memory plan of an open (ModelOptions::expert_budget_auto / plan_session).
struct ModelMemoryPlan {
  bool computed = false;        // false: no plan was asked for
  Status status;                // the probe's or the session sizing's error (then nothing below)
  MemoryProbe probe;            // what was found (available = mem_limit_bytes when explicit)
  bool explicit_limit = false;  // mem_limit_bytes given
  BudgetInputs inputs;
  BudgetPlan plan;
};

class Model {
 public:
  // Maps the .mote file at `path` (open_mapped_file, loader/data_loader.h) and opens it.
  static Result<std::unique_ptr<Model>> open(const std::string& path, const ModelOptions& options = {});
  // Opens the model whose bytes `loader` holds (it must view them in place: a mapped file or a
  // memory buffer). Error messages are prefixed with loader->name(). The Model owns the loader.
  static Result<std::unique_ptr<Model>> open(std::unique_ptr<DataLoader> loader, const ModelOptions& options = {});

  const HParams& hparams() const { return hparams_; }
  // The bound weights: host views into the mapping (what the file holds).
  const ModelWeights& weights() const { return weights_; }
  // The same weights placed on the backend (model/device_weights.h; routed expert tables empty):
  // what the decoder reads. For the CPU backend the views equal weights()'.
  const ModelWeights& device_weights() const { return device_weights_; }
  // The model's backend (thread-safe; shared by every Session of this Model).
  backend::Backend& backend() const { return *backend_; }
  const LayerWeights& layer(int64_t index) const { return weights_.layers[size_t(index)]; }
  // Routed expert `id` of MoE layer `layer` as bound in the file (views into the mapping; with an
  // expert budget the forward reads experts through expert_store() instead).
  const ExpertWeights& expert(int64_t layer, int64_t id) const {
    return weights_.layers[size_t(layer)].ffn.experts[size_t(id)];
  }
  bool has_mtp() const { return !weights_.mtp.empty(); }
  // Bytes of every segment except the routed experts' (of all layers, MTP included): what stays
  // in memory whatever the expert budget is (the dense-weight term of the memory bound).
  uint64_t dense_bytes() const;
  const MoteFile& file() const { return *file_; }
  // Model bytes in this process's memory now: the resident pages of the file mapping in this
  // process (its RSS share, from /proc/self/smaps; page-cache pages it has not touched do not
  // count) plus the expert store's cache slots under a budget. Reads /proc: call it for
  // statistics, not per token. Thread-safe.
  uint64_t resident_bytes() const;
  // The routed-expert store (thread-safe; shared by every Session of this Model).
  ExpertStore& expert_store() const { return *experts_; }
  // The device tier of the routed experts: null when the backend has unified memory or the
  // model has no routed experts (thread-safe; shared by every Session of this Model).
  DeviceExpertCache* device_experts() const { return device_experts_.get(); }
  // The device placement made at open (separate false on unified memory).
  const DevicePlacement& placement() const { return placement_; }
  // The learning expert cache, or null when ModelOptions::expert_learn was off.
  const ExpertLearning* expert_learning() const { return learning_.get(); }
  // Merges the routing since open (or the last save) into the statistics file now; OK and a
  // no-op without learning. Also done by the destructor (a failure there is logged). One thread
  // at a time.
  Status save_expert_stats() const;
  ~Model();
  // The memory plan made at open (computed false when none was asked for).
  const ModelMemoryPlan& memory_plan() const { return memory_plan_; }

 private:
  Model() = default;
  // The VRAM budget's split and the device expert cache (model/device_placement.cpp), after the
  // dense weights were placed (in place_seconds) and the expert store exists.
  Status place_expert_tiers(const ModelOptions& options, double place_seconds);
  std::unique_ptr<MoteFile> file_;
  HParams hparams_;
  ModelWeights weights_;
  std::unique_ptr<backend::Backend> backend_;
  ModelWeights device_weights_;  // weights_ placed on backend_
  std::unique_ptr<ExpertStore> experts_;  // borrows file_, hparams_, weights_
  // Declared after experts_ and backend_: destroyed first (borrows the store, frees through the backend).
  std::unique_ptr<DeviceExpertCache> device_experts_;
  DevicePlacement placement_;
  std::unique_ptr<ExpertLearning> learning_;  // borrows experts_, hparams_
  ModelMemoryPlan memory_plan_;
};

}  // namespace mote
