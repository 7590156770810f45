// render_chat dispatch and the Python-string helpers the renderers share.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "chat/chat_render_internal.h"
#include "chat/chat_template.h"

namespace mote {
namespace chat_internal {
namespace {

// Length of the UTF-8 whitespace character (Python str.isspace) starting at s[i], or 0.
size_t space_len_at(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const size_t left = s.size() - i;
  const unsigned char c = b(0);
  // ASCII: \t \n \v \f \r, \x1c-\x1f (Python counts the separators) and space.
  if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20)) return 1;
  if (c == 0xc2 && left >= 2 && (b(1) == 0x85 || b(1) == 0xa0)) return 2;  // NEL, NBSP
  // The rest are 3-byte sequences: U+1680, U+2000-200A, U+2028/9, U+202F, U+205F, U+3000.
  if ((c & 0xf0) != 0xe0 || left < 3 || (b(1) & 0xc0) != 0x80 || (b(2) & 0xc0) != 0x80) return 0;
  const uint32_t cp = (uint32_t(c & 0x0f) << 12) | (uint32_t(b(1) & 0x3f) << 6) | (b(2) & 0x3f);
  const bool space = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
                     cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
  return space ? 3 : 0;
}

// Length of the whitespace character ending at s[end-1], or 0 (at most 3 bytes back).
size_t space_len_before(std::string_view s, size_t end) {
  for (size_t n = 1; n <= 3 && n <= end; ++n) {
    if (space_len_at(s, end - n) == n) return n;
  }
  return 0;
}

}  // namespace

std::string_view py_lstrip(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = space_len_at(s, i);
    if (n == 0) break;
    i += n;
  }
  return s.substr(i);
}

std::string_view py_rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const size_t n = space_len_before(s, end);
    if (n == 0) break;
    end -= n;
  }
  return s.substr(0, end);
}

std::string_view py_strip(std::string_view s) { return py_rstrip(py_lstrip(s)); }

std::string_view lstrip_chars(std::string_view s, std::string_view chars) {
  const size_t i = s.find_first_not_of(chars);
  return i == std::string_view::npos ? std::string_view() : s.substr(i);
}

std::string_view rstrip_chars(std::string_view s, std::string_view chars) {
  const size_t i = s.find_last_not_of(chars);
  return i == std::string_view::npos ? std::string_view() : s.substr(0, i + 1);
}

std::string_view strip_chars(std::string_view s, std::string_view chars) {
  return rstrip_chars(lstrip_chars(s, chars), chars);
}

std::string_view after_last(std::string_view s, std::string_view sep) {
  const size_t i = s.rfind(sep);
  return i == std::string_view::npos ? s : s.substr(i + sep.size());
}

std::string_view before_first(std::string_view s, std::string_view sep) {
  const size_t i = s.find(sep);
  return i == std::string_view::npos ? s : s.substr(0, i);
}

std::string_view after_first(std::string_view s, std::string_view sep) {
  const size_t i = s.find(sep);
  return i == std::string_view::npos ? std::string_view() : s.substr(i + sep.size());
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // ensure_ascii=False: UTF-8 passes through
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace chat_internal

Result<std::string> render_chat(ChatFamily family, std::span<const ChatMessage> messages,
                                const ChatRenderOptions& options) {
  using namespace chat_internal;
  switch (family) {
    case ChatFamily::kDeepSeekV3:
    case ChatFamily::kDeepSeekV31:
    case ChatFamily::kDeepSeekV31EmptyThink:
    case ChatFamily::kDeepSeekR1:
      return render_deepseek(family, messages, options);
    case ChatFamily::kChatML:
    case ChatFamily::kChatMLQwen2:
    case ChatFamily::kChatMLQwen25:
    case ChatFamily::kChatMLQwen3:
      return render_chatml(family, messages, options);
    case ChatFamily::kMistralV0:
    case ChatFamily::kMistralV1:
    case ChatFamily::kMistralV3:
    case ChatFamily::kMistralV3Tekken:
    case ChatFamily::kMistralV7:
      return render_mistral(family, messages, options);
    case ChatFamily::kGptOss:
      return render_gpt_oss(messages, options);
  }
  return invalid_argument("render_chat: invalid chat family " +
                          std::to_string(static_cast<int>(family)));
}

}  // namespace mote
