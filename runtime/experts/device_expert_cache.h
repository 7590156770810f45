// DeviceExpertCache: the device (VRAM) tier of the routed experts, for a backend whose memory is
// separate from the host's (Backend::unified_memory() == false: a GPU, or the staging test
// double). The tiers, fastest first:
//   1. device: slots of Backend::expert_slot_bytes() in one device allocation, holding hot
//      experts; a hit is used in place (no transfer);
//   2. host RAM: the ExpertStore's resident experts (the mapping, or its cache slots);
//   3. disk: the ExpertStore's reads under an expert budget.
// An expert that misses the device is served one of two ways, chosen PER LAYER (layer_tier):
//   kUpload: copied into a device slot (Backend::stage_experts), evicting the slot the
//            EvictionPolicy picks (the same LRU/LFU classes as the ExpertStore), then run there;
//   kCpu:    its gathered activation rows are downloaded, the FFN runs on the host weights with
//            the CPU kernels (host_backend(), same kernel table), the result rows are uploaded
//            and scatter-added on the device (blocks/ffn_tiers.cpp).
// The choice compares, for one miss of the layer, the measured upload time of its weights
// (upload seconds per byte x the layer's expert bytes) with the measured CPU time of its tokens
// (seconds per expert-token, row transfers included, x the layer's average tokens per miss).
// Both speeds are re-measured as the run goes (exponential averages); in kAuto every
// kProbePeriod-th miss of a layer takes the other way so that the speed it does not use stays
// current. choose_tier() is the pure rule (unit-tested).
//
// Resident mode: when the slots hold every routed expert (cache_bytes covers them), all are
// uploaded at create and the mapping never changes: lookup takes no lock and the decode loop
// neither allocates nor locks. Otherwise lookup/upload/unpin take the cache's mutex (one short
// critical section each; never held during a transfer).
//
// Ownership: the cache owns its device slot allocation (freed by the destructor through the
// backend, which must outlive it) and a CPU backend for kCpu; it borrows the backend, the
// hparams and the store (the Model owns all). Thread-safety: every member may be called from
// concurrent forwards (sessions of one Model); counters are relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "experts/eviction_policy.h"
#include "experts/expert_store.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote {

// Forced or measured choice for misses (ModelOptions::expert_tier_mode).
enum class TierMode { kAuto, kUpload, kCpu };
const char* tier_mode_name(TierMode mode);

// How a layer's misses are served now (inspectable: DeviceExpertCache::layer_tier).
enum class LayerTier : uint8_t {
  kNone,      // no routed experts at this layer
  kResident,  // every expert of the model is on the device (no misses)
  kUpload,    // misses are uploaded into a device slot
  kCpu,       // misses are computed on the host
};
const char* layer_tier_name(LayerTier tier);

// How one expert access of a group is served.
enum class ExpertTier : uint8_t { kDevice, kUpload, kCpu };

struct DeviceCacheOptions {
  uint64_t cache_bytes = 0;  // device bytes for slots (whole slots are used; capped at every expert)
  EvictionKind policy = EvictionKind::kLfu;
  TierMode mode = TierMode::kAuto;
  // Upload speed measured while the dense weights were placed (seconds per byte; 0 = unknown):
  // the first estimate, replaced by the measured uploads of experts.
  double initial_upload_seconds_per_byte = 0;
};

// Counters since create (relaxed). device_hits + uploads_* + cpu_* == routed expert accesses
// (one per expert per MoE layer per forward pass).
struct TierStats {
  uint64_t device_hits = 0;   // found on the device, used in place
  uint64_t uploads_host = 0;  // uploaded; the store had it in host RAM
  uint64_t uploads_disk = 0;  // uploaded; the store read it from disk first
  uint64_t cpu_host = 0;      // computed on the CPU; in host RAM
  uint64_t cpu_disk = 0;      // computed on the CPU; read from disk first
  uint64_t no_slot = 0;       // of cpu_*: meant for upload, but every slot was pinned
  uint64_t probes = 0;        // misses served the other way to re-measure (kAuto)
  uint64_t evictions = 0;     // slots reused for another expert
  uint64_t upload_bytes = 0, upload_ns = 0;  // expert uploads
  uint64_t cpu_tokens = 0, cpu_ns = 0;       // CPU-computed expert-tokens, and their time
};

// The rule of the per-layer choice: kCpu when tokens_per_miss * cpu_seconds_per_token is below
// expert_bytes * upload_seconds_per_byte, else kUpload. An unknown speed (<= 0) gives the way
// that measures it (upload unknown: kUpload; CPU unknown: kCpu).
LayerTier choose_tier(double upload_seconds_per_byte, double cpu_seconds_per_token, double tokens_per_miss,
                      uint64_t expert_bytes);

class DeviceExpertCache {
 public:
  // Misses of a layer between two probes of the way it does not use (kAuto).
  static constexpr uint64_t kProbePeriod = 16;

