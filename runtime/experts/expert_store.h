// ExpertStore: where the routed experts' weights come from (architecture principle 5).
//
// budget_bytes == 0: every expert is resident; acquire returns views into the file mapping (no
// copies, no I/O). budget_bytes > 0: routed experts are never read through the mapping (so the
// page cache cannot double the memory): they live in cache slots of slot_bytes() each (the
// largest expert segment rounded up to 4 KiB), budget / slot_bytes() of them (at most one per
// expert; at least n_experts_per_tok, else open fails naming the minimum), allocated once at
// create. A miss fills a slot with ONE read of the expert's segment through the file's
// DataLoader::reader (loader/data_loader.h): for a file, a pread (O_DIRECT when possible, else
// buffered + POSIX_FADV_DONTNEED); for a memory buffer, a copy from the buffer (no file). The
// views point into the slot at the same offsets as in the file: the file layout is the compute
// layout. Acquired experts are pinned until released; an unpinned slot is evicted by the
// EvictionPolicy when a slot is needed.
//
// Prefetch: prefetch(layer, ids) queues reads of experts that are not resident on a small I/O
// pool (IoPool), so they overlap with compute; an acquire that finds its expert still loading
// waits for that read instead of issuing its own. Prefetch never evicts a pinned slot.
// Hot pinning: with hot_slots > 0, every repin period the store pins the hot_slots resident
// experts used most (use counts halve each period), so a burst of cold experts cannot evict them.
//
// Learned start (preload): at open the model may hand the store the experts its learned routing
// statistics rank hottest (experts/routing_stats.h); they are read into the free slots in the
// background and the hottest are held by hot pinning, with their use counts seeded so the
// periodic repin keeps them until this run's routing says otherwise.
// Slot life cycle: empty -> loading (pinned by the reader) -> ready, or -> failed (the read's
// error is kept for whoever waited on it; the slot is freed when its last pin goes).
//
// Ownership: the store borrows the MoteFile and ModelWeights (the Model owns all three) and owns
// the slots, the reader (a DataLoader that must not outlive the MoteFile's), the I/O pool and the
// policy. Thread-safety: acquire/release/prefetch/stats are safe from many threads. The mutex is
// never held during a read, so sessions sharing a model read different experts in parallel.
// acquire/release/prefetch allocate nothing on success (the decode loop stays allocation-free).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "cpu/file_reader.h"  // AlignedBuffer, align_up (slot memory); reads go through loader_
#include "experts/eviction_policy.h"
#include "experts/expert_provider.h"
#include "experts/io_pool.h"
#include "loader/data_loader.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote {

class MoteFile;

struct ExpertStoreOptions {
  uint64_t budget_bytes = 0;                // 0 = every routed expert resident
  EvictionKind policy = EvictionKind::kLfu;  // measured: LFU >= LRU on trained routing (README)
  bool direct_io = true;                    // try O_DIRECT before buffered pread
  bool prefetch = true;                     // accept prefetch hints (budget mode only)
  int io_threads = 2;                       // background readers for prefetch (>= 1)
  int64_t hot_slots = 0;                    // slots kept for the hottest experts (clamped so
                                            // that n_experts_per_tok slots stay evictable)
};

// Counters since create() or reset_stats(). hits + misses == accesses.
struct ExpertStats {
  uint64_t accesses = 0;         // experts acquired
  uint64_t hits = 0;             // resident or already being read by a prefetch when acquired
  uint64_t misses = 0;           // read by the acquiring thread (demand reads)
  uint64_t bytes_read = 0;       // sum of the segment sizes read (demand + prefetch)
  uint64_t evictions = 0;        // slots reused for another expert
  uint64_t io_stall_ns = 0;      // nanoseconds acquire spent in its own reads or waiting for a prefetch
  uint64_t prefetch_reads = 0;   // experts read by prefetch (completed, successful or not)
  uint64_t prefetch_hits = 0;    // prefetched experts that were then acquired (first use)
  uint64_t prefetch_unused = 0;  // prefetched experts evicted before any use
  uint64_t prefetch_ns = 0;      // nanoseconds the I/O pool spent reading
  uint64_t read_ns = 0;          // nanoseconds inside reads, demand + prefetch, summed over threads
  uint64_t preloaded = 0;        // experts read at open from learned routing statistics (preload;
                                 // kept by reset_stats: a fact of the open)
};

