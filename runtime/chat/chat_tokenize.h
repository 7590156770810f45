// Chat rendering into token ids with message text kept plain: the template's own control tokens
// (role headers, turn ends, BOS) become their ids, while control-token text inside a message
// field (content, role, reasoning, tool names, arguments, call ids) stays ordinary characters,
// so a user cannot end a turn or open a role by typing "<|im_end|>" or "<｜Assistant｜>".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace mote {

// A rendered conversation plus the byte ranges of `text` that came from control-token spellings
// inside message fields (sorted, disjoint): to be tokenized as plain text.
struct RenderedChat {
  std::string text;
  std::vector<PlainRange> plain;
};

// render_chat, tracking where control-token text from message fields lands. `text` is
// byte-identical to render_chat's output (fields are escaped before rendering and restored
// after). Errors as render_chat.
Result<RenderedChat> render_chat_marked(ChatFamily family, std::span<const ChatMessage> messages,
                                        const ChatRenderOptions& options, const Tokenizer& tokenizer);

// Renders and tokenizes: template control tokens parsed, message fields plain, no BOS added
// beyond the template's own (options.bos_token). Replaces *ids.
Status tokenize_chat(ChatFamily family, std::span<const ChatMessage> messages, const ChatRenderOptions& options,
                     const Tokenizer& tokenizer, std::vector<int32_t>* ids);

}  // namespace mote
