// ChatML renderers: plain ChatML and the Qwen2 / Qwen2.5 / Qwen3 templates. All share
// "<|im_start|>{role}\n{content}<|im_end|>\n"; they differ in the default system
// prompt, in how tool calls and results are written, and (Qwen3) in <think> handling.
#include <string>

#include "chat/chat_render_internal.h"

namespace mote::chat_internal {
namespace {

constexpr const char* kQwen2System = "You are a helpful assistant.";
constexpr const char* kQwen25System =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

void append_turn(std::string_view role, std::string_view content, std::string& out) {
  out += "<|im_start|>";
  out += role;
  out += "\n";
  out += content;
  out += "<|im_end|>\n";
}

// Qwen2.5/Qwen3: consecutive tool results share one user turn of <tool_response> blocks.
void append_tool_result(std::span<const ChatMessage> messages, size_t i, std::string& out) {
  if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
  out += "\n<tool_response>\n" + messages[i].content + "\n</tool_response>";
  if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
}

void append_tool_call(const ChatToolCall& call, std::string& out) {
  out += "<tool_call>\n{\"name\": \"" + call.name + "\", \"arguments\": " + call.arguments +
         "}\n</tool_call>";
}

// Plain ChatML, and Qwen2 which only adds a default system turn.
std::string render_plain(std::span<const ChatMessage> messages, bool qwen2_default) {
  std::string out;
  if (qwen2_default && !messages.empty() && messages[0].role != "system") {
    append_turn("system", kQwen2System, out);
  }
  for (const ChatMessage& m : messages) append_turn(m.role, m.content, out);
  return out;
}

std::string render_qwen25(std::span<const ChatMessage> messages) {
  std::string out;
  const bool has_system = !messages.empty() && messages[0].role == "system";
  append_turn("system", has_system ? std::string_view(messages[0].content) : kQwen25System, out);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i != 0) ||
        (m.role == "assistant" && m.tool_calls.empty())) {
      append_turn(m.role, m.content, out);
    } else if (m.role == "assistant") {
      out += "<|im_start|>assistant";
      if (!m.content.empty()) out += "\n" + m.content;
      for (const ChatToolCall& call : m.tool_calls) {
        out += "\n";
        append_tool_call(call, out);
      }
      out += "<|im_end|>\n";
    } else if (m.role == "tool") {
      append_tool_result(messages, i, out);
    }
  }
  return out;
}

// Index of the last real user query: tool results passed back as user turns wrapped in
// <tool_response> do not count. Assistant turns after it keep their reasoning.
size_t qwen3_last_query_index(std::span<const ChatMessage> messages) {
  for (size_t k = messages.size(); k-- > 0;) {
    const std::string& c = messages[k].content;
    const bool wrapped = c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
    if (messages[k].role == "user" && !wrapped) return k;
  }
  return messages.empty() ? 0 : messages.size() - 1;
}

void append_qwen3_assistant(const ChatMessage& m, bool keep_reasoning, bool is_last,
                            std::string& out) {
  std::string_view content = m.content;
  std::string_view reasoning;
  if (!m.reasoning_content.empty()) {
    reasoning = m.reasoning_content;
  } else if (contains(m.content, "</think>")) {
    content = lstrip_chars(after_last(m.content, "</think>"), "\n");
    reasoning = lstrip_chars(
        after_last(rstrip_chars(before_first(m.content, "</think>"), "\n"), "<think>"), "\n");
  }
  out += "<|im_start|>assistant\n";
  if (keep_reasoning && (is_last || !reasoning.empty())) {
    out += "<think>\n";
    out += strip_chars(reasoning, "\n");
    out += "\n</think>\n\n";
    out += lstrip_chars(content, "\n");
  } else {
    out += content;
  }
  for (size_t k = 0; k < m.tool_calls.size(); ++k) {
    if (k > 0 || !content.empty()) out += "\n";
    append_tool_call(m.tool_calls[k], out);
  }
  out += "<|im_end|>\n";
}

std::string render_qwen3(std::span<const ChatMessage> messages) {
  std::string out;
  if (!messages.empty() && messages[0].role == "system") append_turn("system", messages[0].content, out);
  const size_t last_query = qwen3_last_query_index(messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      append_turn(m.role, m.content, out);
    } else if (m.role == "assistant") {
      append_qwen3_assistant(m, i > last_query, i + 1 == messages.size(), out);
    } else if (m.role == "tool") {
      append_tool_result(messages, i, out);
    }
  }
  return out;
}

}  // namespace

Result<std::string> render_chatml(ChatFamily family, std::span<const ChatMessage> messages,
                                  const ChatRenderOptions& options) {
  std::string out;
  switch (family) {
    case ChatFamily::kChatMLQwen25: out = render_qwen25(messages); break;
    case ChatFamily::kChatMLQwen3: out = render_qwen3(messages); break;
    default: out = render_plain(messages, family == ChatFamily::kChatMLQwen2); break;
  }
  if (options.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    // Qwen3 writes an empty think block only when enable_thinking is explicitly false.
    if (family == ChatFamily::kChatMLQwen3 && options.enable_thinking.has_value() &&
        !*options.enable_thinking) {
      out += "<think>\n\n</think>\n\n";
    }
  }
  return out;
}

}  // namespace mote::chat_internal
