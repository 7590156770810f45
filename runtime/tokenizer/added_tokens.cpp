// Added-token matching with a byte trie (see added_tokens.h).
#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace mote::tok {
namespace {

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Word character for single_word: ASCII alphanumeric, '_' or any non-ASCII byte (letters of
// other scripts; HF uses char::is_alphanumeric, which this approximates).
bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

}  // namespace

bool looks_like_control(std::string_view c) {
  const auto wrapped = [&](std::string_view open, std::string_view close) {
    return c.size() >= open.size() + close.size() && c.starts_with(open) && c.ends_with(close);
  };
  return wrapped("<|", "|>") || wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>");  // U+FF5C FULLWIDTH VERTICAL LINE
}

bool ControlFilter::overlaps_plain(size_t begin, size_t end) const {
  begin += base;
  end += base;
  // First range ending after `begin`; ranges are sorted and disjoint.
  auto it = std::lower_bound(plain.begin(), plain.end(), begin,
                             [](const TextRange& r, size_t b) { return r.end <= b; });
  return it != plain.end() && it->begin < end;
}

bool ControlFilter::permits(size_t begin, size_t end) const { return allow && !overlaps_plain(begin, end); }

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.content.empty()) return;
  auto index = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(token);
  control_.push_back(token.special || looks_like_control(token.content) ? 1 : 0);
  int32_t node = 0;
  for (unsigned char b : token.content) {
    int32_t next = child(node, b);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& kids = nodes_[node].kids;
      kids.insert(std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1})), {b, next});
    }
    node = next;
  }
  if (nodes_[node].token < 0) nodes_[node].token = index;  // duplicate content: first wins
  first_byte_[static_cast<unsigned char>(token.content[0])] = true;
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t b) const {
  const auto& kids = nodes_[node].kids;
  auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1}));
  return (it != kids.end() && it->first == b) ? it->second : -1;
}

int32_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, const ControlFilter& filter,
                                      size_t* end) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    int32_t t = nodes_[node].token;
    if (t >= 0 && (!control_[size_t(t)] || filter.permits(pos, i + 1))) {
      best = t;
      *end = i + 1;
    }
  }
  return best;
}

void AddedTokenMatcher::find_controls(std::string_view text, std::vector<TextRange>* out) const {
  ControlFilter only_controls;  // permits everything; non-control hits are skipped below
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = 0;
    const int32_t t = first_byte_[static_cast<unsigned char>(text[pos])] ? longest_at(text, pos, only_controls, &end) : -1;
    if (t >= 0 && control_[size_t(t)]) {
      out->push_back({pos, end});
      pos = end;
    } else {
      ++pos;
    }
  }
}

void AddedTokenMatcher::split(std::string_view text, const ControlFilter& filter, std::vector<Segment>* out) const {
  size_t plain = 0;  // start of the pending plain-text segment
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t end = 0;
    int32_t t = longest_at(text, pos, filter, &end);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[t];
    if (tok.single_word) {
      bool left_ok = pos == 0 || !is_word_byte(static_cast<unsigned char>(text[pos - 1]));
      bool right_ok = end == text.size() || !is_word_byte(static_cast<unsigned char>(text[end]));
      if (!left_ok || !right_ok) {
        ++pos;
        continue;
      }
    }
    size_t start = pos;
    if (tok.lstrip)
      while (start > plain && is_space(static_cast<unsigned char>(text[start - 1]))) --start;
    if (tok.rstrip)
      while (end < text.size() && is_space(static_cast<unsigned char>(text[end]))) ++end;
    if (start > plain) out->push_back({static_cast<uint32_t>(plain), static_cast<uint32_t>(start), -1});
    out->push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(end), tok.id});
    plain = pos = end;
  }
  if (plain < text.size()) out->push_back({static_cast<uint32_t>(plain), static_cast<uint32_t>(text.size()), -1});
}

}  // namespace mote::tok
