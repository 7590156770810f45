#include "experts/expert_store.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "format/mote_file.h"

namespace mote {
namespace {

uint64_t elapsed_ns(std::chrono::steady_clock::time_point t0) {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

ExpertStore::~ExpertStore() { pool_.reset(); }  // join the readers before the slots go

Result<std::unique_ptr<ExpertStore>> ExpertStore::create(const MoteFile& file, const HParams& hp,
                                                         const ModelWeights& weights,
                                                         const ExpertStoreOptions& options) {
  std::unique_ptr<ExpertStore> s(new ExpertStore(hp, weights, options));
  MOTE_RETURN_IF_ERROR(s->index_experts(file));
  if (options.budget_bytes == 0 || s->entries_.empty()) return s;
  MOTE_RETURN_IF_ERROR(s->allocate_slots(file));
  return s;
}

// Records every main-layer routed expert's segment and tensor offsets from the expert tables.
Status ExpertStore::index_experts(const MoteFile& file) {
  const int64_t E = hp_.n_routed_experts;
  if (E <= 0 || file.model().expert_layers() == nullptr) return Status::ok();
  entries_.assign(size_t(n_store_layers() * E), Entry{});
  use_counts_ = std::make_unique<std::atomic<uint64_t>[]>(entries_.size());  // value-initialised: 0
  token_counts_ = std::make_unique<std::atomic<uint64_t>[]>(entries_.size());
  for (const fb::ExpertLayer* el : *file.model().expert_layers()) {
    const int64_t l = el->layer();
    const FfnWeights* ffn = ffn_of(l);
    if (ffn == nullptr || !ffn->moe) continue;
    for (int64_t id = 0; id < E; ++id) {
      const uint32_t seg = el->experts()->Get(uint32_t(id))->segment();
      const uint8_t* base = file.segment_data(seg);
      const ExpertWeights& w = ffn->experts[size_t(id)];
      Entry& e = entry(l, id);
      e.file_offset = file.segment_file_offset(seg);
      e.size = file.segment_size(seg);
      e.gate_off = uint64_t(w.gate.data - base);
      e.up_off = uint64_t(w.up.data - base);
      e.down_off = uint64_t(w.down.data - base);
    }
  }
  return Status::ok();
}

// Budget mode: sizes and allocates the slots, opens the reader (DataLoader::reader), starts the I/O pool.
Status ExpertStore::allocate_slots(const MoteFile& file) {
  uint64_t max_seg = 0, n_experts = 0;
  for (const Entry& e : entries_)
    if (e.size > 0) max_seg = std::max(max_seg, e.size), ++n_experts;
  if (n_experts == 0) return Status::ok();
  slot_bytes_ = align_up(max_seg, kDirectIoAlign);
  const uint64_t k = uint64_t(std::max<int64_t>(hp_.n_experts_per_tok, 1));
  const uint64_t fit = options_.budget_bytes / slot_bytes_;
  if (fit < k)
    return invalid_argument("expert budget of " + std::to_string(options_.budget_bytes) + " bytes holds " +
                            std::to_string(fit) + " expert slots of " + std::to_string(slot_bytes_) +
                            " bytes; at least n_experts_per_tok = " + std::to_string(k) + " slots (" +
                            std::to_string(k * slot_bytes_) + " bytes) are needed");
  n_slots_ = int64_t(std::min(fit, n_experts));
  MOTE_ASSIGN_OR_RETURN(slots_data_, AlignedBuffer::allocate(uint64_t(n_slots_) * slot_bytes_));
  MOTE_ASSIGN_OR_RETURN(reader_, file.loader().reader(options_.direct_io));  // pread, or the memory buffer
  slots_.assign(size_t(n_slots_), Slot{});
  pins_.assign(size_t(n_slots_), 0);
  free_.reserve(size_t(n_slots_));
  for (int64_t i = n_slots_ - 1; i >= 0; --i) free_.push_back(int32_t(i));
  hot_order_.resize(size_t(n_slots_));
  hot_slots_ = std::clamp<int64_t>(options_.hot_slots, 0, n_slots_ - max_group());
  repin_period_ = uint64_t(std::max<int64_t>(hp_.n_layers * hp_.n_experts_per_tok * 8, 64));
  policy_ = make_eviction_policy(options_.policy, int32_t(n_slots_));
  if (options_.prefetch && n_slots_ > max_group())
    pool_ = std::make_unique<IoPool>(std::max(options_.io_threads, 1), size_t(n_slots_),
                                     [this](const IoJob& job) { run_io_job(job); });
  return Status::ok();
}

Status ExpertStore::check_id(int64_t layer, int64_t id) const {
  const FfnWeights* ffn = ffn_of(layer);
  if (ffn == nullptr || !ffn->moe || id < 0 ||
      id >= hp_.n_routed_experts)
    return invalid_argument("expert store: no routed expert " + std::to_string(id) + " in layer " +
                            std::to_string(layer));
  return Status::ok();
}

uint64_t ExpertStore::segment_bytes(int64_t layer, int64_t id) const {
  if (!check_id(layer, id)) return 0;
  return entries_[size_t(layer * hp_.n_routed_experts + id)].size;
}

uint64_t ExpertStore::total_expert_bytes() const {
  uint64_t total = 0;
  const size_t main_entries = size_t(hp_.n_layers * hp_.n_routed_experts);
  for (size_t i = 0; i < entries_.size() && i < main_entries; ++i) total += entries_[i].size;
  return total;
}

const FfnWeights* ExpertStore::ffn_of(int64_t layer) const {
  if (layer >= 0 && layer < hp_.n_layers) return &weights_.layers[size_t(layer)].ffn;
  if (layer >= hp_.n_layers && layer < n_store_layers()) return &weights_.mtp[size_t(layer - hp_.n_layers)].block.ffn;
  return nullptr;
}

int64_t ExpertStore::max_group() const {
  const int64_t k = std::max<int64_t>(hp_.n_experts_per_tok, 1);
  return resident() ? kMaxExpertGroup
                    : std::max<int64_t>(1, std::min({k, n_slots_, kMaxExpertGroup}));
}

ExpertWeights ExpertStore::slot_view(int64_t layer, int64_t id, const Entry& e) const {
  ExpertWeights w = ffn_of(layer)->experts[size_t(id)];  // type, shape, stride
  const uint8_t* base = slots_data_.data() + uint64_t(e.slot) * slot_bytes_;
  w.gate.data = base + e.gate_off;
  w.up.data = base + e.up_off;
  w.down.data = base + e.down_off;
  return w;
}

bool ExpertStore::group_fits(int64_t layer, const int32_t* ids, int64_t n) const {
  int64_t missing = 0, resident_unpinned = 0, unpinned = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Entry& e = entries_[size_t(layer * hp_.n_routed_experts + ids[i])];
    if (e.slot < 0) ++missing;
    else if (pins_[size_t(e.slot)] == 0) ++resident_unpinned;
  }
  for (uint32_t p : pins_) unpinned += p == 0;
  return unpinned - resident_unpinned >= missing;
}

int32_t ExpertStore::take_slot() {
  if (!free_.empty()) {
    const int32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  const int32_t victim = policy_->pick_victim(pins_.data());
  if (victim < 0) return -1;
  Slot& v = slots_[size_t(victim)];
  entries_[size_t(v.key)].slot = -1;
  if (v.prefetched) prefetch_unused_.fetch_add(1, std::memory_order_relaxed);
  v = Slot{};
  evictions_.fetch_add(1, std::memory_order_relaxed);
  return victim;
}

void ExpertStore::start_loading(int64_t key, int32_t slot, bool prefetched) {
  Slot& s = slots_[size_t(slot)];
  s.key = key;
  s.state = SlotState::kLoading;
  s.pins = pins_[size_t(slot)] = 1;
  s.prefetched = prefetched;
  s.hot = false;
  entries_[size_t(key)].slot = slot;
}

Status ExpertStore::read_into(int64_t key, int32_t slot, uint64_t* ns) {
  const Entry& e = entries_[size_t(key)];  // offsets and size never change after create
  uint8_t* dst = slots_data_.data() + uint64_t(slot) * slot_bytes_;
  const auto t0 = std::chrono::steady_clock::now();
  Status st;
  int64_t left = fail_after_.load(std::memory_order_relaxed);
  while (left > 0 && !fail_after_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
  }
  if (left == 0) {
    st = io_error(reader_->name() + ": read of " + std::to_string(e.size) + " bytes at offset " +
                  std::to_string(e.file_offset) + ": injected failure");
  } else {
    st = reader_->read_at(e.file_offset, dst, e.size, slot_bytes_);
    if (st && !reader_->direct_io()) reader_->release_pages(e.file_offset, e.size);  // buffered: drop the cached copy
  }
  const uint64_t took = elapsed_ns(t0);
  *ns += took;
  read_ns_.fetch_add(took, std::memory_order_relaxed);
  if (st) bytes_read_.fetch_add(e.size, std::memory_order_relaxed);
  return st;
}

void ExpertStore::finish_loading(int32_t slot, Status st) {
  Slot& s = slots_[size_t(slot)];
  if (st) {
    s.state = SlotState::kReady;
    policy_->on_insert(slot);
  } else {
    s.state = SlotState::kFailed;
    s.error = std::move(st);
    s.prefetched = false;
  }
  unpin(slot);
}

void ExpertStore::unpin(int32_t slot) {
  Slot& s = slots_[size_t(slot)];
  if (s.pins > 0) pins_[size_t(slot)] = --s.pins;
  if (s.pins == 0 && s.state == SlotState::kFailed) {
    entries_[size_t(s.key)].slot = -1;
    s = Slot{};
    free_.push_back(slot);
  }
}

void ExpertStore::repin_hot() {
  for (int64_t i = 0; i < n_slots_; ++i) {
    Slot& s = slots_[size_t(i)];
    if (s.hot) s.hot = false, unpin(int32_t(i));
  }
  int64_t n = 0;
  for (int64_t i = 0; i < n_slots_; ++i)
    if (slots_[size_t(i)].state == SlotState::kReady && !slots_[size_t(i)].fixed) hot_order_[size_t(n++)] = int32_t(i);
  const int64_t take = std::min(hot_slots_, n);
  auto uses = [&](int32_t slot) { return entries_[size_t(slots_[size_t(slot)].key)].uses; };
  std::partial_sort(hot_order_.begin(), hot_order_.begin() + take, hot_order_.begin() + n,
                    [&](int32_t a, int32_t b) { return uses(a) > uses(b); });
  for (int64_t i = 0; i < take; ++i) {
    Slot& s = slots_[size_t(hot_order_[size_t(i)])];
    s.hot = true;
    pins_[size_t(hot_order_[size_t(i)])] = ++s.pins;
  }
  for (Entry& e : entries_) e.uses /= 2;  // forget slowly: a period's counts weigh half the next time
}

void ExpertStore::run_io_job(const IoJob& job) {
  uint64_t ns = 0;
  Status st = read_into(job.key, job.slot, &ns);
  if (job.preload && st) preloaded_.fetch_add(1, std::memory_order_relaxed);
  if (!job.demand && !job.preload) {
    prefetch_ns_.fetch_add(ns, std::memory_order_relaxed);
    prefetch_reads_.fetch_add(1, std::memory_order_relaxed);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    finish_preload_or_loading(job.slot, std::move(st));
    if (!job.demand) --prefetch_in_flight_;
  }
  changed_.notify_all();
}

void ExpertStore::finish_preload_or_loading(int32_t slot, Status st) {
  const bool failed = !st;
  Slot& s = slots_[size_t(slot)];
  const bool fixed = s.fixed;
  if (failed && fixed) s.fixed = false, --fixed_slots_;
  finish_loading(slot, std::move(st));
  if (failed && fixed) unpin(slot);  // a failed fixed slot must not stay held
}

int64_t ExpertStore::preload(const std::vector<int64_t>& order, int64_t pin, const std::vector<uint32_t>& seed_uses) {
  if (resident()) return 0;
  const int64_t main_keys = hp_.n_layers * hp_.n_routed_experts;
  std::vector<std::pair<int64_t, int32_t>> sync_reads;  // (key, slot) read on this thread: no pool
  int64_t started = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seed_uses.size() == size_t(main_keys))
      for (int64_t k = 0; k < main_keys; ++k) entries_[size_t(k)].uses = seed_uses[size_t(k)];
    const int64_t max_fixed = std::max<int64_t>(n_slots_ - max_group() - hot_slots_ - fixed_slots_, 0);
    pin = std::clamp<int64_t>(pin, 0, max_fixed);
    for (const int64_t key : order) {
      if (free_.empty()) break;
      if (key < 0 || key >= main_keys || entries_[size_t(key)].size == 0 || entries_[size_t(key)].slot >= 0) continue;
      const int32_t slot = free_.back();
      free_.pop_back();
      start_loading(key, slot, /*prefetched=*/false);
      if (started < pin) {
        Slot& sl = slots_[size_t(slot)];
        sl.fixed = true;
        ++fixed_slots_;
        pins_[size_t(slot)] = ++sl.pins;
      }
      ++started;
      if (pool_) {
        ++prefetch_in_flight_;
        IoJob job{key, slot};
        job.preload = true;
        if (!pool_->submit(job)) {  // cannot happen: the queue holds n_slots jobs
          --prefetch_in_flight_;
          finish_preload_or_loading(slot, internal_error("expert store: preload queue full"));
        }
      } else {
        sync_reads.emplace_back(key, slot);
      }
    }
  }
  for (const auto& [key, slot] : sync_reads) {
    uint64_t ns = 0;
    Status st = read_into(key, slot, &ns);
    if (st) preloaded_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    finish_preload_or_loading(slot, std::move(st));
  }
  if (!sync_reads.empty()) changed_.notify_all();
  return started;
}

void ExpertStore::count_routed_tokens(int64_t layer, const int32_t* ids, const int32_t* tokens, int64_t n) {
  if (!token_counts_ || layer < 0 || layer >= n_store_layers()) return;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] >= 0 && ids[i] < hp_.n_routed_experts && tokens[i] > 0)
      token_counts_[size_t(layer * hp_.n_routed_experts + ids[i])].fetch_add(uint64_t(tokens[i]),
                                                                            std::memory_order_relaxed);
}

