// Tokenizer encode/decode and lookups (see tokenizer.h). Loading lives in hf_json_loader.cpp
// and spm_model_loader.cpp.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace mote {
namespace tok {

void TokenizerImpl::add_token(const AddedToken& t) {
  ensure_id(t.id);
  text[static_cast<size_t>(t.id)] = t.content;
  special[static_cast<size_t>(t.id)] = t.special ? 1 : 0;
  added_ids.emplace(t.content, t.id);
  (t.normalized ? norm_added : raw_added).add(t);
}

namespace {

void replace_all(std::string* s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t pos = 0; (pos = s->find(from, pos)) != std::string::npos; pos += to.size()) s->replace(pos, from.size(), to);
}

std::string decode_token(const std::string& text, const DecodeRules& r) {
  if (r.byte_fallback) {
    int b = parse_byte_token(text);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  std::string out;
  if (!r.byte_level || !byte_level_to_bytes(text, &out)) out = text;
  for (const auto& [from, to] : r.replace) replace_all(&out, from, to);
  return out;
}

// Per-call scratch: keeps a const Tokenizer thread-safe without per-word allocations.
struct EncodeScratch {
  PreTokScratch pretok;
  Words words;
  std::string normalized;
  std::vector<Segment> segments;
};

}  // namespace

void TokenizerImpl::build_decode_table() {
  bytes.assign(text.size(), std::string());
  for (size_t id = 0; id < text.size(); ++id) bytes[id] = decode_token(text[id], rules);
}

// Pre-tokenises one normalised piece and runs BPE on each word.
static Status encode_words(const TokenizerImpl& d, std::string_view text, bool at_start, EncodeScratch* s,
                           std::vector<int32_t>* out) {
  if (d.pretok.empty()) {
    d.bpe.encode(text, out);
    return Status::ok();
  }
  MOTE_RETURN_IF_ERROR(d.pretok.run(text, at_start, &s->pretok, &s->words));
  std::string_view wt(s->words.text);
  for (const Span& sp : s->words.spans) d.bpe.encode(wt.substr(sp.first, sp.second - sp.first), out);
  return Status::ok();
}

// One piece of raw text between added tokens (at byte `offset` of the whole text): normalise,
// match normalized added tokens, encode.
static Status encode_plain(const TokenizerImpl& d, std::string_view piece, size_t offset, const ControlFilter& raw,
                           EncodeScratch* s, std::vector<int32_t>* out) {
  const bool at_start = offset == 0;
  std::string_view norm = piece;
  ControlFilter filter = raw;
  filter.base = raw.base + offset;
  if (!d.normalizer.empty()) {
    MOTE_RETURN_IF_ERROR(d.normalizer.apply(piece, &s->normalized));
    norm = s->normalized;
    // Offsets in the normalised text no longer map to the input: no control token in a piece
    // that touches a plain range (safe side), no ranges to consult otherwise.
    if (filter.overlaps_plain(0, piece.size())) filter.allow = false;
    filter.plain = {};
  }
  if (d.norm_added.empty()) return encode_words(d, norm, at_start, s, out);
  std::vector<Segment> segs;  // `norm` stays valid: encode_words never touches s->normalized
  d.norm_added.split(norm, filter, &segs);
  for (const Segment& g : segs) {
    if (g.id >= 0) out->push_back(g.id);
    else MOTE_RETURN_IF_ERROR(encode_words(d, norm.substr(g.begin, g.end - g.begin), at_start && g.begin == 0, s, out));
  }
  return Status::ok();
}

}  // namespace tok

