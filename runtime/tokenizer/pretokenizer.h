// Pre-tokenisers of Hugging Face tokenizer.json ("pre_tokenizer"): Split (regex or literal, all
// five delimiter behaviours, invert), ByteLevel (optional prefix space and GPT-2 regex),
// Digits, Metaspace, Whitespace, WhitespaceSplit, and Sequence (flattened here).
//
// ByteLevel does not rewrite text into the GPT-2 alphabet here: words stay raw bytes and the
// BPE vocabulary is converted to raw bytes once at load time, which is equivalent and cheaper.
//
// Thread-safety: a PreTokenizer is immutable after construction; run() is const and keeps all
// mutable state in the caller's PreTokScratch (one per thread / encode call).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mote::tok {

using Span = std::pair<uint32_t, uint32_t>;  // [begin, end) byte offsets

// A PCRE2 pattern compiled with UTF | UCP (Unicode \s, \w, \d) and JIT.
class Regex {
 public:
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Errors name `field` (e.g. "pre_tokenizer.pretokenizers[0].pattern.Regex") and PCRE2's message.
  static Result<std::unique_ptr<Regex>> compile(std::string_view pattern, const std::string& field);
  // Appends every non-empty match in `subject` (offsets relative to subject) to *out.
  // `match_data` must come from new_match_data(). Invalid UTF-8 in `subject` never crashes.
  Status find_all(std::string_view subject, void* match_data, std::vector<Span>* out) const;
  // A pcre2_match_data* sized for any pattern here; free with free_match_data().
  static void* new_match_data();
  static void free_match_data(void* md);

 private:
  Regex() = default;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokStep {
  enum class Kind { kSplit, kByteLevel, kDigits, kMetaspace, kWhitespace, kWhitespaceSplit };
  Kind kind = Kind::kSplit;
  std::unique_ptr<Regex> regex;  // Split (Regex pattern), ByteLevel with use_regex, Whitespace
  std::string literal;           // Split with a String pattern
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel
  bool individual_digits = false; // Digits
  std::string replacement;        // Metaspace replacement (UTF-8), usually "▁"
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;  // Metaspace
  bool split = true;              // Metaspace
};

// Per-call scratch so a const PreTokenizer can run on many threads at once.
struct PreTokScratch {
  PreTokScratch();
  ~PreTokScratch();
  PreTokScratch(const PreTokScratch&) = delete;
  PreTokScratch& operator=(const PreTokScratch&) = delete;
  void* match_data = nullptr;
  std::vector<Span> matches, next;
  std::string rewritten;
};

// Words produced by pre-tokenisation: spans into `text` (which may differ from the input when a
// step rewrote it, e.g. Metaspace or a ByteLevel prefix space).
struct Words {
  std::string text;
  std::vector<Span> spans;
};

class PreTokenizer {
 public:
  void add(PreTokStep step) { steps_.push_back(std::move(step)); }
  bool empty() const { return steps_.empty(); }
  bool byte_level() const;  // true when some step is ByteLevel (the model works on raw bytes)
  // Splits `text` into words. `at_text_start` says whether this piece begins the whole input
  // (Metaspace prepend_scheme "first").
  Status run(std::string_view text, bool at_text_start, PreTokScratch* scratch, Words* out) const;

 private:
  Status run_step(const PreTokStep& step, bool at_text_start, PreTokScratch* s, Words* w) const;
  std::vector<PreTokStep> steps_;
};

// The GPT-2 / ByteLevel(use_regex) pattern.
extern const char kGpt2Pattern[];

}  // namespace mote::tok
