// libFuzzer target: chat rendering (runtime/chat).
//
// Input: byte 0 picks the template family, byte 1 the options (add_generation_prompt,
// enable_thinking unset/false/true, reasoning effort), then JSON messages as the OpenAI-style
// API takes them: [{"role", "content", "reasoning_content", "tool_call_id",
// "tool_calls": [{"id", "type", "function": {"name", "arguments"}}]}]. Anything that is not such
// JSON is instead fed to detect_chat_family as a Jinja template, so one target covers both.
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace {

std::string str(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool to_messages(const nlohmann::json& doc, std::vector<mote::ChatMessage>* out) {
  if (!doc.is_array()) return false;
  for (const auto& m : doc) {
    if (!m.is_object()) return false;
    mote::ChatMessage msg;
    msg.role = str(m, "role");
    msg.content = str(m, "content");
    msg.reasoning_content = str(m, "reasoning_content");
    msg.tool_call_id = str(m, "tool_call_id");
    auto calls = m.find("tool_calls");
    if (calls != m.end() && calls->is_array()) {
      for (const auto& c : *calls) {
        if (!c.is_object()) continue;
        mote::ChatToolCall call;
        call.id = str(c, "id");
        if (!str(c, "type").empty()) call.type = str(c, "type");
        auto fn = c.find("function");
        const nlohmann::json& f = fn != c.end() && fn->is_object() ? *fn : c;
        call.name = str(f, "name");
        call.arguments = str(f, "arguments");
        msg.tool_calls.push_back(std::move(call));
      }
    }
    out->push_back(std::move(msg));
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto family = mote::ChatFamily(data[0] % mote::kChatFamilyCount);
  const uint8_t flags = data[1];
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::vector<mote::ChatMessage> messages;
  if (doc.is_discarded() || !to_messages(doc, &messages)) {
    (void)mote::detect_chat_family(body);
    return 0;
  }
  mote::ChatRenderOptions options;
  options.add_generation_prompt = flags & 1;
  if (flags & 2) options.enable_thinking = bool(flags & 4);
  static const char* const kEffort[] = {"", "low", "medium", "high"};
  options.reasoning_effort = kEffort[(flags >> 3) & 3];
  options.current_date = "2026-01-01";  // today's date would make runs irreproducible
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  auto text = mote::render_chat(family, messages, options);
  if (text) {
    // Rendered prompts are full of think tags and special tokens: feed one to the reasoning
    // splitter in 7-byte chunks (its longest hold-back), so tags straddle chunk boundaries.
    mote::ReasoningSplitter splitter(flags & 0x20);
    for (size_t i = 0; i < text->size(); i += 7) splitter.feed(std::string_view(*text).substr(i, 7));
    splitter.finish();
  }
  (void)mote::chat_family_from_name(mote::chat_family_name(family));
  return 0;
}
