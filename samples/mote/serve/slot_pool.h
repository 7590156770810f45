// mote serve: the slots (one mote_session each, all on one shared mote_model) and the bounded FIFO
// queue in front of them. A request takes the idle slot whose tokens share the longest prefix with
// its prompt (ties: the least recently used), so a continued conversation lands where its KV cache
// already is. A SlotLease gives the slot back when it goes out of scope, whatever happened.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <mote/mote.h>

namespace mote::serve {

struct Slot {
  int id = 0;
  mote_session* session = nullptr;  // owned by the pool
  std::vector<int32_t> tokens;      // the session's tokens when it was last released
  uint64_t last_used = 0;           // release tick (LRU)
  bool busy = false;
};

class SlotPool;

// Holds one slot; returns it to the pool on destruction. Move-only.
class SlotLease {
 public:
  SlotLease() = default;
  SlotLease(SlotPool* pool, Slot* slot) : pool_(pool), slot_(slot) {}
  SlotLease(SlotLease&& o) noexcept : pool_(o.pool_), slot_(o.slot_) { o.pool_ = nullptr, o.slot_ = nullptr; }
  SlotLease& operator=(SlotLease&& o) noexcept;
  SlotLease(const SlotLease&) = delete;
  SlotLease& operator=(const SlotLease&) = delete;
  ~SlotLease() { release(); }

  Slot* slot() const { return slot_; }
  explicit operator bool() const { return slot_ != nullptr; }
  void release();

 private:
  SlotPool* pool_ = nullptr;
  Slot* slot_ = nullptr;
};

enum class Admission { kGranted, kQueueFull, kTimeout, kShutdown, kCancelled };

struct PoolStatus {
  size_t slots_total = 0;
  size_t slots_idle = 0;
  size_t queue_depth = 0;
  size_t queue_capacity = 0;
};

class SlotPool {
 public:
  SlotPool(size_t queue_capacity, std::chrono::milliseconds queue_timeout);
  ~SlotPool();

  // Takes ownership of the session. Not thread-safe: call before serving.
  void add_slot(mote_session* session);
  // Called (outside the pool's lock, by the releasing thread) before a released slot becomes idle:
  // e.g. saves the session under --slot-dir.
  void set_on_release(std::function<void(Slot&)> fn) { on_release_ = std::move(fn); }

  // Waits, first in first out, for an idle slot for `prompt` (token ids). `cancelled` is polled
  // while waiting (a client that went away). kQueueFull at once when the queue is full.
  Admission acquire(const std::vector<int32_t>& prompt, const std::function<bool()>& cancelled, SlotLease* out);
  // Wakes every waiter with kShutdown; later acquire() calls get kShutdown.
  void shutdown();

  PoolStatus status() const;
  std::vector<Slot*> slots();  // for saving at shutdown (when nothing is busy)

 private:
  friend class SlotLease;
  void release(Slot* slot);
  Slot* best_idle_slot(const std::vector<int32_t>& prompt);  // lock held; nullptr when none

  std::vector<std::unique_ptr<Slot>> slots_;
  std::function<void(Slot&)> on_release_;
  const size_t queue_capacity_;
  const std::chrono::milliseconds queue_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<uint64_t> waiters_;  // tickets, oldest first
  uint64_t next_ticket_ = 1;
  uint64_t tick_ = 0;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

// Token ids a session holds now (empty on failure).
std::vector<int32_t> session_tokens(const mote_session* session);

}  // namespace mote::serve
