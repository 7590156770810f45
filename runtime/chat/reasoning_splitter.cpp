// ReasoningSplitter: streaming separation of <think>...</think> from the answer.
#include <algorithm>
#include <string>
#include <string_view>

#include "chat/chat_template.h"

namespace mote {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of `s` that is a proper prefix of `tag`: those bytes could be the
// start of a tag completed by the next chunk, so they are held back rather than emitted.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t k = std::min(s.size(), tag.size() - 1); k > 0; --k) {
    if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
  }
  return 0;
}

}  // namespace

void ReasoningSplitter::feed(std::string_view chunk, Output& out) {
  std::string buf = std::move(pending_);
  buf.append(chunk);
  pending_.clear();
  std::string_view rest = buf;
  while (!rest.empty()) {
    const std::string_view tag = in_reasoning_ ? kClose : kOpen;
    std::string& dst = in_reasoning_ ? out.reasoning : out.content;
    const size_t at = rest.find(tag);
    if (at != std::string_view::npos) {
      dst.append(rest.substr(0, at));
      rest.remove_prefix(at + tag.size());
      in_reasoning_ = !in_reasoning_;
      continue;
    }
    const size_t keep = partial_tag_suffix(rest, tag);
    dst.append(rest.substr(0, rest.size() - keep));
    pending_.assign(rest.substr(rest.size() - keep));
    break;
  }
}

void ReasoningSplitter::finish(Output& out) {
  (in_reasoning_ ? out.reasoning : out.content).append(pending_);
  pending_.clear();
}

}  // namespace mote