Tokenizer::Tokenizer(std::unique_ptr<tok::TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Status Tokenizer::encode(std::string_view text, bool add_special, std::vector<int32_t>* out) const {
  EncodeOptions o;
  o.add_special = add_special;
  return encode(text, o, out);
}

Status Tokenizer::encode(std::string_view text, const EncodeOptions& options, std::vector<int32_t>* out) const {
  if (out == nullptr) return invalid_argument("tokenizer: encode: null output");
  const tok::TokenizerImpl& d = *impl_;
  out->clear();
  std::string repaired;
  if (tok::utf8_first_invalid(text) != text.size()) {
    tok::append_utf8_lossy(text, true, &repaired);
    text = repaired;
  }
  tok::ControlFilter filter;
  filter.allow = options.parse_special;
  filter.plain = options.plain;
  // Repairing ill-formed UTF-8 moves offsets: plain ranges no longer apply, so all is plain.
  if (!repaired.empty() && !options.plain.empty()) filter.allow = false;
  if (options.add_special) out->insert(out->end(), d.prefix_ids.begin(), d.prefix_ids.end());
  tok::EncodeScratch s;
  if (d.raw_added.empty()) {
    MOTE_RETURN_IF_ERROR(tok::encode_plain(d, text, 0, filter, &s, out));
  } else {
    d.raw_added.split(text, filter, &s.segments);
    std::vector<tok::Segment> segs = std::move(s.segments);
    for (const tok::Segment& g : segs) {
      if (g.id >= 0) out->push_back(g.id);
      else MOTE_RETURN_IF_ERROR(tok::encode_plain(d, text.substr(g.begin, g.end - g.begin), g.begin, filter, &s, out));
    }
  }
  if (options.add_special) out->insert(out->end(), d.suffix_ids.begin(), d.suffix_ids.end());
  return Status::ok();
}

Result<std::string> Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size())
      return invalid_argument("tokenizer: decode: id " + std::to_string(ids[i]) + " at position " +
                              std::to_string(i) + " is outside [0, " + std::to_string(vocab_size()) + ")");
  std::string out;
  StreamDecoder sd(*this, skip_special);
  for (int32_t id : ids) sd.push(id, &out);
  sd.flush(&out);
  return out;
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return (id >= 0 && id < vocab_size()) ? std::string_view(impl_->text[static_cast<size_t>(id)]) : std::string_view();
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  return (id >= 0 && id < vocab_size()) ? std::string_view(impl_->bytes[static_cast<size_t>(id)]) : std::string_view();
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && impl_->special[static_cast<size_t>(id)] != 0;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->text.size()); }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
const std::vector<int32_t>& Tokenizer::eos_ids() const { return impl_->eos; }

std::vector<PlainRange> Tokenizer::control_token_spans(std::string_view text) const {
  std::vector<PlainRange> spans;
  impl_->raw_added.find_controls(text, &spans);
  // Normalized added tokens are matched on the raw text too: the spelling is what counts here.
  impl_->norm_added.find_controls(text, &spans);
  std::sort(spans.begin(), spans.end(), [](const PlainRange& a, const PlainRange& b) { return a.begin < b.begin; });
  std::vector<PlainRange> merged;  // overlapping hits of the two passes become one range
  for (const PlainRange& r : spans) {
    if (!merged.empty() && r.begin < merged.back().end) merged.back().end = std::max(merged.back().end, r.end);
    else merged.push_back(r);
  }
  return merged;
}

int32_t Tokenizer::find_token(std::string_view text) const {
  const tok::TokenizerImpl& d = *impl_;
  if (auto it = d.added_ids.find(text); it != d.added_ids.end()) return it->second;
  std::string model_form;
  if (d.bpe.opt.byte_level) {
    if (!tok::byte_level_to_bytes(text, &model_form)) return -1;
    text = model_form;
  }
  auto it = d.bpe.vocab.find(text);
  return it == d.bpe.vocab.end() ? -1 : it->second;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special), strip_left_(tokenizer.impl_->rules.strip_left) {}

void StreamDecoder::push(int32_t id, std::string* out_text) {
  if (id < 0 || id >= tokenizer_->vocab_size()) return;
  if (skip_special_ && tokenizer_->is_special(id)) return;
  std::string_view b = tokenizer_->token_bytes(id);
  if (b.empty()) return;
  if (strip_left_ > 0) {
    while (strip_left_ > 0 && !b.empty() && b.front() == ' ') {
      b.remove_prefix(1);
      --strip_left_;
    }
    if (!b.empty()) strip_left_ = 0;  // text has started: no further stripping
  }
  if (pending_.empty()) {  // fast path: most tokens are complete UTF-8
    size_t used = tok::append_utf8_lossy(b, false, out_text);
    pending_.assign(b.substr(used));
    return;
  }
  pending_.append(b);
  size_t used = tok::append_utf8_lossy(pending_, false, out_text);
  pending_.erase(0, used);
}

void StreamDecoder::flush(std::string* out_text) {
  tok::append_utf8_lossy(pending_, true, out_text);
  reset();
}

void StreamDecoder::reset() {
  pending_.clear();
  strip_left_ = tokenizer_->impl_->rules.strip_left;
}

}  // namespace mote
