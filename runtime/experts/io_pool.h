// IoPool: a few threads that run expert reads in the background (prefetch), so that storage
// reads overlap with the forward pass's compute. Jobs are two integers handed to one handler
// fixed at construction; the queue is a ring of fixed capacity allocated once, so submitting
// allocates nothing (the decode loop stays allocation-free).
//
// Thread-safety: submit() may be called from any thread. The handler runs on the pool's threads,
// concurrently with itself. The destructor drops queued jobs that have not started and joins the
// threads after the running ones return.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mote {

struct IoJob {
  int64_t key = 0;      // which expert (layer * n_experts + id)
  int32_t slot = 0;     // which cache slot receives it
  bool demand = false;  // a forward pass waits for it (else a prefetch)
  bool preload = false; // read at open from learned routing statistics (ExpertStore::preload)
};

class IoPool {
 public:
  IoPool(int n_threads, size_t capacity, std::function<void(const IoJob&)> handler);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Queues a job (urgent: ahead of everything queued); false if the queue is full (the caller
  // keeps ownership of what the job meant).
  bool submit(const IoJob& job, bool urgent = false);
  int threads() const { return int(threads_.size()); }

 private:
  void worker();

  std::function<void(const IoJob&)> handler_;
  std::vector<IoJob> ring_;  // [capacity]
  size_t head_ = 0, count_ = 0;
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable ready_;
  std::vector<std::thread> threads_;
};

}  // namespace mote
