// DeepSeek-V3 / V3.1 / R1 renderers (the chat_template of each model's tokenizer_config.json).
//
// The templates hard-code <｜end▁of▁sentence｜> (not eos_token) and write bos_token once, first.
// Where the official V3/R1 templates have state bugs, these renderers follow the intended format
// (the one the templates produce for a single turn) instead:
//  * `ns.is_first` is never reset, so a second tool-calling turn would lose its
//    "<｜Assistant｜><｜tool▁calls▁begin｜>" prefix: we start every tool-calling turn afresh;
//  * `<｜tool▁calls▁end｜>` is emitted after every call but the first in some revisions: we emit
//    it once, after the last call (as the R1-Distill and V3-0324 revisions do);
//  * `ns.is_output_first` is never reset, so a second round of tool results would lack
//    "<｜tool▁outputs▁begin｜>": every run of consecutive tool messages opens its own block;
//  * a tool call right after tool results starts a second "<｜Assistant｜>": we close the
//    outputs block and continue the open turn instead, as V3-0324 does.
// One template behaviour is kept although it looks unintended: a user turn after tool results
// does not close the outputs block (all revisions agree on that).
#include <string>
#include <string_view>

#include "chat/chat_render_internal.h"

namespace mote::chat_internal {
namespace {

constexpr const char* kEos = "<｜end▁of▁sentence｜>";

std::string joined_system_prompts(std::span<const ChatMessage> messages) {
  std::string out;
  bool first = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (!first) out += "\n\n";
    out += m.content;
    first = false;
  }
  return out;
}

// R1 keeps only the last system message (`ns.system_prompt = message['content']`).
std::string last_system_prompt(std::span<const ChatMessage> messages) {
  std::string out;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") out = m.content;
  }
  return out;
}

// V3/R1 tool calls: type, name and arguments fenced as ```json, one call per line. After tool
// results the assistant turn is still open, so the outputs block is closed instead of starting a
// new turn (as V3-0324 does; the older templates emit a second <｜Assistant｜> there).
void append_v3_tool_calls(const ChatMessage& m, bool after_tool_results, std::string& out) {
  out += after_tool_results ? "<｜tool▁outputs▁end｜>" : "<｜Assistant｜>";
  out += m.content;  // the V3-0324 form; the older templates only render content-less calls
  out += "<｜tool▁calls▁begin｜>";
  for (size_t k = 0; k < m.tool_calls.size(); ++k) {
    const ChatToolCall& call = m.tool_calls[k];
    if (k > 0) out += "\n";
    out += "<｜tool▁call▁begin｜>" + call.type + "<｜tool▁sep｜>" + call.name + "\n```json\n" +
           call.arguments + "\n```<｜tool▁call▁end｜>";
  }
  out += "<｜tool▁calls▁end｜>";
  out += kEos;
}

Result<std::string> render_v3_or_r1(bool r1, std::span<const ChatMessage> messages,
                                    const ChatRenderOptions& options) {
  std::string out = options.bos_token;
  out += r1 ? last_system_prompt(messages) : joined_system_prompts(messages);
  bool is_tool = false;  // the last message was a tool result: its block is still open
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      is_tool = false;  // as the templates do: a user turn does not close the outputs block
      out += "<｜User｜>" + m.content;
    } else if (m.role == "assistant" && !m.tool_calls.empty()) {
      append_v3_tool_calls(m, is_tool, out);
      is_tool = false;
    } else if (m.role == "assistant") {
      if (is_tool) {
        out += "<｜tool▁outputs▁end｜>" + m.content + kEos;  // the answer continues the turn
        is_tool = false;
      } else {
        // R1 drops past reasoning: content.split('</think>')[-1].
        out += "<｜Assistant｜>";
        out += r1 ? std::string(after_last(m.content, "</think>")) : m.content;
        out += kEos;
      }
    } else if (m.role == "tool") {
      out += is_tool ? "\n<｜tool▁output▁begin｜>" : "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>";
      out += m.content + "<｜tool▁output▁end｜>";
      is_tool = true;
    }
    // "system" was rendered up front; other roles are ignored, as by the templates.
  }
  if (is_tool) out += "<｜tool▁outputs▁end｜>";
  // After tool results the model continues the open assistant turn: no new prompt.
  if (options.add_generation_prompt && !is_tool) {
    out += "<｜Assistant｜>";
    if (r1) {
      out += "<think>\n";
      // Only the R1-Distill revision with an enable_thinking switch closes the block at once.
      if (options.enable_thinking.has_value() && !*options.enable_thinking) out += "</think>";
    }
  }
  return out;
}

// V3.1: every assistant turn that follows a user turn opens with `no_think` ("</think>" or
// "<think></think>", thinking off) or "<think>" (the generation prompt with thinking on); tool
// calls carry no type or fence; tool outputs have no enclosing block.
Result<std::string> render_v31(std::span<const ChatMessage> messages, std::string_view no_think,
                               const ChatRenderOptions& options) {
  const bool thinking = options.enable_thinking.value_or(false);
  std::string out = options.bos_token + joined_system_prompts(messages);
  bool is_last_user = false;
  bool is_tool = false;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      is_tool = false;
      is_last_user = true;
      out += "<｜User｜>" + m.content;
    } else if (m.role == "assistant") {
      if (is_last_user) {
        out += "<｜Assistant｜>";
        out += no_think;
      }
      is_last_user = false;
      if (!m.tool_calls.empty()) {
        is_tool = false;
        out += m.content + "<｜tool▁calls▁begin｜>";
        for (const ChatToolCall& call : m.tool_calls) {
          out += "<｜tool▁call▁begin｜>" + call.name + "<｜tool▁sep｜>" + call.arguments +
                 "<｜tool▁call▁end｜>";
        }
        out += "<｜tool▁calls▁end｜>";
        out += kEos;
      } else if (is_tool) {
        out += m.content + kEos;
        is_tool = false;
      } else {
        // content.split('</think>', 1)[1]: the text after the FIRST "</think>".
        const bool has_think = contains(m.content, "</think>");
        out += has_think ? std::string(after_first(m.content, "</think>")) : m.content;
        out += kEos;
      }
    } else if (m.role == "tool") {
      is_last_user = false;
      is_tool = true;
      out += "<｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>";
    }
  }
  if (options.add_generation_prompt && is_last_user && !is_tool) {
    out += "<｜Assistant｜>";
    out += thinking ? std::string_view("<think>") : no_think;
  }
  return out;
}

}  // namespace

Result<std::string> render_deepseek(ChatFamily family, std::span<const ChatMessage> messages,
                                    const ChatRenderOptions& options) {
  if (family == ChatFamily::kDeepSeekV31) return render_v31(messages, "</think>", options);
  if (family == ChatFamily::kDeepSeekV31EmptyThink) {
    return render_v31(messages, "<think></think>", options);
  }
  return render_v3_or_r1(family == ChatFamily::kDeepSeekR1, messages, options);
}

}  // namespace mote::chat_internal
