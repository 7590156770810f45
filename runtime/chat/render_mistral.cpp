// Mistral [INST] renderers. The revisions differ in the spaces around
// [INST]/[/INST], in where the system prompt goes, and in assistant-text trimming:
//   v0     "[INST] u [/INST]a</s>"              no system role (Mixtral-8x7B as first shipped)
//   v1     " [INST] s\n\nu [/INST] a</s>"       system prompt in the first user turn
//   v3     "[INST] u[/INST] trim(a)</s>"        system prompt in the LAST message if it is a user
//   tekken "[INST]u[/INST]a</s>"                as v3, no spaces, no trim
//   v7     "[SYSTEM_PROMPT] s[/SYSTEM_PROMPT][INST] u[/INST] a</s>"
// None writes a generation prompt: a prompt ending in [/INST] already asks for the answer.
// Tool definitions ([AVAILABLE_TOOLS]) are not rendered: ChatRenderOptions carries no tools.
#include <string>
#include <vector>

#include "chat/chat_render_internal.h"

namespace mote::chat_internal {
namespace {

Status roles_must_alternate(std::string_view what) {
  return invalid_argument("chat template: " + std::string(what) +
                          " roles must alternate user/assistant/user/assistant/...");
}

// v0 has no system role. As llama.cpp does for such templates, system text is prepended to the
// next user message ("system\nuser"), or becomes a user message of its own if none follows.
std::vector<ChatMessage> fold_system_into_user(std::span<const ChatMessage> messages) {
  std::vector<ChatMessage> out;
  std::string pending;
  const auto flush = [&] {
    if (pending.empty()) return;
    ChatMessage user;
    user.role = "user";
    user.content = pending;
    out.push_back(std::move(user));
    pending.clear();
  };
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      if (!pending.empty()) pending += "\n";
      pending += m.content;
      continue;
    }
    if (m.role == "user" && !pending.empty()) {
      out.push_back(m);
      out.back().content = pending + (m.content.empty() ? "" : "\n" + m.content);
      pending.clear();
      continue;
    }
    flush();  // system text followed by a non-user message stands alone, before it
    out.push_back(m);
  }
  flush();
  return out;
}

Result<std::string> render_v0(std::span<const ChatMessage> input, const ChatRenderOptions& o) {
  const std::vector<ChatMessage> messages = fold_system_into_user(input);
  std::string out = o.bos_token;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if ((m.role == "user") != (i % 2 == 0)) return roles_must_alternate("conversation");
    if (m.role == "user") {
      out += "[INST] " + m.content + " [/INST]";
    } else if (m.role == "assistant") {
      out += m.content + o.eos_token;
    } else {
      return invalid_argument("chat template mistral-v0: only user and assistant roles are supported");
    }
  }
  return out;
}

// v1/v3/tekken take an optional system message from the front of the conversation.
struct SplitSystem {
  const std::string* system = nullptr;
  std::span<const ChatMessage> rest;
};

SplitSystem split_system(std::span<const ChatMessage> messages) {
  if (!messages.empty() && messages[0].role == "system") return {&messages[0].content, messages.subspan(1)};
  return {nullptr, messages};
}

Result<std::string> render_v1(std::span<const ChatMessage> messages, const ChatRenderOptions& o) {
  const SplitSystem s = split_system(messages);
  std::string out = o.bos_token;
  for (size_t i = 0; i < s.rest.size(); ++i) {
    const ChatMessage& m = s.rest[i];
    if ((m.role == "user") != (i % 2 == 0)) return roles_must_alternate("after the optional system message,");
    if (m.role == "user") {
      out += " [INST] ";
      if (i == 0 && s.system != nullptr) out += *s.system + "\n\n";
      out += m.content + " [/INST]";
    } else if (m.role == "assistant") {
      out += " " + m.content + o.eos_token;
    } else {
      return invalid_argument("chat template mistral-v1: only user and assistant roles are supported, "
                              "with the exception of an initial optional system message");
    }
  }
  return out;
}

bool is_tool_turn(const ChatMessage& m) {
  return m.role == "tool" || m.role == "tool_results" || !m.tool_calls.empty();
}

