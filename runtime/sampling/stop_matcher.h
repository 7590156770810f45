// StopMatcher: finds stop strings in streamed text. Decoded text arrives in chunks (one per
// token, or any split); feed() returns the part that is safe to show now, holding back a suffix
// that could still become the start of a stop string, and says when a stop string completes.
// The stop string and everything after it are never emitted.
//
// The result does not depend on how the text is chunked: the stream stops at the first position
// where any stop string ends (among stop strings ending there, the longest, i.e. the one that
// starts first), exactly as if the text had been fed one byte at a time.
//
// Allocation: create() reserves the buffer; feed() only allocates when one call's pending text
// (held-back suffix + chunk) exceeds everything seen so far, so a decode loop settles at once.
// Ownership: owns copies of the stop strings. Thread-safety: none; one per sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mote {

struct StopFeedResult {
  // Text safe to emit now (not including any stop string). Points into the matcher; valid
  // until its next feed()/flush()/reset().
  std::string_view text;
  bool stopped = false;   // a stop string completed (now or earlier); generation should end
  int32_t stop_index = -1;  // which stop string (index into stop_strings()), -1 if none
};

class StopMatcher {
 public:
  // Errors: an empty stop string (kInvalidArgument). No stop strings is valid: all text passes.
  static Result<StopMatcher> create(std::span<const std::string> stop_strings);

  // Appends `chunk` to the stream. After a stop, returns empty text with stopped = true.
  StopFeedResult feed(std::string_view chunk);
  // End of generation without a stop (EOS, length limit): returns the held-back text and
  // empties the buffer. Empty after a stop.
  std::string_view flush();
  // Starts a new stream (keeps the stop strings and the buffer's capacity).
  void reset();

  bool stopped() const { return stop_index_ >= 0; }
  // Bytes currently held back because they may begin a stop string.
  size_t held() const { return pending_.size() - emitted_; }
  const std::vector<std::string>& stop_strings() const { return stops_; }

 private:
  explicit StopMatcher(std::vector<std::string> stops);
  // Length of the longest suffix of pending_[from, end) that is a proper prefix of a stop string.
  size_t partial_suffix(size_t from) const;

  std::vector<std::string> stops_;
  size_t max_stop_len_ = 0;
  std::string pending_;  // [emitted_, size) is held back; [0, emitted_) was returned last call
  size_t emitted_ = 0;
  int32_t stop_index_ = -1;
};

// True if `id` is one of the end-of-sequence ids (e.g. the model's eos_token_ids).
inline bool is_eos_token(int32_t id, std::span<const int32_t> eos_ids) {
  for (const int32_t e : eos_ids)
    if (e == id) return true;
  return false;
}

}  // namespace mote