std::vector<uint64_t> ExpertStore::routed_token_counts() const {
  const size_t main_keys = size_t(hp_.n_layers * hp_.n_routed_experts);
  std::vector<uint64_t> out(token_counts_ ? main_keys : 0);
  for (size_t i = 0; i < out.size(); ++i) out[i] = token_counts_[i].load(std::memory_order_relaxed);
  return out;
}

double ExpertStore::routed_tokens() const {
  if (!token_counts_ || hp_.n_experts_per_tok <= 0) return 0;
  uint64_t busiest = 0;
  for (int64_t l = 0; l < hp_.n_layers; ++l) {
    uint64_t layer_total = 0;
    for (int64_t e = 0; e < hp_.n_routed_experts; ++e)
      layer_total += token_counts_[size_t(l * hp_.n_routed_experts + e)].load(std::memory_order_relaxed);
    busiest = std::max(busiest, layer_total);
  }
  return double(busiest) / double(hp_.n_experts_per_tok);
}

void ExpertStore::prefetch(int64_t layer, const int32_t* ids, int64_t n) {
  if (!pool_ || n <= 0 || ffn_of(layer) == nullptr || !ffn_of(layer)->moe) return;
  std::lock_guard<std::mutex> lock(mu_);
  // Pin the predicted experts that are already here, so that reading the others cannot evict them.
  for (int64_t i = 0; i < n; ++i) {
    const int32_t slot = entry(layer, ids[i]).slot;
    if (slot >= 0) pins_[size_t(slot)] = ++slots_[size_t(slot)].pins;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (entry(layer, ids[i]).slot >= 0) continue;
    const int32_t slot = take_slot();
    if (slot < 0) break;
    const int64_t key = layer * hp_.n_routed_experts + ids[i];
    start_loading(key, slot, /*prefetched=*/true);
    ++prefetch_in_flight_;
    if (!pool_->submit(IoJob{key, slot})) {  // cannot happen: the queue holds n_slots jobs
      --prefetch_in_flight_;
      finish_loading(slot, internal_error("expert store: prefetch queue full"));
      break;
    }
    pins_[size_t(slot)] = ++slots_[size_t(slot)].pins;  // released below with the others
  }
  for (int64_t i = 0; i < n; ++i) {
    const int32_t slot = entry(layer, ids[i]).slot;
    if (slot >= 0) unpin(slot);
  }
}