  // Errors: the slot allocation over the device's capacity (kOutOfMemory, naming the bytes and
  // the capacity), the resident mode's expert reads (the store's errors), the CPU backend.
  static Result<std::unique_ptr<DeviceExpertCache>> create(backend::Backend& b, const HParams& hp,
                                                           const ModelWeights& host, ExpertStore& store,
                                                           const DeviceCacheOptions& options);
  ~DeviceExpertCache();
  DeviceExpertCache(const DeviceExpertCache&) = delete;
  DeviceExpertCache& operator=(const DeviceExpertCache&) = delete;

  bool all_resident() const { return resident_; }
  int64_t slot_count() const { return n_slots_; }
  uint64_t slot_bytes() const { return slot_bytes_; }
  int64_t total_experts() const { return total_experts_; }
  TierMode mode() const { return options_.mode; }
  // Store layers: main layers, then MTP blocks (n_layers + i), as the ExpertStore counts them.
  int64_t n_layers() const { return n_layers_; }
  LayerTier layer_tier(int64_t layer) const;
  double upload_seconds_per_byte() const;
  double cpu_seconds_per_token() const;
  TierStats stats() const;
  // The CPU kernels that run kCpu misses (same kernel table and threads as the device backend's
  // inner kernels); host memory only.
  backend::Backend& host_backend() const { return *host_; }

  // ---- one group of moe_ffn_tiered (blocks/ffn_tiers.h) ----
  // For experts ids[0..n) of `layer` (tokens[i] routed to each): hits get their device views in
  // out[i], tier[i] = kDevice and slot[i] pinned; misses get tier[i] = the way to serve them now
  // (the layer's choice, forced mode, or a probe) and slot[i] = -1.
  void lookup(int64_t layer, const int32_t* ids, const int32_t* tokens, int64_t n, ExpertWeights* out,
              ExpertTier* tier, int32_t* slot);
  // Uploads expert (layer, id) from `host` (the store's pinned views; `bytes`: its segment) into
  // a slot the policy frees, pinned: *out = its device views, *slot = the slot. False when every
  // slot is pinned (the caller computes it on the CPU; counted in no_slot). Counts the upload.
  bool upload(int64_t layer, int32_t id, const ExpertWeights& host, uint64_t bytes, bool from_disk,
              ExpertWeights* out, int32_t* slot);
  // Drops the pins lookup/upload took (slot < 0 skipped).
  void unpin(const int32_t* slot, int64_t n);
  // A miss computed on the CPU: `tokens` expert-tokens in `ns` nanoseconds (row transfers
  // included). Updates the CPU speed and the layer's choice.
  void record_cpu(int64_t layer, int64_t tokens, uint64_t ns, bool from_disk, bool no_slot);

 private:
  struct Slot {
    int64_t key = -1;  // layer * E + id, -1 when empty
    ExpertWeights view;  // device views of the copy (valid while key >= 0 or pinned)
  };
  struct Layer {
    LayerTier tier = LayerTier::kNone;
    uint64_t expert_bytes = 0;    // largest expert segment of the layer
    double tokens_per_miss = 1;   // exponential average
    uint64_t misses = 0;
  };

  DeviceExpertCache(backend::Backend& b, const HParams& hp, ExpertStore& store, const DeviceCacheOptions& o)
      : b_(b), hp_(hp), store_(store), options_(o) {}
  Status make_resident(const ModelWeights& host);
  // Under mu_: the way to serve a miss of `layer` with `tokens` tokens now.
  ExpertTier choose_miss(Layer& layer, int64_t tokens);
  // Under mu_: re-evaluates the layer's choice from the current speeds.
  void update_choice(Layer& layer);
  void* slot_address(int32_t slot) const { return static_cast<uint8_t*>(slots_) + uint64_t(slot) * slot_bytes_; }

  backend::Backend& b_;
  const HParams& hp_;
  ExpertStore& store_;
  DeviceCacheOptions options_;
  std::unique_ptr<backend::Backend> host_;
  int64_t n_layers_ = 0, total_experts_ = 0, n_slots_ = 0;
  uint64_t slot_bytes_ = 0;
  void* slots_ = nullptr;           // device [n_slots, slot_bytes]
  bool resident_ = false;
  std::vector<int32_t> slot_of_;    // [n_layers * E]: slot holding the expert, or -1
  std::vector<Slot> slots_info_;    // [n_slots]
  std::vector<uint32_t> pins_;      // [n_slots] for the policy
  std::vector<Layer> layers_;       // [n_layers]
  std::unique_ptr<EvictionPolicy> policy_;
  double upload_spb_ = 0, cpu_spt_ = 0;  // measured speeds (under mu_)
  mutable std::mutex mu_;
  std::atomic<uint64_t> hits_{0}, up_host_{0}, up_disk_{0}, cpu_host_{0}, cpu_disk_{0}, no_slot_{0}, probes_{0};
  std::atomic<uint64_t> evictions_{0}, up_bytes_{0}, up_ns_{0}, cpu_tokens_{0}, cpu_ns_{0};
};

}  // namespace mote
