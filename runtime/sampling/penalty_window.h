// PenaltyWindow: the recent tokens the repetition / presence / frequency penalties look at,
// kept as per-token counts plus the list of distinct tokens, so that applying the penalties costs
// O(distinct tokens in the window), not O(vocab) or O(window). All storage is allocated in
// create(); push() and clear() never allocate.
//
// Ownership: owns its buffers. Thread-safety: none (one per Sampler).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"

namespace mote {

class PenaltyWindow {
 public:
  // window: tokens remembered (> 0), or -1 for every token pushed since the last clear(), or 0
  // for none (push() is then a no-op). vocab_size: ids are in [0, vocab_size).
  static Result<PenaltyWindow> create(int32_t window, int64_t vocab_size);

  // Records `id` (must be in [0, vocab_size): checked by the caller). With a full window the
  // oldest token drops out.
  void push(int32_t id);
  // Forgets every token; O(distinct tokens).
  void clear();

  // Distinct tokens currently in the window, in no particular order.
  std::span<const int32_t> distinct() const { return {distinct_.get(), size_t(n_distinct_)}; }
  // Occurrences of `id` in the window.
  int32_t count(int32_t id) const { return counts_[size_t(id)]; }
  // Tokens in the window (with repeats).
  int64_t size() const { return window_ < 0 ? total_ : ring_size_; }

 private:
  PenaltyWindow() = default;
  void add(int32_t id);
  void remove(int32_t id);

  int32_t window_ = 0;
  int64_t vocab_size_ = 0;
  std::unique_ptr<int32_t[]> counts_;    // [vocab] occurrences in the window
  std::unique_ptr<int32_t[]> slot_;      // [vocab] index into distinct_, -1 if absent
  std::unique_ptr<int32_t[]> distinct_;  // [min(window, vocab)] (vocab when window = -1)
  int64_t n_distinct_ = 0;
  std::unique_ptr<int32_t[]> ring_;      // [window] last tokens (window > 0 only)
  int64_t ring_head_ = 0;                // next slot to write
  int64_t ring_size_ = 0;
  int64_t total_ = 0;                    // tokens pushed (window = -1)
};

}  // namespace mote
