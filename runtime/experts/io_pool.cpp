#include "experts/io_pool.h"

#include <utility>

namespace mote {

IoPool::IoPool(int n_threads, size_t capacity, std::function<void(const IoJob&)> handler)
    : handler_(std::move(handler)), ring_(capacity > 0 ? capacity : 1) {
  threads_.reserve(size_t(n_threads));
  for (int i = 0; i < n_threads; ++i) threads_.emplace_back([this] { worker(); });
}

IoPool::~IoPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool IoPool::submit(const IoJob& job, bool urgent) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || count_ == ring_.size()) return false;
    if (urgent) {
      head_ = (head_ + ring_.size() - 1) % ring_.size();
      ring_[head_] = job;
    } else {
      ring_[(head_ + count_) % ring_.size()] = job;
    }
    ++count_;
  }
  ready_.notify_one();
  return true;
}

void IoPool::worker() {
  for (;;) {
    IoJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return stop_ || count_ > 0; });
      if (stop_) return;
      job = ring_[head_];
      head_ = (head_ + 1) % ring_.size();
      --count_;
    }
    handler_(job);
  }
}

}  // namespace mote
