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

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.content.empty()) return;
  auto index = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(token);
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

int32_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, bool allow_special, size_t* end) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    int32_t t = nodes_[node].token;
    if (t >= 0 && (allow_special || !tokens_[t].special)) {
      best = t;
      *end = i + 1;
    }
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, bool allow_special, std::vector<Segment>* out) const {
  size_t plain = 0;  // start of the pending plain-text segment
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t end = 0;
    int32_t t = longest_at(text, pos, allow_special, &end);
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
