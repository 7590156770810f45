// Pre-tokenisers (see pretokenizer.h). Split semantics follow Hugging Face tokenizers
// (`SplitDelimiterBehavior`): the piece is cut into alternating gaps and matches, `invert`
// swaps their roles, the behaviour decides what is kept or merged, and empty pieces vanish.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <algorithm>

#include "tokenizer/utf8.h"

namespace mote::tok {

const char kGpt2Pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {

struct Part {
  Span span;
  bool match;
};

// Applies `behavior` to the alternating gap/match parts of one piece (HF split semantics).
void apply_behavior(const std::vector<Part>& parts, SplitBehavior behavior, std::vector<Span>* out) {
  size_t first = out->size();
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) out->push_back(p.span);
      break;
    case SplitBehavior::kRemoved:
      for (const Part& p : parts)
        if (!p.match) out->push_back(p.span);
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Part& p : parts) {
        if (p.match && !prev_match && out->size() > first) out->back().second = p.span.second;
        else out->push_back(p.span);
        prev_match = p.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (size_t k = parts.size(); k-- > 0;) {  // right to left, then reverse
        const Part& p = parts[k];
        if (p.match && !prev_match && out->size() > first) out->back().first = p.span.first;
        else out->push_back(p.span);
        prev_match = p.match;
      }
      std::reverse(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t k = 0; k < parts.size(); ++k) {
        const Part& p = parts[k];
        if (k > 0 && p.match == prev_match) out->back().second = p.span.second;
        else out->push_back(p.span);
        prev_match = p.match;
      }
      break;
  }
  // Drop empty pieces (HF filters them after splitting).
  size_t w = first;
  for (size_t r = first; r < out->size(); ++r)
    if ((*out)[r].second > (*out)[r].first) (*out)[w++] = (*out)[r];
  out->resize(w);
}

// Cuts piece `sp` of `text` at `matches` (absolute offsets, sorted, non-overlapping).
void split_piece(Span sp, const std::vector<Span>& matches, SplitBehavior behavior, bool invert,
                 std::vector<Span>* out) {
  thread_local std::vector<Part> parts;
  parts.clear();
  uint32_t prev = sp.first;
  for (const Span& m : matches) {
    if (m.first > prev) parts.push_back({{prev, m.first}, invert});
    parts.push_back({m, !invert});
    prev = m.second;
  }
  if (prev < sp.second) parts.push_back({{prev, sp.second}, invert});
  apply_behavior(parts, behavior, out);
}

void find_literal(std::string_view text, Span sp, std::string_view lit, std::vector<Span>* out) {
  if (lit.empty()) return;
  std::string_view piece = text.substr(sp.first, sp.second - sp.first);
  for (size_t pos = 0; (pos = piece.find(lit, pos)) != std::string_view::npos; pos += lit.size())
    out->push_back({static_cast<uint32_t>(sp.first + pos), static_cast<uint32_t>(sp.first + pos + lit.size())});
}

// Rewrites every piece (ByteLevel prefix space, Metaspace replacement/prefix) into a new text.
void rewrite_pieces(const PreTokStep& step, bool at_text_start, PreTokScratch* s, Words* w) {
  std::string& nt = s->rewritten;
  nt.clear();
  nt.reserve(w->text.size() + w->spans.size() * 3 + 3);
  s->next.clear();
  for (const Span& sp : w->spans) {
    std::string_view piece(w->text.data() + sp.first, sp.second - sp.first);
    auto begin = static_cast<uint32_t>(nt.size());
    if (step.kind == PreTokStep::Kind::kByteLevel) {
      if (piece.empty() || piece[0] != ' ') nt.push_back(' ');
      nt.append(piece);
    } else {  // Metaspace: spaces -> replacement, then the prefix
      bool starts = piece.substr(0, 1) == " " || piece.starts_with(step.replacement);
      bool prepend = step.prepend == PreTokStep::Prepend::kAlways ||
                     (step.prepend == PreTokStep::Prepend::kFirst && at_text_start && sp.first == 0);
      if (prepend && !starts) nt.append(step.replacement);
      for (char c : piece) {
        if (c == ' ') nt.append(step.replacement);
        else nt.push_back(c);
      }
    }
    s->next.push_back({begin, static_cast<uint32_t>(nt.size())});
  }
  std::swap(w->text, nt);
  std::swap(w->spans, s->next);
}

}  // namespace

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern, const std::string& field) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return invalid_argument("tokenizer.json: " + field + ": bad regex at offset " + std::to_string(err_off) +
                            ": " + reinterpret_cast<const char*>(msg));
  }
  std::unique_ptr<Regex> re(new Regex());
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

