// Helpers shared by the chat renderers (not part of the public API). The string functions mirror
// the Python/Jinja operations the templates apply, so renders stay byte-identical.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "chat/chat_template.h"

namespace mote::chat_internal {

inline bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// Python str.strip()/lstrip()/rstrip() with no argument (Jinja `trim`, `.strip()`): removes
// Unicode whitespace, decoded from UTF-8, at the ends.
std::string_view py_strip(std::string_view s);
std::string_view py_lstrip(std::string_view s);
std::string_view py_rstrip(std::string_view s);

// Python str.strip(chars) family for an explicit ASCII character set, e.g. strip("\n").
std::string_view strip_chars(std::string_view s, std::string_view chars);
std::string_view lstrip_chars(std::string_view s, std::string_view chars);
std::string_view rstrip_chars(std::string_view s, std::string_view chars);

// s.split(sep)[-1]: the text after the LAST occurrence of sep (all of s if absent).
std::string_view after_last(std::string_view s, std::string_view sep);
// s.split(sep)[0]: the text before the FIRST occurrence of sep (all of s if absent).
std::string_view before_first(std::string_view s, std::string_view sep);
// s.split(sep, 1)[1]: the text after the FIRST occurrence (caller checks presence).
std::string_view after_first(std::string_view s, std::string_view sep);

// Python json.dumps(s, ensure_ascii=False) of a string: the `tojson` filter as transformers
// defines it (no HTML escaping), quotes included.
std::string json_quote(std::string_view s);

Result<std::string> render_deepseek(ChatFamily family, std::span<const ChatMessage> messages,
                                    const ChatRenderOptions& options);
Result<std::string> render_chatml(ChatFamily family, std::span<const ChatMessage> messages,
                                  const ChatRenderOptions& options);
Result<std::string> render_mistral(ChatFamily family, std::span<const ChatMessage> messages,
                                   const ChatRenderOptions& options);
Result<std::string> render_gpt_oss(std::span<const ChatMessage> messages,
                                   const ChatRenderOptions& options);

}  // namespace mote::chat_internal
