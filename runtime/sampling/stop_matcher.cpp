#include "sampling/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace mote {

namespace {

// Room reserved beyond the longest stop string, for the chunk a decoded token adds.
constexpr size_t kChunkReserve = 1024;

}  // namespace

Result<StopMatcher> StopMatcher::create(std::span<const std::string> stop_strings) {
  for (size_t i = 0; i < stop_strings.size(); ++i)
    if (stop_strings[i].empty())
      return invalid_argument("stop matcher: stop string " + std::to_string(i) + " is empty");
  return StopMatcher(std::vector<std::string>(stop_strings.begin(), stop_strings.end()));
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const std::string& s : stops_) max_stop_len_ = std::max(max_stop_len_, s.size());
  pending_.reserve(max_stop_len_ + kChunkReserve);
}

StopFeedResult StopMatcher::feed(std::string_view chunk) {
  if (stopped()) return {{}, true, stop_index_};
  pending_.erase(0, emitted_);  // drop what the last call returned; keeps capacity
  emitted_ = 0;
  const size_t old = pending_.size();
  pending_.append(chunk);

  // The held-back text holds no complete stop string, so a match must end inside the new chunk.
  // Stop at the match that ends first (then: starts first), as a byte-at-a-time scan would.
  size_t best_start = std::string::npos, best_end = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const std::string& s = stops_[i];
    const size_t from = old >= s.size() ? old - s.size() + 1 : 0;
    const size_t pos = pending_.find(s, from);
    if (pos == std::string::npos) continue;
    const size_t end = pos + s.size();
    if (end < best_end || (end == best_end && pos < best_start)) {
      best_start = pos;
      best_end = end;
      stop_index_ = int32_t(i);
    }
  }
  if (stopped()) {
    emitted_ = pending_.size();  // nothing held: the rest of the stream is discarded
    return {std::string_view(pending_.data(), best_start), true, stop_index_};
  }
  emitted_ = pending_.size() - partial_suffix(0);
  return {std::string_view(pending_.data(), emitted_), false, -1};
}

std::string_view StopMatcher::flush() {
  if (stopped()) return {};
  const size_t from = emitted_;
  emitted_ = pending_.size();
  return std::string_view(pending_.data() + from, pending_.size() - from);
}

void StopMatcher::reset() {
  pending_.clear();
  emitted_ = 0;
  stop_index_ = -1;
}

size_t StopMatcher::partial_suffix(size_t from) const {
  const std::string_view text(pending_.data() + from, pending_.size() - from);
  const size_t longest = std::min(text.size(), max_stop_len_ > 0 ? max_stop_len_ - 1 : 0);
  for (size_t k = longest; k > 0; --k) {
    const std::string_view suffix = text.substr(text.size() - k);
    for (const std::string& s : stops_)
      if (s.size() > k && std::string_view(s).substr(0, k) == suffix) return k;
  }
  return 0;
}

}  // namespace mote
