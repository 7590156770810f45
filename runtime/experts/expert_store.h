// ExpertStore: where the routed experts' weights come from (architecture principle 5).
//
// budget_bytes == 0: every expert is resident; acquire returns views into the file mapping (no
// copies, no I/O). budget_bytes > 0: routed experts are never read through the mapping (so the
// page cache cannot double the memory): they live in cache slots of slot_bytes() each (the
// largest expert segment rounded up to 4 KiB), budget / slot_bytes() of them (at most one per
// expert; at least n_experts_per_tok, else open fails naming the minimum), allocated once at
// create. A miss fills a slot with ONE pread of the expert's segment (O_DIRECT when possible,
// else buffered + POSIX_FADV_DONTNEED). The views point into the slot at the same offsets as in
// the file: the file layout is the compute layout. Acquired experts are pinned until released;
// an unpinned slot is evicted by the EvictionPolicy when a slot is needed.
//
// Ownership: the store borrows the MoteFile and ModelWeights (the Model owns all three) and owns
// the slots, the reader and the policy. Thread-safety: acquire/release/stats are safe from many
// threads (one mutex held across a miss's read; waiters for free slots sleep on a condvar).
// acquire/release allocate nothing on success (the decode loop stays allocation-free).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "cpu/file_reader.h"
#include "experts/eviction_policy.h"
#include "graph/ffn.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote {

class MoteFile;

struct ExpertStoreOptions {
  uint64_t budget_bytes = 0;                // 0 = every routed expert resident
  EvictionKind policy = EvictionKind::kLru;
  bool direct_io = true;                    // try O_DIRECT before buffered pread
};

// Counters since create() or reset_stats(). hits + misses == accesses.
struct ExpertStats {
  uint64_t accesses = 0;     // experts acquired
  uint64_t hits = 0;         // already resident (always, in resident mode)
  uint64_t misses = 0;       // read from the file
  uint64_t bytes_read = 0;   // sum of the segment sizes read
  uint64_t evictions = 0;    // slots reused for another expert
  uint64_t io_stall_ns = 0;  // nanoseconds spent in reads
};

// A pinned expert: its weights stay valid until ExpertStore::release(layer, id).
struct ExpertView {
  int64_t layer = 0;
  int64_t id = 0;
  ExpertWeights weights;  // gate [I, H], up [I, H], down [H, I]
};

class ExpertStore final : public graph::ExpertProvider {
 public:
  // Errors: a budget below n_experts_per_tok slots (kInvalidArgument naming the minimum bytes),
  // slot allocation (kOutOfMemory), opening the file for reads (kIoError).
  static Result<std::unique_ptr<ExpertStore>> create(const MoteFile& file, const HParams& hp,
                                                     const ModelWeights& weights, const ExpertStoreOptions& options);
  ~ExpertStore() override;

  // One expert; release it with release(layer, id). Errors: bad (layer, id), read errors.
  Result<ExpertView> acquire(int64_t layer, int64_t id);
  void release(int64_t layer, int64_t id);

  // graph::ExpertProvider: pins n distinct experts of `layer` at once (n <= max_group()); waits
  // while other threads hold too many slots. A read error unpins everything this call pinned and
  // leaves the failed slot empty (never half-valid).
  Status acquire(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out) override;
  void release(int64_t layer, const int32_t* ids, int64_t n) override;
  int64_t max_group() const override;

  bool resident() const { return n_slots_ == 0; }
  int64_t slot_count() const { return n_slots_; }
  uint64_t slot_bytes() const { return slot_bytes_; }
  uint64_t budget_bytes() const { return options_.budget_bytes; }
  EvictionKind policy() const { return options_.policy; }
  bool direct_io() const { return reader_ && reader_->direct(); }
  // Bytes of the expert's segment (what one miss reads); 0 for a non-MoE layer.
  uint64_t segment_bytes(int64_t layer, int64_t id) const;
  // Sum of segment_bytes over every routed expert of the main layers.
  uint64_t total_expert_bytes() const;

  ExpertStats stats() const;
  void reset_stats();
  // Test hook: after n more successful reads, every read fails with kIoError until called
  // again with n < 0 (off).
  void inject_read_failure_after(int64_t n);

 private:
  struct Entry {              // one routed expert of a main MoE layer
    uint64_t file_offset = 0;  // segment offset in the file (bytes)
    uint64_t size = 0;         // segment size (bytes)
    uint64_t gate_off = 0, up_off = 0, down_off = 0;  // tensor offsets inside the segment
    int32_t slot = -1;         // cache slot holding it, or -1
  };

  ExpertStore(const HParams& hp, const ModelWeights& w, const ExpertStoreOptions& o)
      : hp_(hp), weights_(w), options_(o) {}
  Status index_experts(const MoteFile& file);
  Status check_id(int64_t layer, int64_t id) const;
  Entry& entry(int64_t layer, int64_t id) { return entries_[size_t(layer * hp_.n_routed_experts + id)]; }
  ExpertWeights slot_view(int64_t layer, int64_t id, const Entry& e) const;
  // Under mu_: the slot for a miss (empty or evicted); -1 if all pinned.
  int32_t take_slot();
  // Under mu_: reads entry e into `slot`; on error the slot goes back to the free list.
  Status fill(Entry& e, int64_t key, int32_t slot);

  const HParams& hp_;
  const ModelWeights& weights_;
  ExpertStoreOptions options_;
  std::vector<Entry> entries_;          // [n_layers * E]; empty entries for dense layers
  std::unique_ptr<FileReader> reader_;  // budget mode only
  AlignedBuffer slots_;                 // [n_slots, slot_bytes]
  int64_t n_slots_ = 0;
  uint64_t slot_bytes_ = 0;
  std::vector<int64_t> slot_key_;       // [n_slots] layer * E + id, or -1 when empty
  std::vector<uint32_t> pins_;          // [n_slots]
  std::vector<int32_t> free_;           // stack of empty slots (capacity n_slots)
  std::unique_ptr<EvictionPolicy> policy_;
  mutable std::mutex mu_;
  std::condition_variable unpinned_;
  std::atomic<uint64_t> accesses_{0}, hits_{0}, misses_{0}, bytes_read_{0}, evictions_{0}, stall_ns_{0};
  std::atomic<int64_t> fail_after_{-1};
};

}  // namespace mote
