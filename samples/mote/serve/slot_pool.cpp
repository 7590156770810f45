#include "slot_pool.h"

#include <algorithm>

namespace mote::serve {

std::vector<int32_t> session_tokens(const mote_session* session) {
  size_t count = 0;
  std::vector<int32_t> ids;
  mote_status st = mote_session_get_tokens(session, nullptr, 0, &count);
  if (st != MOTE_OK && st != MOTE_ERR_BUFFER_TOO_SMALL) return {};
  ids.resize(count);
  if (count == 0) return ids;
  if (mote_session_get_tokens(session, ids.data(), ids.size(), &count) != MOTE_OK) return {};
  ids.resize(count);
  return ids;
}

SlotLease& SlotLease::operator=(SlotLease&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = o.pool_, slot_ = o.slot_;
    o.pool_ = nullptr, o.slot_ = nullptr;
  }
  return *this;
}

void SlotLease::release() {
  if (pool_ != nullptr && slot_ != nullptr) pool_->release(slot_);
  pool_ = nullptr;
  slot_ = nullptr;
}

SlotPool::SlotPool(size_t queue_capacity, std::chrono::milliseconds queue_timeout)
    : queue_capacity_(queue_capacity), queue_timeout_(queue_timeout) {}

SlotPool::~SlotPool() {
  for (auto& s : slots_) mote_session_destroy(s->session);
}

void SlotPool::add_slot(mote_session* session) {
  auto slot = std::make_unique<Slot>();
  slot->id = int(slots_.size());
  slot->session = session;
  slot->tokens = session_tokens(session);
  slots_.push_back(std::move(slot));
  ++idle_;
}

// The idle slot to serve `prompt`: among the slots where the common prefix covers at least half
// of what the slot holds (the request continues it) or 90% of the prompt (it is nearly all
// cached), the longest prefix; else the least recently used slot (never used ones first). A short
// match (BOS, a template header) never steals another conversation's slot.
Slot* SlotPool::best_idle_slot(const std::vector<int32_t>& prompt) {
  Slot* best = nullptr;
  size_t best_prefix = 0;
  Slot* lru = nullptr;
  for (auto& s : slots_) {
    if (s->busy) continue;
    if (lru == nullptr || s->last_used < lru->last_used) lru = s.get();
    const size_t n = std::min(s->tokens.size(), prompt.size());
    const size_t prefix = size_t(std::mismatch(prompt.begin(), prompt.begin() + long(n), s->tokens.begin()).first -
                                 prompt.begin());
    const bool continues = prefix * 2 >= s->tokens.size();        // keeps most of what the slot holds
    const bool covered = prefix * 10 >= prompt.size() * 9;         // or holds (nearly) the whole prompt
    if (prefix == 0 || !(continues || covered)) continue;
    if (best == nullptr || prefix > best_prefix || (prefix == best_prefix && s->last_used < best->last_used)) {
      best = s.get();
      best_prefix = prefix;
    }
  }
  return best != nullptr ? best : lru;
}

Admission SlotPool::acquire(const std::vector<int32_t>& prompt, const std::function<bool()>& cancelled,
                            SlotLease* out) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (shutdown_) return Admission::kShutdown;
  auto take = [&]() {
    Slot* s = best_idle_slot(prompt);
    s->busy = true;
    --idle_;
    *out = SlotLease(this, s);
  };
  if (waiters_.empty() && idle_ > 0) {
    take();
    return Admission::kGranted;
  }
  if (waiters_.size() >= queue_capacity_) return Admission::kQueueFull;
  const uint64_t ticket = next_ticket_++;
  waiters_.push_back(ticket);
  const auto deadline = std::chrono::steady_clock::now() + queue_timeout_;
  auto leave = [&](Admission why) {
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), ticket));
    cv_.notify_all();  // the next one may now be first
    return why;
  };
  while (true) {
    if (shutdown_) return leave(Admission::kShutdown);
    if (waiters_.front() == ticket && idle_ > 0) {
      take();
      leave(Admission::kGranted);
      return Admission::kGranted;
    }
    if (std::chrono::steady_clock::now() >= deadline) return leave(Admission::kTimeout);
    cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (cancelled) {
      lock.unlock();
      const bool gone = cancelled();
      lock.lock();
      if (gone) return leave(Admission::kCancelled);
    }
  }
}

void SlotPool::release(Slot* slot) {
  // The releasing thread still owns the slot: read its tokens and run the hook unlocked.
  try {
    slot->tokens = session_tokens(slot->session);
    if (on_release_) on_release_(*slot);
  } catch (...) {
    slot->tokens.clear();  // out of memory: the slot still comes back
  }
  std::lock_guard<std::mutex> lock(mutex_);
  slot->busy = false;
  slot->last_used = ++tick_;
  ++idle_;
  cv_.notify_all();
}

void SlotPool::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  shutdown_ = true;
  cv_.notify_all();
}

PoolStatus SlotPool::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {slots_.size(), idle_, waiters_.size(), queue_capacity_};
}

std::vector<Slot*> SlotPool::slots() {
  std::vector<Slot*> out;
  for (auto& s : slots_) out.push_back(s.get());
  return out;
}

}  // namespace mote::serve
