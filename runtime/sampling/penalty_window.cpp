#include "sampling/penalty_window.h"

#include <algorithm>
#include <new>
#include <string>

namespace mote {

namespace {

template <typename T>
std::unique_ptr<T[]> alloc_filled(int64_t n, T value) {
  std::unique_ptr<T[]> p(new (std::nothrow) T[size_t(std::max<int64_t>(n, 1))]);
  if (p) std::fill(p.get(), p.get() + std::max<int64_t>(n, 1), value);
  return p;
}

}  // namespace

Result<PenaltyWindow> PenaltyWindow::create(int32_t window, int64_t vocab_size) {
  if (window < -1) return invalid_argument("penalty window: window must be >= -1");
  if (vocab_size < 1 || vocab_size > INT32_MAX)
    return invalid_argument("penalty window: vocab_size = " + std::to_string(vocab_size) +
                            " must be in [1, 2^31)");
  PenaltyWindow w;
  w.window_ = window;
  w.vocab_size_ = vocab_size;
  if (window == 0) return w;  // nothing to remember
  const int64_t distinct_cap = window < 0 ? vocab_size : std::min<int64_t>(window, vocab_size);
  w.counts_ = alloc_filled<int32_t>(vocab_size, 0);
  w.slot_ = alloc_filled<int32_t>(vocab_size, -1);
  w.distinct_ = alloc_filled<int32_t>(distinct_cap, 0);
  if (window > 0) w.ring_ = alloc_filled<int32_t>(window, 0);
  if (!w.counts_ || !w.slot_ || !w.distinct_ || (window > 0 && !w.ring_))
    return Status(StatusCode::kOutOfMemory, "penalty window: cannot allocate buffers for vocab " +
                                                std::to_string(vocab_size));
  return w;
}

void PenaltyWindow::add(int32_t id) {
  if (counts_[size_t(id)]++ == 0) {
    slot_[size_t(id)] = int32_t(n_distinct_);
    distinct_[size_t(n_distinct_++)] = id;
  }
}

void PenaltyWindow::remove(int32_t id) {
  if (--counts_[size_t(id)] == 0) {  // swap-remove from the distinct list
    const int32_t at = slot_[size_t(id)];
    const int32_t last = distinct_[size_t(--n_distinct_)];
    distinct_[size_t(at)] = last;
    slot_[size_t(last)] = at;
    slot_[size_t(id)] = -1;
  }
}

void PenaltyWindow::push(int32_t id) {
  if (window_ == 0) return;
  if (window_ < 0) {
    add(id);
    ++total_;
    return;
  }
  if (ring_size_ == window_) remove(ring_[size_t(ring_head_)]);  // the oldest sits at head
  else ++ring_size_;
  ring_[size_t(ring_head_)] = id;
  ring_head_ = (ring_head_ + 1) % window_;
  add(id);
}

void PenaltyWindow::clear() {
  for (int64_t i = 0; i < n_distinct_; ++i) {
    counts_[size_t(distinct_[size_t(i)])] = 0;
    slot_[size_t(distinct_[size_t(i)])] = -1;
  }
  n_distinct_ = 0;
  ring_head_ = ring_size_ = total_ = 0;
}

}  // namespace mote
