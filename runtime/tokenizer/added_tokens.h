// Added-token matching (HF `AddedVocabulary`): finds added/special tokens in text before
// pre-tokenisation, leftmost-longest, honouring the lstrip / rstrip / single_word flags.
// Immutable after build(); split() is const and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mote::tok {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool normalized = false;  // matched on normalised text (second pass) rather than raw text
  bool lstrip = false, rstrip = false, single_word = false;
};

// A piece of text: either plain text [begin, end) or an added token (id >= 0) covering it.
struct Segment {
  uint32_t begin, end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  // Copies `token` into the matcher. Tokens with empty content are ignored.
  void add(const AddedToken& token);
  bool empty() const { return tokens_.empty(); }
  // Splits `text` into segments. With allow_special false, special tokens are not matched
  // (they stay plain text).
  void split(std::string_view text, bool allow_special, std::vector<Segment>* out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> kids;  // sorted by byte
    int32_t token = -1;                             // index into tokens_ when a token ends here
  };
  int32_t child(int32_t node, uint8_t b) const;
  // Longest allowed token starting at `pos`; returns its index or -1, and its end in *end.
  int32_t longest_at(std::string_view text, size_t pos, bool allow_special, size_t* end) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> first_byte_{};
};

}  // namespace mote::tok
