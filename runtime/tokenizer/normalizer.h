// Text normalisers of Hugging Face tokenizer.json ("normalizer"): Unicode normal forms (via
// ICU), Prepend, Replace (literal string), Lowercase, Strip, and Sequence (flattened here).
// Immutable after construction; apply() is const and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mote::tok {

struct NormalizerStep {
  // kCollapseSpaces: SentencePiece remove_extra_whitespaces (trim ' ', squeeze runs of ' ').
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kPrepend, kReplace, kLowercase, kStrip, kCollapseSpaces };
  Kind kind = Kind::kNfc;
  std::string a;  // Prepend: the prefix; Replace: the literal pattern
  std::string b;  // Replace: the replacement
  bool left = false, right = false;  // Strip
};

class Normalizer {
 public:
  void add(NormalizerStep step) { steps_.push_back(std::move(step)); }
  bool empty() const { return steps_.empty(); }
  // Normalises `in` (valid UTF-8) into *out. Errors only if ICU fails (kInternal).
  Status apply(std::string_view in, std::string* out) const;

 private:
  std::vector<NormalizerStep> steps_;
};

}  // namespace mote::tok
