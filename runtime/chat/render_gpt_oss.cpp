// gpt-oss harmony renderer (format: openai/harmony's docs/format.md), following
// openai-gpt-oss-120b.jinja:
//   <|start|>system<|message|>{identity, cutoff, date, reasoning, channels}<|end|>
//   <|start|>developer<|message|># Instructions\n\n{first system/developer message}\n\n<|end|>
//   <|start|>user<|message|>{u}<|end|>
//   <|start|>assistant<|channel|>final<|message|>{a}<|end|>      past turns: analysis is dropped
//   <|start|>assistant                                            generation prompt
// Tool definitions, builtin tools and model_identity are not rendered (no such inputs here).
#include <ctime>
#include <string>

#include "chat/chat_render_internal.h"

namespace mote::chat_internal {
namespace {

std::string today_local() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string system_message(const ChatRenderOptions& o) {
  const std::string date = o.current_date.empty() ? today_local() : o.current_date;
  const std::string effort = o.reasoning_effort.empty() ? "medium" : o.reasoning_effort;
  return "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
         "Knowledge cutoff: 2024-06\nCurrent date: " + date + "\n\nReasoning: " + effort +
         "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every "
         "message.<|end|>";
}

// The template refuses channel markup smuggled into content or thinking.
Status check_no_channel_tags(const ChatMessage& m) {
  for (const std::string* field : {&m.content, &m.reasoning_content}) {
    if (contains(*field, "<|channel|>analysis<|message|>") ||
        contains(*field, "<|channel|>final<|message|>")) {
      return invalid_argument("chat template gpt-oss: an assistant message contains <|channel|> "
                              "tags; pass analysis text as reasoning_content and the final "
                              "answer as content");
    }
  }
  return Status::ok();
}

// A tool-calling turn. Its analysis text is kept only until a later final answer exists (the one
// case where CoT is rendered at inference); only the first call is rendered, as the template does.
Status append_tool_call_turn(std::span<const ChatMessage> rest, size_t i, std::string& out,
                             std::string& last_tool_name) {
  const ChatMessage& m = rest[i];
  bool final_later = false;
  for (size_t k = i + 1; k < rest.size(); ++k) {
    if (rest[k].role == "assistant" && rest[k].tool_calls.empty()) final_later = true;
  }
  if (!m.content.empty() && !m.reasoning_content.empty()) {
    return invalid_argument("chat template gpt-oss: an assistant message with tool calls cannot "
                            "have both content and reasoning_content");
  }
  const std::string& analysis = m.content.empty() ? m.reasoning_content : m.content;
  if (!analysis.empty() && !final_later) {
    out += "<|start|>assistant<|channel|>analysis<|message|>" + analysis + "<|end|>";
  }
  const ChatToolCall& call = m.tool_calls.front();
  out += "<|start|>assistant to=functions." + call.name + "<|channel|>commentary json<|message|>" +
         call.arguments + "<|call|>";
  last_tool_name = call.name;
  return Status::ok();
}

Status append_message(std::span<const ChatMessage> rest, size_t i, const ChatRenderOptions& o,
                      std::string& out, std::string& last_tool_name) {
  const ChatMessage& m = rest[i];
  if (m.role == "assistant") {
    MOTE_RETURN_IF_ERROR(check_no_channel_tags(m));
    if (!m.tool_calls.empty()) return append_tool_call_turn(rest, i, out, last_tool_name);
    if (i + 1 == rest.size() && !o.add_generation_prompt) {
      // A finished last turn (training-style render): analysis kept, ends with <|return|>.
      if (!m.reasoning_content.empty()) {
        out += "<|start|>assistant<|channel|>analysis<|message|>" + m.reasoning_content + "<|end|>";
      }
      out += "<|start|>assistant<|channel|>final<|message|>" + m.content + "<|return|>";
    } else {
      out += "<|start|>assistant<|channel|>final<|message|>" + m.content + "<|end|>";
      last_tool_name.clear();
    }
  } else if (m.role == "tool") {
    if (last_tool_name.empty()) {
      return invalid_argument("chat template gpt-oss: a tool message has no preceding assistant "
                              "tool call");
    }
    out += "<|start|>functions." + last_tool_name + " to=assistant<|channel|>commentary<|message|>" +
           json_quote(m.content) + "<|end|>";
  } else if (m.role == "user") {
    out += "<|start|>user<|message|>" + m.content + "<|end|>";
  }
  // Later system/developer messages are ignored, as by the template.
  return Status::ok();
}

}  // namespace

Result<std::string> render_gpt_oss(std::span<const ChatMessage> messages,
                                   const ChatRenderOptions& options) {
  std::string out = system_message(options);
  std::span<const ChatMessage> rest = messages;
  if (!messages.empty() && (messages[0].role == "developer" || messages[0].role == "system")) {
    if (!messages[0].content.empty()) {
      out += "<|start|>developer<|message|># Instructions\n\n" + messages[0].content + "\n\n<|end|>";
    }
    rest = messages.subspan(1);
  }
  std::string last_tool_name;  // empty = none: tool results need a preceding call
  for (size_t i = 0; i < rest.size(); ++i) {
    MOTE_RETURN_IF_ERROR(append_message(rest, i, options, out, last_tool_name));
  }
  if (options.add_generation_prompt) out += "<|start|>assistant";
  return out;
}

}  // namespace mote::chat_internal
