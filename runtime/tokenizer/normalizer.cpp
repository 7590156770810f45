// Normalisers (see normalizer.h). Unicode normal forms use ICU's Normalizer2 singletons, which
// ICU documents as thread-safe.
#include "tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/unistr.h>

namespace mote::tok {
namespace {

const icu::Normalizer2* icu_instance(NormalizerStep::Kind kind, UErrorCode* err) {
  switch (kind) {
    case NormalizerStep::Kind::kNfc: return icu::Normalizer2::getNFCInstance(*err);
    case NormalizerStep::Kind::kNfd: return icu::Normalizer2::getNFDInstance(*err);
    case NormalizerStep::Kind::kNfkc: return icu::Normalizer2::getNFKCInstance(*err);
    default: return icu::Normalizer2::getNFKDInstance(*err);
  }
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

Status unicode_form(NormalizerStep::Kind kind, std::string* text) {
  if (is_ascii(*text)) return Status::ok();  // ASCII is invariant under every normal form
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu_instance(kind, &err);
  if (U_FAILURE(err)) return internal_error(std::string("tokenizer: ICU normalizer: ") + u_errorName(err));
  icu::StringPiece piece(text->data(), static_cast<int32_t>(text->size()));
  if (norm->isNormalizedUTF8(piece, err) && U_SUCCESS(err)) return Status::ok();
  err = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text->size()));
  norm->normalizeUTF8(0, piece, sink, nullptr, err);
  if (U_FAILURE(err)) return internal_error(std::string("tokenizer: ICU normalize: ") + u_errorName(err));
  *text = std::move(out);
  return Status::ok();
}

void replace_all(std::string* text, const std::string& from, const std::string& to) {
  if (from.empty() || text->find(from) == std::string::npos) return;
  std::string out;
  out.reserve(text->size() + text->size() / 4);
  size_t pos = 0;
  for (size_t hit; (hit = text->find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(*text, pos, hit - pos);
    out.append(to);
  }
  out.append(*text, pos, std::string::npos);
  *text = std::move(out);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

void strip(std::string* text, bool left, bool right) {
  size_t b = 0, e = text->size();
  if (left)
    while (b < e && is_space((*text)[b])) ++b;
  if (right)
    while (e > b && is_space((*text)[e - 1])) --e;
  *text = text->substr(b, e - b);
}

void collapse_spaces(std::string* text) {
  std::string out;
  out.reserve(text->size());
  for (char c : *text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(c);
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  *text = std::move(out);
}

}  // namespace

Status Normalizer::apply(std::string_view in, std::string* out) const {
  out->assign(in);
  for (const NormalizerStep& s : steps_) {
    switch (s.kind) {
      case NormalizerStep::Kind::kPrepend:
        if (!out->empty()) out->insert(0, s.a);
        break;
      case NormalizerStep::Kind::kReplace:
        replace_all(out, s.a, s.b);
        break;
      case NormalizerStep::Kind::kStrip:
        strip(out, s.left, s.right);
        break;
      case NormalizerStep::Kind::kCollapseSpaces:
        collapse_spaces(out);
        break;
      case NormalizerStep::Kind::kLowercase: {
        if (is_ascii(*out)) {
          for (char& c : *out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
          break;
        }
        std::string lower;
        icu::UnicodeString::fromUTF8(*out).toLower().toUTF8String(lower);
        *out = std::move(lower);
        break;
      }
      default:
        MOTE_RETURN_IF_ERROR(unicode_form(s.kind, out));
    }
  }
  return Status::ok();
}

}  // namespace mote::tok