// One routed expert's state at a moment (ExpertStore::snapshot).
struct ExpertState {
  uint64_t uses = 0;      // acquisitions since create (once per forward pass that routes to it)
  bool resident = false;  // in memory now: a ready slot, or always without a budget
  bool loading = false;   // being read into a slot now
  bool hot = false;       // held by hot pinning or the learned start (cannot be evicted)
};

// A pinned expert: its weights stay valid until ExpertStore::release(layer, id).
struct ExpertView {
  int64_t layer = 0;
  int64_t id = 0;
  ExpertWeights weights;  // gate [I, H], up [I, H], down [H, I]
};

class ExpertStore final : public ExpertProvider {
 public:
  // Errors: a budget below n_experts_per_tok slots (kInvalidArgument naming the minimum bytes),
  // slot allocation (kOutOfMemory), opening the file for reads (kIoError).
  static Result<std::unique_ptr<ExpertStore>> create(const MoteFile& file, const HParams& hp,
                                                     const ModelWeights& weights, const ExpertStoreOptions& options);
  ~ExpertStore() override;

  // One expert; release it with release(layer, id). Errors: bad (layer, id), read errors.
  Result<ExpertView> acquire(int64_t layer, int64_t id);
  void release(int64_t layer, int64_t id);

  // ExpertProvider: pins n distinct experts of `layer` at once (n <= max_group()); waits
  // while other threads hold too many slots. A read error unpins everything this call pinned and
  // leaves the failed slot empty (never half-valid).
  Status acquire(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out) override;
  void release(int64_t layer, const int32_t* ids, int64_t n) override;
  int64_t max_group() const override;
  // Queues background reads of those of the n experts of `layer` that are neither resident nor
  // loading, as far as unpinned slots allow (best effort; errors surface at acquire).
  void prefetch(int64_t layer, const int32_t* ids, int64_t n) override;
  bool wants_prefetch() const override { return pool_ != nullptr; }

  bool resident() const { return n_slots_ == 0; }
  int64_t slot_count() const { return n_slots_; }
  // Slots held for hot experts: periodic hot pinning plus the learned start's fixed pins.
  int64_t hot_slot_count() const { return hot_slots_ + fixed_slots_; }
  int64_t fixed_slot_count() const { return fixed_slots_; }
  uint64_t slot_bytes() const { return slot_bytes_; }
  uint64_t budget_bytes() const { return options_.budget_bytes; }
  EvictionKind policy() const { return options_.policy; }
  bool direct_io() const { return reader_ && reader_->direct_io(); }
  // Bytes of the expert's segment (what one miss reads); 0 for a non-MoE layer.
  uint64_t segment_bytes(int64_t layer, int64_t id) const;
  // Sum of segment_bytes over every routed expert of the main layers (MTP layers, also served by
  // the store as layers n_layers.., not counted).
  uint64_t total_expert_bytes() const;

