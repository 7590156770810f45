#include "experts/expert_store.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "format/mote_file.h"

namespace mote {

ExpertStore::~ExpertStore() = default;

Result<std::unique_ptr<ExpertStore>> ExpertStore::create(const MoteFile& file, const HParams& hp,
                                                         const ModelWeights& weights,
                                                         const ExpertStoreOptions& options) {
  std::unique_ptr<ExpertStore> s(new ExpertStore(hp, weights, options));
  MOTE_RETURN_IF_ERROR(s->index_experts(file));
  if (options.budget_bytes == 0 || s->entries_.empty()) return s;
  uint64_t max_seg = 0, n_experts = 0;
  for (const Entry& e : s->entries_)
    if (e.size > 0) max_seg = std::max(max_seg, e.size), ++n_experts;
  if (n_experts == 0) return s;
  s->slot_bytes_ = align_up(max_seg, kDirectIoAlign);
  const uint64_t k = uint64_t(std::max<int64_t>(hp.n_experts_per_tok, 1));
  const uint64_t fit = options.budget_bytes / s->slot_bytes_;
  if (fit < k)
    return invalid_argument("expert budget of " + std::to_string(options.budget_bytes) + " bytes holds " +
                            std::to_string(fit) + " expert slots of " + std::to_string(s->slot_bytes_) +
                            " bytes; at least n_experts_per_tok = " + std::to_string(k) + " slots (" +
                            std::to_string(k * s->slot_bytes_) + " bytes) are needed");
  s->n_slots_ = int64_t(std::min(fit, n_experts));
  MOTE_ASSIGN_OR_RETURN(s->slots_, AlignedBuffer::allocate(uint64_t(s->n_slots_) * s->slot_bytes_));
  MOTE_ASSIGN_OR_RETURN(s->reader_, FileReader::open(file.path(), options.direct_io));
  s->slot_key_.assign(size_t(s->n_slots_), -1);
  s->pins_.assign(size_t(s->n_slots_), 0);
  s->free_.reserve(size_t(s->n_slots_));
  for (int64_t i = s->n_slots_ - 1; i >= 0; --i) s->free_.push_back(int32_t(i));
  s->policy_ = make_eviction_policy(options.policy, int32_t(s->n_slots_));
  return s;
}

// Records every main-layer routed expert's segment and tensor offsets from the expert tables.
Status ExpertStore::index_experts(const MoteFile& file) {
  const int64_t E = hp_.n_routed_experts;
  if (E <= 0 || file.model().expert_layers() == nullptr) return Status::ok();
  entries_.assign(size_t(hp_.n_layers * E), Entry{});
  for (const fb::ExpertLayer* el : *file.model().expert_layers()) {
    const int64_t l = el->layer();
    if (l >= hp_.n_layers || !weights_.layers[size_t(l)].ffn.moe) continue;  // MTP layers: not used
    for (int64_t id = 0; id < E; ++id) {
      const uint32_t seg = el->experts()->Get(uint32_t(id))->segment();
      const uint8_t* base = file.segment_data(seg);
      const ExpertWeights& w = weights_.layers[size_t(l)].ffn.experts[size_t(id)];
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

Status ExpertStore::check_id(int64_t layer, int64_t id) const {
  if (layer < 0 || layer >= hp_.n_layers || !weights_.layers[size_t(layer)].ffn.moe || id < 0 ||
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
  for (const Entry& e : entries_) total += e.size;
  return total;
}

int64_t ExpertStore::max_group() const {
  const int64_t k = std::max<int64_t>(hp_.n_experts_per_tok, 1);
  return resident() ? graph::kMaxExpertGroup
                    : std::max<int64_t>(1, std::min({k, n_slots_, graph::kMaxExpertGroup}));
}

ExpertWeights ExpertStore::slot_view(int64_t layer, int64_t id, const Entry& e) const {
  ExpertWeights w = weights_.layers[size_t(layer)].ffn.experts[size_t(id)];  // type, shape, stride
  const uint8_t* base = slots_.data() + uint64_t(e.slot) * slot_bytes_;
  w.gate.data = base + e.gate_off;
  w.up.data = base + e.up_off;
  w.down.data = base + e.down_off;
  return w;
}

int32_t ExpertStore::take_slot() {
  if (!free_.empty()) {
    const int32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  const int32_t victim = policy_->pick_victim(pins_.data());
  if (victim < 0) return -1;
  const int64_t old = slot_key_[size_t(victim)];
  entries_[size_t(old)].slot = -1;
  slot_key_[size_t(victim)] = -1;
  evictions_.fetch_add(1, std::memory_order_relaxed);
  return victim;
}

Status ExpertStore::fill(Entry& e, int64_t key, int32_t slot) {
  uint8_t* dst = slots_.data() + uint64_t(slot) * slot_bytes_;
  const auto t0 = std::chrono::steady_clock::now();
  Status st;
  const int64_t left = fail_after_.load(std::memory_order_relaxed);
  if (left == 0) {
    st = io_error(reader_->path() + ": read of " + std::to_string(e.size) + " bytes at offset " +
                  std::to_string(e.file_offset) + ": injected failure");
  } else {
    if (left > 0) fail_after_.store(left - 1, std::memory_order_relaxed);
    st = reader_->read_exact(e.file_offset, e.size, dst, slot_bytes_);
    if (st && !reader_->direct()) reader_->drop_cache(e.file_offset, e.size);
  }
  const auto t1 = std::chrono::steady_clock::now();
  stall_ns_.fetch_add(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()),
                      std::memory_order_relaxed);
  if (!st) {
    free_.push_back(slot);  // the slot holds nothing valid
    return st;
  }
  e.slot = slot;
  slot_key_[size_t(slot)] = key;
  pins_[size_t(slot)] = 1;
  policy_->on_insert(slot);
  misses_.fetch_add(1, std::memory_order_relaxed);
  bytes_read_.fetch_add(e.size, std::memory_order_relaxed);
  return Status::ok();
}

Status ExpertStore::acquire(int64_t layer, const int32_t* ids, int64_t n, ExpertWeights* out) {
  for (int64_t i = 0; i < n; ++i) MOTE_RETURN_IF_ERROR(check_id(layer, ids[i]));
  accesses_.fetch_add(uint64_t(n), std::memory_order_relaxed);
  if (resident()) {
    for (int64_t i = 0; i < n; ++i) out[i] = weights_.layers[size_t(layer)].ffn.experts[size_t(ids[i])];
    hits_.fetch_add(uint64_t(n), std::memory_order_relaxed);
    return Status::ok();
  }
  if (n > max_group())
    return invalid_argument("expert store: " + std::to_string(n) + " experts at once, at most " +
                            std::to_string(max_group()));
  std::unique_lock<std::mutex> lock(mu_);
  // Wait until the misses fit in slots nobody else has pinned.
  unpinned_.wait(lock, [&] {
    int64_t missing = 0, resident_unpinned = 0, unpinned = 0;
    for (int64_t i = 0; i < n; ++i) {
      const Entry& e = entry(layer, ids[i]);
      if (e.slot < 0) ++missing;
      else if (pins_[size_t(e.slot)] == 0) ++resident_unpinned;
    }
    for (uint32_t p : pins_) unpinned += p == 0;
    return unpinned - resident_unpinned >= missing;
  });
  bool pinned[graph::kMaxExpertGroup] = {};
  for (int64_t i = 0; i < n; ++i) {  // hits first, so that no eviction takes them
    Entry& e = entry(layer, ids[i]);
    if (e.slot < 0) continue;
    ++pins_[size_t(e.slot)];
    pinned[i] = true;
    policy_->on_access(e.slot);
    hits_.fetch_add(1, std::memory_order_relaxed);
  }
  for (int64_t i = 0; i < n; ++i) {
    Entry& e = entry(layer, ids[i]);
    if (pinned[i]) continue;
    const int32_t slot = take_slot();
    Status st = slot < 0 ? internal_error("expert store: no unpinned slot")
                         : fill(e, layer * hp_.n_routed_experts + ids[i], slot);
    if (!st) {
      for (int64_t j = 0; j < n; ++j)
        if (pinned[j]) --pins_[size_t(entry(layer, ids[j]).slot)];
      lock.unlock();
      unpinned_.notify_all();
      return st;
    }
    pinned[i] = true;
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
      if (e.slot >= 0 && pins_[size_t(e.slot)] > 0) --pins_[size_t(e.slot)];
    }
  }
  unpinned_.notify_all();
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

ExpertStats ExpertStore::stats() const {
  ExpertStats s;
  s.accesses = accesses_.load();
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.bytes_read = bytes_read_.load();
  s.evictions = evictions_.load();
  s.io_stall_ns = stall_ns_.load();
  return s;
}

void ExpertStore::reset_stats() {
  for (auto* c : {&accesses_, &hits_, &misses_, &bytes_read_, &evictions_, &stall_ns_}) c->store(0);
}

void ExpertStore::inject_read_failure_after(int64_t n) { fail_after_.store(n < 0 ? -1 : n); }

}  // namespace mote
