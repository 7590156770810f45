// Added-token matching (HF `AddedVocabulary`): finds added/special tokens in text before
// pre-tokenisation, leftmost-longest, honouring the lstrip / rstrip / single_word flags.
// Immutable after build(); split() is const and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mote::tok {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool normalized = false;  // matched on normalised text (second pass) rather than raw text
  bool lstrip = false, rstrip = false, single_word = false;
};

// A byte range [begin, end) of a text (the public EncodeOptions::plain element).
using TextRange = PlainRange;

// Where CONTROL tokens may be matched in a text: nowhere (allow false), or everywhere except
// where a match would overlap one of the `plain` ranges (sorted, disjoint, in the coordinates of
// the whole text; `base` is the offset of the text being split within it). Control tokens are
// special tokens plus added tokens spelled like them (<|...|>, <｜...｜>; llama.cpp's rule), so
// DeepSeek's non-special "<｜User｜>" counts. Other added tokens always match.
struct ControlFilter {
  bool allow = true;
  std::span<const TextRange> plain;
  size_t base = 0;
  // True when a control token may cover [begin, end) of the text being split.
  bool permits(size_t begin, size_t end) const;
  // True when [begin, end) (local coordinates) overlaps a plain range.
  bool overlaps_plain(size_t begin, size_t end) const;
};

// True for added-token text written like a control token: "<|...|>" or "<｜...｜>".
bool looks_like_control(std::string_view content);

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
  // Splits `text` into segments. Control tokens are matched only where `filter` permits (elsewhere
  // their text stays plain text).
  void split(std::string_view text, const ControlFilter& filter, std::vector<Segment>* out) const;
  // allow_control false: no control token matched anywhere.
  void split(std::string_view text, bool allow_control, std::vector<Segment>* out) const {
    ControlFilter f;
    f.allow = allow_control;
    split(text, f, out);
  }
  // Appends the byte ranges of `text` where a control token's text occurs (leftmost-longest,
  // ignoring lstrip/rstrip/single_word: every spelling that could become a control id).
  void find_controls(std::string_view text, std::vector<TextRange>* out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> kids;  // sorted by byte
    int32_t token = -1;                             // index into tokens_ when a token ends here
  };
  int32_t child(int32_t node, uint8_t b) const;
  // Longest allowed token starting at `pos`; returns its index or -1, and its end in *end.
  int32_t longest_at(std::string_view text, size_t pos, const ControlFilter& filter, size_t* end) const;

  std::vector<AddedToken> tokens_;
  std::vector<uint8_t> control_;  // per token: 1 = control (special or spelled like one)
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> first_byte_{};
};

}  // namespace mote::tok
