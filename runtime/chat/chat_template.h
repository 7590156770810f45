// Chat templates: native C++ renderers for the chat-template families mote supports.
//
// A checkpoint ships its chat format as a Jinja `chat_template` string. mote has no Jinja engine
// (none is packaged for Debian, and a general one is a large attack surface for a file we load);
// instead the template text is matched to a known FAMILY by distinctive markers, at conversion or
// load time, and the family's renderer reproduces that template's output byte for byte for the
// inputs mote passes (messages, add_generation_prompt, bos/eos tokens). A template that matches no
// family is an error that names the families usable with `--chat-template NAME`.
//
// Thread-safety: all functions are pure; ReasoningSplitter is a per-stream object (one thread).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mote {

// Families that differ in output bytes are separate values: a renderer must match its template
// exactly, so "ChatML, but Qwen2.5 adds a default system prompt" is its own family.
enum class ChatFamily : int {
  kDeepSeekV3 = 0,      // "deepseek-v3": DeepSeek-V3 / V3-0324, no think tags
  kDeepSeekV31,         // "deepseek-v3.1": hybrid thinking, "</think>" after <｜Assistant｜> (HF)
  kDeepSeekV31EmptyThink,  // "deepseek-v3.1-empty-think": the same with "<think></think>"
  kDeepSeekR1,          // "deepseek-r1": R1 and R1-Distill, prompt ends "<｜Assistant｜><think>\n"
  kChatML,              // "chatml": <|im_start|>role\n...<|im_end|>\n, no default system prompt
  kChatMLQwen2,         // "chatml-qwen2": Qwen1.5/Qwen2(-MoE), default "You are a helpful assistant."
  kChatMLQwen25,        // "chatml-qwen2.5": default "You are Qwen, created by Alibaba Cloud. ..."
  kChatMLQwen3,         // "chatml-qwen3": <think> blocks, enable_thinking
  kMistralV0,           // "mistral-v0": Mixtral-8x7B/Mistral-7B v0.1-v0.2 "[INST] x [/INST]"
                        //   as first shipped, no system role (llama.cpp calls it "llama2")
  kMistralV1,           // "mistral-v1": " [INST] x [/INST]" with the system prompt in turn 1
  kMistralV3,           // "mistral-v3": "[INST] x[/INST]", system prompt in the last user turn
  kMistralV3Tekken,     // "mistral-v3-tekken": as v3 without the spaces, assistant text untrimmed
  kMistralV7,           // "mistral-v7": [SYSTEM_PROMPT] ... [/SYSTEM_PROMPT]
  kGptOss,              // "gpt-oss": OpenAI harmony
};
inline constexpr int kChatFamilyCount = 14;

// One tool call made by an assistant message.
struct ChatToolCall {
  std::string id;                  // e.g. "call00001" (Mistral requires 9 alphanumerics)
  std::string type = "function";
  std::string name;
  // JSON text of the arguments object, emitted VERBATIM. The HF templates apply `tojson` to a
  // parsed object, i.e. Python json.dumps spacing: pass `{"a": 1, "b": "x"}` for identical bytes.
  std::string arguments;
};

// One message of a conversation. Roles: "system", "user", "assistant", "tool" (and "developer"
// for gpt-oss). Empty optional strings mean "absent".
struct ChatMessage {
  std::string role;
  std::string content;
  // The assistant's chain of thought, when stored apart from `content` (Qwen3
  // `reasoning_content`, gpt-oss `thinking`). Families that drop past reasoning ignore it.
  std::string reasoning_content;
  std::vector<ChatToolCall> tool_calls;  // assistant messages only
  std::string tool_call_id;              // tool messages: the id of the call answered (Mistral)
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // Emitted only where the template writes `bos_token` / `eos_token`; the DeepSeek templates
  // hard-code <｜end▁of▁sentence｜> and use bos_token only at the start. Tokenise the result
  // WITHOUT adding special tokens, or BOS is doubled.
  std::string bos_token;
  std::string eos_token;
  // Thinking switch for hybrid models; nullopt = the template's default (R1 and Qwen3 think,
  // V3.1 does not). false: R1 appends "</think>", Qwen3 "<think>\n\n</think>\n\n".
  std::optional<bool> enable_thinking;
  // gpt-oss only: "Current date: YYYY-MM-DD" (empty = today, local time, like strftime_now) and
  // "Reasoning: low|medium|high" (empty = "medium").
  std::string current_date;
  std::string reasoning_effort;
};

// Stable name used by `--chat-template NAME` and stored by the converter, e.g. "deepseek-r1".
const char* chat_family_name(ChatFamily family);

// Inverse of chat_family_name (exact, case-sensitive). Unknown -> kInvalidArgument listing names.
Result<ChatFamily> chat_family_from_name(std::string_view name);

// All family names, comma-separated, for help texts and error messages.
std::string chat_family_names();

// Identifies the family of a Jinja chat template by markers (literal tokens and expressions that
// only that family's templates contain). Unrecognised -> kUnsupported whose message says so and
// lists the names usable with `--chat-template NAME`.
Result<ChatFamily> detect_chat_family(std::string_view jinja_template);

// Renders `messages` as `family`'s template does. Errors (kInvalidArgument) where the template
// raises: e.g. Mistral roles not alternating, a gpt-oss tool result with no preceding tool call.
Result<std::string> render_chat(ChatFamily family, std::span<const ChatMessage> messages,
                                const ChatRenderOptions& options);

// Separates a streamed completion into reasoning (inside <think>...</think>) and answer text.
// Tags never reach either output, and a tag split across feed() calls is still recognised: bytes
// that may begin a tag are held back until the next chunk decides (at most 7 bytes).
// A "<think>" is recognised anywhere in answer text; no whitespace is trimmed.
struct ReasoningSplitter {
  struct Output {
    std::string reasoning;
    std::string content;
  };

  // starts_in_reasoning: the prompt already opened the block (deepseek-r1's generation prompt
  // ends with "<think>\n"), so the stream begins inside reasoning.
  explicit ReasoningSplitter(bool starts_in_reasoning = false) : in_reasoning_(starts_in_reasoning) {}

  // Classifies `chunk` (any split, including mid-tag or mid-UTF-8 sequence) and returns the text
  // decided so far. Appends to `out` rather than replacing it.
  void feed(std::string_view chunk, Output& out);
  Output feed(std::string_view chunk) {
    Output out;
    feed(chunk, out);
    return out;
  }
  // End of stream: held-back bytes that turned out not to be a tag are released.
  void finish(Output& out);
  Output finish() {
    Output out;
    finish(out);
    return out;
  }

  bool in_reasoning() const { return in_reasoning_; }

 private:
  bool in_reasoning_;
  std::string pending_;  // a proper prefix of the tag awaited next (held back)
};

}  // namespace mote