Status check_call_id(const std::string& id) {
  if (id.size() == 9) return Status::ok();
  return invalid_argument("chat template mistral-v3: tool call ids must be alphanumeric strings "
                          "of length 9, got '" + id + "'");
}

// [TOOL_CALLS] [{"name": "f", "arguments": {...}, "id": "abcdefghi"}, ...]</s>
Status append_v3_tool_calls(const ChatMessage& m, bool tekken, const ChatRenderOptions& o,
                            std::string& out) {
  out += tekken ? "[TOOL_CALLS][" : "[TOOL_CALLS] [";
  for (size_t k = 0; k < m.tool_calls.size(); ++k) {
    const ChatToolCall& call = m.tool_calls[k];
    MOTE_RETURN_IF_ERROR(check_call_id(call.id));
    // `function|tojson` minus its closing brace, then the id.
    out += "{\"name\": " + json_quote(call.name) + ", \"arguments\": " + call.arguments;
    out += ", \"id\": \"" + call.id + "\"}";
    out += (k + 1 < m.tool_calls.size()) ? ", " : "]" + o.eos_token;
  }
  return Status::ok();
}

Result<std::string> render_v3(std::span<const ChatMessage> messages, bool tekken,
                              const ChatRenderOptions& o) {
  const SplitSystem s = split_system(messages);
  size_t turn = 0;  // alternation is checked on non-tool turns only
  for (const ChatMessage& m : s.rest) {
    if (is_tool_turn(m)) continue;
    if ((m.role == "user") != (turn % 2 == 0)) return roles_must_alternate("after the optional system message,");
    ++turn;
  }
  const char* inst = tekken ? "[INST]" : "[INST] ";
  std::string out = o.bos_token;
  for (size_t i = 0; i < s.rest.size(); ++i) {
    const ChatMessage& m = s.rest[i];
    if (m.role == "user") {
      out += inst;
      // The system prompt rides on the last message only if that message is the user's.
      if (i + 1 == s.rest.size() && s.system != nullptr) out += *s.system + "\n\n";
      out += m.content + "[/INST]";
    } else if (!m.tool_calls.empty()) {
      MOTE_RETURN_IF_ERROR(append_v3_tool_calls(m, tekken, o, out));
    } else if (m.role == "assistant") {
      if (!tekken) out += ' ';
      out += tekken ? std::string_view(m.content) : py_strip(m.content);
      out += o.eos_token;
    } else if (m.role == "tool" || m.role == "tool_results") {
      MOTE_RETURN_IF_ERROR(check_call_id(m.tool_call_id));
      out += tekken ? "[TOOL_RESULTS]{\"content\": " : "[TOOL_RESULTS] {\"content\": ";
      out += m.content + ", \"call_id\": \"" + m.tool_call_id + "\"}[/TOOL_RESULTS]";
    } else {
      return invalid_argument("chat template mistral-v3: only user and assistant roles are supported, "
                              "with the exception of an initial optional system message");
    }
  }
  return out;
}

Result<std::string> render_v7(std::span<const ChatMessage> messages, const ChatRenderOptions& o) {
  std::string out = o.bos_token;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out += "[INST] " + m.content + "[/INST]";
    } else if (m.role == "system") {
      out += "[SYSTEM_PROMPT] " + m.content + "[/SYSTEM_PROMPT]";
    } else if (m.role == "assistant") {
      out += " " + m.content + o.eos_token;
    } else {
      return invalid_argument("chat template mistral-v7: only user, system and assistant roles are supported");
    }
  }
  return out;
}

}  // namespace

Result<std::string> render_mistral(ChatFamily family, std::span<const ChatMessage> messages,
                                   const ChatRenderOptions& options) {
  switch (family) {
    case ChatFamily::kMistralV0: return render_v0(messages, options);
    case ChatFamily::kMistralV1: return render_v1(messages, options);
    case ChatFamily::kMistralV3: return render_v3(messages, false, options);
    case ChatFamily::kMistralV3Tekken: return render_v3(messages, true, options);
    default: return render_v7(messages, options);
  }
}

}  // namespace mote::chat_internal