Status ExpertStore::acquire(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out) {
  for (int64_t i = 0; i < n; ++i) MOTE_RETURN_IF_ERROR(check_id(layer, ids[i]));
  accesses_.fetch_add(uint64_t(n), std::memory_order_relaxed);
  if (use_counts_)
    for (int64_t i = 0; i < n; ++i)
      use_counts_[size_t(layer * hp_.n_routed_experts + ids[i])].fetch_add(1, std::memory_order_relaxed);
  if (resident()) {
    for (int64_t i = 0; i < n; ++i) out[i] = ffn_of(layer)->experts[size_t(ids[i])];
    hits_.fetch_add(uint64_t(n), std::memory_order_relaxed);
    return Status::ok();
  }
  if (n > max_group())
    return invalid_argument("expert store: " + std::to_string(n) + " experts at once, at most " +
                            std::to_string(max_group()));
  return acquire_slots(layer, ids, n, out);
}

bool ExpertStore::pin_present(int64_t layer, const int32_t* ids, int64_t n, int32_t* slot_of) {
  bool waits = false;
  for (int64_t i = 0; i < n; ++i) {
    Entry& e = entry(layer, ids[i]);
    ++e.uses;
    slot_of[i] = e.slot;
    if (e.slot < 0) continue;
    Slot& s = slots_[size_t(e.slot)];
    pins_[size_t(e.slot)] = ++s.pins;
    hits_.fetch_add(1, std::memory_order_relaxed);
    if (s.state == SlotState::kReady) policy_->on_access(e.slot);
    waits |= s.state == SlotState::kLoading;
    if (s.prefetched) s.prefetched = false, prefetch_hits_.fetch_add(1, std::memory_order_relaxed);
  }
  return waits;
}