  ExpertStats stats() const;
  // Bytes the n experts ids of `layer` would read if acquired now: those neither resident nor
  // being read (0 when resident, for a bad id, or an empty list). Takes the mutex (budget mode).
  // Used by the draft gate (families/decoder.h DraftRowGate) to price a draft token's misses.
  uint64_t missing_bytes(int64_t layer, const int32_t* ids, int64_t n) const;
  // Makes the resident experts of store layer `layer` (an MTP block: n_layers + i) the first to be
  // evicted, hot and fixed ones excepted; returns how many. For experts that will not be used
  // for a while: the MTP block's while the draft policy does not draft, so that they stop
  // holding slots the main layers miss. Takes the mutex; no-op when resident.
  int64_t demote_layer(int64_t layer);
  // Measured seconds per byte of one expert read (read time summed over threads / bytes read);
  // 1 ns per byte (1 GB/s) until 1 MiB has been read.
  double read_seconds_per_byte() const;
  void reset_stats();
  // Whether main layer `layer` has routed experts in the store.
  bool is_moe_layer(int64_t layer) const;
  // The state of every routed expert of main layer `layer` (n_routed_experts entries written to
  // out). Use counts are read with relaxed loads (never reset by reset_stats); residency is read
  // under the mutex, one consistent picture of the slots. False for a layer without experts.
  bool snapshot(int64_t layer, ExpertState* out) const;
  // Reads the experts `order` names (main-layer keys layer * n_routed_experts + id, hottest
  // first; other keys are skipped) into free slots, never evicting: on the I/O pool when there is
  // one (returns at once; a forward pass needing one still loading waits for that read), else on
  // this thread. The first `pin` of them stay pinned for the store's life (fixed: the periodic
  // hot repin never releases them; at most slot_count() - max_group() - the hot slots). Why
  // fixed: the repin picks by recent use counts, which a cache that streams more experts per token
  // than it has slots resets every period, so learned pins handed to it were lost within a few
  // tokens (measured on the 17 GB model, README "At the scale it was made for"). `seed_uses`
  // ([n_layers * n_routed_experts] or empty) seeds those use counts. Budget mode only (a no-op
  // when resident). Returns how many reads were started. Call before the first forward pass.
  int64_t preload(const std::vector<int64_t>& order, int64_t pin, const std::vector<uint32_t>& seed_uses);
  // Tokens routed to each main-layer expert since create ([n_layers * n_routed_experts], from
  // count_routed_tokens: a prefill pass of T tokens adds T over its experts), and the tokens the
  // busiest MoE layer routed (per-layer token count: each token goes to k experts of a layer).
  std::vector<uint64_t> routed_token_counts() const;
  double routed_tokens() const;
  void count_routed_tokens(int64_t layer, const int32_t* ids, const int32_t* tokens, int64_t n) override;
  // Blocks until no prefetch read is queued or running (tests; statistics at a quiet point).
  void wait_idle();
  // Test hook: after n more successful reads, every read fails with kIoError until called
  // again with n < 0 (off).
  void inject_read_failure_after(int64_t n);

 private:
  struct Entry {              // one routed expert of a main MoE layer
    uint64_t file_offset = 0;  // segment offset in the file (bytes)
    uint64_t size = 0;         // segment size (bytes)
    uint64_t gate_off = 0, up_off = 0, down_off = 0;  // tensor offsets inside the segment
    int32_t slot = -1;         // cache slot holding it (in any state), or -1
    uint32_t uses = 0;         // acquires, halved every repin period (hot pinning)
  };
  enum class SlotState : uint8_t { kEmpty, kLoading, kReady, kFailed };
  struct Slot {
    int64_t key = -1;           // layer * E + id, or -1 when empty
    uint32_t pins = 0;          // acquirers + the reader while loading + 1 when hot
    SlotState state = SlotState::kEmpty;
    bool prefetched = false;    // filled by prefetch and not acquired since
    bool hot = false;           // pinned by hot pinning
    bool fixed = false;         // pinned by the learned start (preload) for the store's life
    Status error;               // the failed read's status (kFailed)
  };

