// Family names and template detection.
//
// Detection looks for markers, not for a whole-template match: real checkpoints ship many
// revisions of each template (whitespace, tool blocks, error messages differ), and what decides
// the output bytes is a handful of literal tokens and expressions. Each rule names the marker that
// separates a family from its nearest neighbour; the order matters where one family's markers are
// a subset of another's (R1 before V3, v1 before v0).
#include <array>
#include <string>
#include <string_view>

#include "chat/chat_render_internal.h"
#include "chat/chat_template.h"

namespace mote {
namespace {

using chat_internal::contains;

constexpr std::array<const char*, kChatFamilyCount> kNames = {
    "deepseek-v3",       "deepseek-v3.1", "deepseek-v3.1-empty-think", "deepseek-r1",
    "chatml",            "chatml-qwen2",  "chatml-qwen2.5",            "chatml-qwen3",
    "mistral-v0",        "mistral-v1",    "mistral-v3",                "mistral-v3-tekken",
    "mistral-v7",        "gpt-oss",
};

// Jinja source spells a newline inside a string literal as backslash-n, but a template can also
// hold a real newline there; accept both spellings.
bool has_with_newline(std::string_view t, std::string_view before, std::string_view after) {
  for (const std::string_view newline : {"\\n", "\n"}) {
    std::string marker(before);
    marker.append(newline).append(after);
    if (contains(t, marker)) return true;
  }
  return false;
}

// Either quote style: has_quoted(t, "[INST] ") finds '[INST] ' or "[INST] ".
bool has_quoted(std::string_view t, std::string_view s) {
  for (const char q : {'\'', '"'}) {
    std::string quoted(1, q);  // appended, not `"'" + std::string(s)`: GCC 12 -Wrestrict noise
    quoted.append(s).push_back(q);
    if (contains(t, quoted)) return true;
  }
  return false;
}

Result<ChatFamily> not_recognised(std::string_view why) {
  return Status(StatusCode::kUnsupported,
                "chat template not recognised (" + std::string(why) +
                    "); choose its format with --chat-template NAME, NAME one of: " +
                    chat_family_names());
}

// DeepSeek-V3 lineage: all use <｜User｜>/<｜Assistant｜> (U+FF5C bars).
ChatFamily detect_deepseek(std::string_view t) {
  // R1 and R1-Distill open the reasoning block in the generation prompt.
  if (has_with_newline(t, "<｜Assistant｜><think>", "")) return ChatFamily::kDeepSeekR1;
  // V3.1 marks non-thinking turns after <｜Assistant｜>: "</think>" in the template DeepSeek
  // publishes, "<think></think>" in the copy in shared/data/chat-templates. V3-0324 also tracks
  // `is_last_user` and strips "</think>" from history, so neither of those identifies V3.1.
  if (contains(t, "<｜Assistant｜></think>")) return ChatFamily::kDeepSeekV31;
  if (contains(t, "<think></think>")) return ChatFamily::kDeepSeekV31EmptyThink;
  return ChatFamily::kDeepSeekV3;
}

ChatFamily detect_chatml(std::string_view t) {
  if (contains(t, "<think>")) return ChatFamily::kChatMLQwen3;
  if (contains(t, "You are Qwen, created by Alibaba Cloud.")) return ChatFamily::kChatMLQwen25;
  if (has_with_newline(t, "system", "You are a helpful assistant.<|im_end|>")) {
    return ChatFamily::kChatMLQwen2;
  }
  return ChatFamily::kChatML;
}

Result<ChatFamily> detect_mistral(std::string_view t) {
  // Llama-2 style "<<SYS>>" blocks (and their strip/bos variants) are a different format.
  if (contains(t, "<<SYS>>")) return not_recognised("Llama-2 [INST] <<SYS>> format is not supported");
  if (contains(t, "[SYSTEM_PROMPT]")) return ChatFamily::kMistralV7;
  if (contains(t, "[INST]\" +") || contains(t, "[INST]' +")) return ChatFamily::kMistralV3Tekken;
  if (has_quoted(t, " [INST] ")) return ChatFamily::kMistralV1;
  if (has_quoted(t, "[INST] ") && has_quoted(t, "[/INST]")) return ChatFamily::kMistralV3;
  if (has_quoted(t, "[INST] ") && has_quoted(t, " [/INST]")) return ChatFamily::kMistralV0;
  return not_recognised("an [INST] template of no known Mistral revision");
}

}  // namespace

const char* chat_family_name(ChatFamily family) {
  const int i = static_cast<int>(family);
  return (i >= 0 && i < kChatFamilyCount) ? kNames[i] : "unknown";
}

std::string chat_family_names() {
  std::string out;
  for (const char* name : kNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Result<ChatFamily> chat_family_from_name(std::string_view name) {
  for (int i = 0; i < kChatFamilyCount; ++i) {
    if (name == kNames[i]) return static_cast<ChatFamily>(i);
  }
  return invalid_argument("unknown chat template name '" + std::string(name) +
                          "'; known: " + chat_family_names());
}

Result<ChatFamily> detect_chat_family(std::string_view t) {
  if (t.empty()) return not_recognised("the checkpoint has no chat_template");
  if (contains(t, "<|start|>") && contains(t, "<|channel|>") && contains(t, "<|message|>")) {
    return ChatFamily::kGptOss;
  }
  if (contains(t, "<｜User｜>") && contains(t, "<｜Assistant｜>")) return detect_deepseek(t);
  // Phi-4 reuses <|im_start|>/<|im_end|> with "<|im_sep|>" instead of the newline: not ChatML.
  if (contains(t, "<|im_start|>") && contains(t, "<|im_end|>") && !contains(t, "<|im_sep|>")) {
    return detect_chatml(t);
  }
  if (contains(t, "[INST]")) return detect_mistral(t);
  return not_recognised("no marker of a supported family");
}

}  // namespace mote