int64_t ExpertStore::start_misses(int64_t layer, const int32_t* ids, int64_t n, int32_t* slot_of, bool* miss) {
  int64_t n_miss = 0;
  for (int64_t i = 0; i < n; ++i) {
    miss[i] = slot_of[i] < 0;
    if (!miss[i]) continue;
    slot_of[i] = take_slot();  // group_fits guarantees one
    start_loading(layer * hp_.n_routed_experts + ids[i], slot_of[i], /*prefetched=*/false);
    pins_[size_t(slot_of[i])] = ++slots_[size_t(slot_of[i])].pins;  // the acquirer's pin
    ++n_miss;
  }
  misses_.fetch_add(uint64_t(n_miss), std::memory_order_relaxed);
  return n_miss;
}

void ExpertStore::read_misses(std::unique_lock<std::mutex>& lock, int64_t layer, const int32_t* ids, int64_t n,
                              const int32_t* slot_of, bool* miss) {
  const int64_t E = hp_.n_routed_experts;
  // The I/O pool reads all misses but the first in parallel (ahead of queued prefetches); this
  // thread reads the first (and the rest too without a pool). The reader finishes the slot.
  bool first = true;
  for (int64_t i = 0; i < n; ++i) {
    if (!miss[i]) continue;
    if (!first && pool_ && pool_->submit(IoJob{layer * E + ids[i], slot_of[i], true}, /*urgent=*/true))
      miss[i] = false;
    first = false;
  }
  lock.unlock();
  Status results[kMaxExpertGroup];
  uint64_t ns = 0;
  for (int64_t i = 0; i < n; ++i)
    if (miss[i]) results[i] = read_into(layer * E + ids[i], slot_of[i], &ns);
  lock.lock();
  for (int64_t i = 0; i < n; ++i)
    if (miss[i]) finish_loading(slot_of[i], std::move(results[i]));
  changed_.notify_all();
}