void* Regex::new_match_data() { return pcre2_match_data_create(16, nullptr); }
void Regex::free_match_data(void* md) { pcre2_match_data_free(static_cast<pcre2_match_data*>(md)); }

Status Regex::find_all(std::string_view subject, void* match_data, std::vector<Span>* out) const {
  auto* code = static_cast<pcre2_code*>(code_);
  auto* md = static_cast<pcre2_match_data*>(match_data);
  auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  PCRE2_SIZE start = 0;
  while (start <= subject.size()) {
    int rc = jit_ ? pcre2_jit_match(code, subj, subject.size(), start, 0, md, nullptr)
                  : PCRE2_ERROR_JIT_STACKLIMIT;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // pathological input: the interpreter uses the heap
      rc = pcre2_match(code, subj, subject.size(), start, PCRE2_NO_JIT, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof(msg));
      return internal_error(std::string("tokenizer: regex match failed: ") + reinterpret_cast<const char*>(msg));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[1] > ov[0]) {
      out->push_back({static_cast<uint32_t>(ov[0]), static_cast<uint32_t>(ov[1])});
      start = ov[1];
    } else {  // empty match: step over one character
      size_t n = ov[0] < subject.size() ? utf8_valid_len(subject, ov[0]) : 1;
      start = ov[0] + (n == 0 ? 1 : n);
    }
  }
  return Status::ok();
}

PreTokScratch::PreTokScratch() : match_data(Regex::new_match_data()) {}
PreTokScratch::~PreTokScratch() { Regex::free_match_data(match_data); }

bool PreTokenizer::byte_level() const {
  for (const PreTokStep& s : steps_)
    if (s.kind == PreTokStep::Kind::kByteLevel) return true;
  return false;
}

Status PreTokenizer::run(std::string_view text, bool at_text_start, PreTokScratch* scratch, Words* out) const {
  out->text.assign(text);
  out->spans.clear();
  if (!text.empty()) out->spans.push_back({0, static_cast<uint32_t>(text.size())});
  for (const PreTokStep& step : steps_) MOTE_RETURN_IF_ERROR(run_step(step, at_text_start, scratch, out));
  return Status::ok();
}

Status PreTokenizer::run_step(const PreTokStep& step, bool at_text_start, PreTokScratch* s, Words* w) const {
  using Kind = PreTokStep::Kind;
  bool rewrite = step.kind == Kind::kMetaspace || (step.kind == Kind::kByteLevel && step.add_prefix_space);
  if (rewrite) rewrite_pieces(step, at_text_start, s, w);
  if (step.kind == Kind::kByteLevel && !step.regex) return Status::ok();
  if (step.kind == Kind::kMetaspace && !step.split) return Status::ok();
  SplitBehavior behavior = step.behavior;
  bool invert = step.invert;
  switch (step.kind) {
    case Kind::kByteLevel: behavior = SplitBehavior::kIsolated; invert = false; break;
    case Kind::kDigits:
      behavior = step.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
      invert = false;
      break;
    case Kind::kMetaspace: behavior = SplitBehavior::kMergedWithNext; invert = false; break;
    case Kind::kWhitespace: behavior = SplitBehavior::kRemoved; invert = true; break;
    case Kind::kWhitespaceSplit: behavior = SplitBehavior::kRemoved; invert = false; break;
    case Kind::kSplit: break;
  }
  s->next.clear();
  for (const Span& sp : w->spans) {
    s->matches.clear();
    if (step.regex) {
      size_t before = s->matches.size();
      MOTE_RETURN_IF_ERROR(step.regex->find_all(
          std::string_view(w->text).substr(sp.first, sp.second - sp.first), s->match_data, &s->matches));
      for (size_t k = before; k < s->matches.size(); ++k) {
        s->matches[k].first += sp.first;
        s->matches[k].second += sp.first;
      }
    } else {
      find_literal(w->text, sp, step.kind == Kind::kMetaspace ? step.replacement : step.literal, &s->matches);
    }
    split_piece(sp, s->matches, behavior, invert, &s->next);
  }
  std::swap(w->spans, s->next);
  return Status::ok();
}

}  // namespace mote::tok