  ExpertStore(const HParams& hp, const ModelWeights& w, const ExpertStoreOptions& o)
      : hp_(hp), weights_(w), options_(o) {}
  Status index_experts(const MoteFile& file);
  Status allocate_slots(const MoteFile& file);
  Status check_id(int64_t layer, int64_t id) const;
  // Main layers, then the MTP blocks (layer n_layers + i).
  int64_t n_store_layers() const { return hp_.n_layers + int64_t(weights_.mtp.size()); }
  const FfnWeights* ffn_of(int64_t layer) const;  // null outside [0, n_store_layers())
  Entry& entry(int64_t layer, int64_t id) { return entries_[size_t(layer * hp_.n_routed_experts + id)]; }
  ExpertWeights slot_view(int64_t layer, int64_t id, const Entry& e) const;
  // Under mu_: can n experts of `layer` be pinned now (enough evictable slots for the misses)?
  bool group_fits(int64_t layer, const int32_t* ids, int64_t n) const;
  // Under mu_: an empty or evicted slot for a miss; -1 if every slot is pinned.
  int32_t take_slot();
  // Under mu_: marks `slot` loading for entry key and pins it for the reader.
  void start_loading(int64_t key, int32_t slot, bool prefetched);
  // Without mu_: reads entry `key` into `slot` (counts the read time into *ns).
  Status read_into(int64_t key, int32_t slot, uint64_t* ns);
  // Under mu_: ends a read (ready or failed) and drops the reader's pin.
  void finish_loading(int32_t slot, Status st);
  // Under mu_: drops one pin; a failed slot with no pins left goes back to the free list.
  void unpin(int32_t slot);
  // Under mu_: pins the hot_slots_ most used resident experts (called every repin period).
  void repin_hot();
  // An I/O pool job: reads, then finishes the slot (prefetch, preload, or a demand read handed off).
  void run_io_job(const IoJob& job);
  // Under mu_: finish_loading, and a failed read of a hot (preloaded) slot drops the hot pin too.
  void finish_preload_or_loading(int32_t slot, Status st);
  // Under mu_: pins the experts of the group that have a slot (ready or loading); slot_of[i] =
  // their slot or -1. Returns whether one is still loading.
  bool pin_present(int64_t layer, const int32_t* ids, int64_t n, int32_t* slot_of);
  // Under mu_: gives every expert with slot_of[i] < 0 a loading slot pinned for the acquirer;
  // miss[i] says which. Returns how many.
  int64_t start_misses(int64_t layer, const int32_t* ids, int64_t n, int32_t* slot_of, bool* miss);
  // Called with `lock` held; reads the misses (this thread and the I/O pool), unlocking meanwhile.
  void read_misses(std::unique_lock<std::mutex>& lock, int64_t layer, const int32_t* ids, int64_t n,
                   const int32_t* slot_of, bool* miss);
  // acquire's budget-mode path (n <= max_group()).
  Status acquire_slots(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out);

  const HParams& hp_;
  const ModelWeights& weights_;
  ExpertStoreOptions options_;
  std::vector<Entry> entries_;          // [n_layers * E]; empty entries for dense layers
  std::unique_ptr<DataLoader> reader_;  // budget mode only (MoteFile::loader().reader())
  AlignedBuffer slots_data_;            // [n_slots, slot_bytes]
  int64_t n_slots_ = 0;
  uint64_t slot_bytes_ = 0;
  std::vector<Slot> slots_;             // [n_slots]
  std::vector<uint32_t> pins_;          // [n_slots] mirror of Slot::pins for the policy
  std::vector<int32_t> free_;           // stack of empty slots (capacity n_slots)
  std::vector<int32_t> hot_order_;      // [n_slots] scratch of repin_hot
  int64_t hot_slots_ = 0;
  int64_t fixed_slots_ = 0;             // pinned by preload (never repinned)
  uint64_t repin_period_ = 0;           // accesses between repins
  uint64_t accesses_since_repin_ = 0;
  int64_t prefetch_in_flight_ = 0;
  std::unique_ptr<EvictionPolicy> policy_;
  mutable std::mutex mu_;
  std::condition_variable changed_;     // a slot was unpinned, loaded or failed
  std::atomic<uint64_t> accesses_{0}, hits_{0}, misses_{0}, bytes_read_{0}, evictions_{0}, stall_ns_{0};
  std::atomic<uint64_t> prefetch_reads_{0}, prefetch_hits_{0}, prefetch_unused_{0}, prefetch_ns_{0}, read_ns_{0};
  std::atomic<int64_t> fail_after_{-1};
  std::atomic<uint64_t> preloaded_{0};
  // [n_store_layers * E] tokens routed per expert (count_routed_tokens; relaxed).
  std::unique_ptr<std::atomic<uint64_t>[]> token_counts_;
  // [n_store_layers * E] acquisitions per expert since create (relaxed; counted on every acquire,
  // resident or not). Kept apart from Entry::uses, which hot pinning halves.
  std::unique_ptr<std::atomic<uint64_t>[]> use_counts_;
  std::unique_ptr<IoPool> pool_;        // last: destroyed first, while the slots still exist
};

}  // namespace mote