Status ExpertStore::acquire_slots(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out) {
  int32_t slot_of[kMaxExpertGroup];
  bool miss[kMaxExpertGroup];
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return group_fits(layer, ids, n); });
  const bool waits = pin_present(layer, ids, n, slot_of);  // first, so that no eviction takes them
  const int64_t n_miss = start_misses(layer, ids, n, slot_of, miss);
  if (hot_slots_ > 0 && (accesses_since_repin_ += uint64_t(n)) >= repin_period_) {
    accesses_since_repin_ = 0;
    repin_hot();
  }
  if (n_miss > 0 || waits) {
    const auto t0 = std::chrono::steady_clock::now();
    if (n_miss > 0) read_misses(lock, layer, ids, n, slot_of, miss);
    changed_.wait(lock, [&] {
      for (int64_t i = 0; i < n; ++i)
        if (slots_[size_t(slot_of[i])].state == SlotState::kLoading) return false;
      return true;
    });
    stall_ns_.fetch_add(elapsed_ns(t0), std::memory_order_relaxed);
    Status first_error;  // ok unless a read this group needs failed
    for (int64_t i = 0; i < n; ++i)
      if (slots_[size_t(slot_of[i])].state == SlotState::kFailed && first_error)
        first_error = slots_[size_t(slot_of[i])].error;
    if (!first_error) {  // unpin everything: failed slots go back to the free list
      for (int64_t i = 0; i < n; ++i) unpin(slot_of[i]);
      lock.unlock();
      changed_.notify_all();
      return first_error;
    }
  }
  for (int64_t i = 0; i < n; ++i) out[i] = slot_view(layer, ids[i], entry(layer, ids[i]));
  return Status::ok();
}

void ExpertStore::release(int64_t layer, const int32_t* ids, int64_t n) {
  if (resident()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t i = 0; i < n; ++i) {
      if (!check_id(layer, ids[i])) continue;
      const Entry& e = entry(layer, ids[i]);
      if (e.slot >= 0) unpin(e.slot);
    }
  }
  changed_.notify_all();
}

Result<ExpertView> ExpertStore::acquire(int64_t layer, int64_t id) {
  MOTE_RETURN_IF_ERROR(check_id(layer, id));
  const int32_t one = int32_t(id);
  ExpertView v;
  v.layer = layer;
  v.id = id;
  MOTE_RETURN_IF_ERROR(acquire(layer, &one, 1, &v.weights));
  return v;
}

void ExpertStore::release(int64_t layer, int64_t id) {
  const int32_t one = int32_t(id);
  release(layer, &one, 1);
}

void ExpertStore::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return prefetch_in_flight_ == 0; });
}

ExpertStats ExpertStore::stats() const {
  ExpertStats s;
  s.accesses = accesses_.load();
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.bytes_read = bytes_read_.load();
  s.evictions = evictions_.load();
  s.io_stall_ns = stall_ns_.load();
  s.prefetch_reads = prefetch_reads_.load();
  s.prefetch_hits = prefetch_hits_.load();
  s.prefetch_unused = prefetch_unused_.load();
  s.prefetch_ns = prefetch_ns_.load();
  s.read_ns = read_ns_.load();
  s.preloaded = preloaded_.load();
  return s;
}

void ExpertStore::reset_stats() {
  for (auto* c : {&accesses_, &hits_, &misses_, &bytes_read_, &evictions_, &stall_ns_, &prefetch_reads_,
                  &prefetch_hits_, &prefetch_unused_, &prefetch_ns_, &read_ns_})
    c->store(0);
}

bool ExpertStore::is_moe_layer(int64_t layer) const {
  if (layer < 0 || layer >= hp_.n_layers || entries_.empty()) return false;
  const FfnWeights* ffn = ffn_of(layer);
  return ffn != nullptr && ffn->moe && hp_.n_routed_experts > 0;
}

bool ExpertStore::snapshot(int64_t layer, ExpertState* out) const {
  if (!is_moe_layer(layer)) return false;
  const int64_t E = hp_.n_routed_experts;
  const size_t base = size_t(layer * E);
  for (int64_t id = 0; id < E; ++id) {
    out[id] = ExpertState{};
    out[id].uses = use_counts_[base + size_t(id)].load(std::memory_order_relaxed);
    out[id].resident = resident();
  }
  if (resident()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t id = 0; id < E; ++id) {
    const int32_t slot = entries_[base + size_t(id)].slot;
    if (slot < 0) continue;
    const Slot& s = slots_[size_t(slot)];
    out[id].resident = s.state == SlotState::kReady;
    out[id].loading = s.state == SlotState::kLoading;
    out[id].hot = s.hot || s.fixed;
  }
  return true;
}

uint64_t ExpertStore::missing_bytes(int64_t layer, const int32_t* ids, int64_t n) const {
  if (resident() || n <= 0 || layer < 0 || layer >= n_store_layers() || ffn_of(layer) == nullptr || !ffn_of(layer)->moe)
    return 0;
  const int64_t E = hp_.n_routed_experts;
  uint64_t bytes = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= E || size_t(layer * E + ids[i]) >= entries_.size()) continue;
    const Entry& e = entries_[size_t(layer * E + ids[i])];
    const bool present = e.slot >= 0 && (slots_[size_t(e.slot)].state == SlotState::kReady ||
                                         slots_[size_t(e.slot)].state == SlotState::kLoading);
    if (!present) bytes += e.size;
  }
  return bytes;
}

int64_t ExpertStore::demote_layer(int64_t layer) {
  if (resident() || layer < 0 || layer >= n_store_layers()) return 0;
  const int64_t E = hp_.n_routed_experts;
  int64_t n = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t id = 0; id < E && size_t(layer * E + id) < entries_.size(); ++id) {
    const int32_t slot = entries_[size_t(layer * E + id)].slot;
    if (slot < 0) continue;
    const Slot& s = slots_[size_t(slot)];
    if (s.state != SlotState::kReady || s.hot || s.fixed) continue;
    policy_->demote(slot);
    ++n;
  }
  return n;
}

double ExpertStore::read_seconds_per_byte() const {
  const uint64_t bytes = bytes_read_.load(), ns = read_ns_.load();
  return bytes >= (uint64_t(1) << 20) && ns > 0 ? double(ns) * 1e-9 / double(bytes) : 1e-9;
}

void ExpertStore::inject_read_failure_after(int64_t n) { fail_after_.store(n < 0 ? -1 : n); }

}  // namespace mote
