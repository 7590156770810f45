// Marked chat rendering (see chat_tokenize.h). The renderers stay string-based and untouched:
// before rendering, every control-token spelling inside a message field is replaced by a
// sentinel "\uFDD0<k>\uFDD1" (U+FDD0/U+FDD1 are Unicode noncharacters; pre-existing ones are
// escaped the same way), and the template output is scanned for sentinels afterwards, restoring
// the original bytes and recording their ranges. The sentinel contains no whitespace, quote,
// backslash or control character, so the renderers' strip/split/JSON-quoting treat it as they
// would the original text (control-token spellings hold none of those either).
#include "chat/chat_tokenize.h"

#include <algorithm>
#include <string_view>

#include "tokenizer/utf8.h"

namespace mote {
namespace {

constexpr std::string_view kOpen = "\xEF\xB7\x90";   // U+FDD0
constexpr std::string_view kClose = "\xEF\xB7\x91";  // U+FDD1

struct Escaper {
  const Tokenizer* tokenizer;
  std::vector<std::string> originals;  // sentinel k restores originals[k]

  // Spans to escape in `s`: control-token spellings plus any existing sentinel bytes.
  std::vector<PlainRange> spans(std::string_view s) const {
    std::vector<PlainRange> found = tokenizer->control_token_spans(s);
    for (std::string_view mark : {kOpen, kClose}) {
      for (size_t p = s.find(mark); p != std::string_view::npos; p = s.find(mark, p + mark.size()))
        found.push_back({p, p + mark.size()});
    }
    std::sort(found.begin(), found.end(), [](const PlainRange& a, const PlainRange& b) { return a.begin < b.begin; });
    return found;  // a noncharacter never overlaps a control spelling: disjoint
  }

  void escape(std::string& s) {
    // Ill-formed UTF-8 is repaired here (as encode would) so encode's offsets stay exact.
    if (tok::utf8_first_invalid(s) != s.size()) {
      std::string repaired;
      tok::append_utf8_lossy(s, true, &repaired);
      s = std::move(repaired);
    }
    const std::vector<PlainRange> found = spans(s);
    if (found.empty()) return;
    std::string out;
    size_t at = 0;
    for (const PlainRange& r : found) {
      out.append(s, at, r.begin - at);
      out += kOpen;
      out += std::to_string(originals.size());
      out += kClose;
      originals.emplace_back(s.substr(r.begin, r.end - r.begin));
      at = r.end;
    }
    out.append(s, at, std::string::npos);
    s = std::move(out);
  }

  void escape(ChatMessage& m) {
    for (std::string* f : {&m.role, &m.content, &m.reasoning_content, &m.tool_call_id}) escape(*f);
    for (ChatToolCall& c : m.tool_calls)
      for (std::string* f : {&c.id, &c.type, &c.name, &c.arguments}) escape(*f);
  }

  // Replaces sentinels in the rendered text by their originals, recording plain ranges.
  Result<RenderedChat> restore(std::string_view rendered) const {
    RenderedChat out;
    size_t at = 0;
    for (size_t p = rendered.find(kOpen); p != std::string_view::npos; p = rendered.find(kOpen, at)) {
      const size_t digits = p + kOpen.size();
      const size_t close = rendered.find(kClose, digits);
      size_t k = 0;
      bool ok = close != std::string_view::npos && close > digits && close - digits <= 9;
      for (size_t i = digits; ok && i < close; ++i) {
        ok = rendered[i] >= '0' && rendered[i] <= '9';
        k = k * 10 + size_t(rendered[i] - '0');
      }
      if (!ok || k >= originals.size()) return internal_error("chat: a template rewrote a message escape");
      out.text.append(rendered, at, p - at);
      out.plain.push_back({out.text.size(), out.text.size() + originals[k].size()});
      out.text += originals[k];
      at = close + kClose.size();
    }
    out.text.append(rendered, at, std::string_view::npos);
    return out;
  }
};

}  // namespace

Result<RenderedChat> render_chat_marked(ChatFamily family, std::span<const ChatMessage> messages,
                                        const ChatRenderOptions& options, const Tokenizer& tokenizer) {
  Escaper esc{&tokenizer, {}};
  std::vector<ChatMessage> escaped(messages.begin(), messages.end());
  for (ChatMessage& m : escaped) esc.escape(m);
  MOTE_ASSIGN_OR_RETURN(std::string rendered, render_chat(family, escaped, options));
  return esc.restore(rendered);
}

Status tokenize_chat(ChatFamily family, std::span<const ChatMessage> messages, const ChatRenderOptions& options,
                     const Tokenizer& tokenizer, std::vector<int32_t>* ids) {
  MOTE_ASSIGN_OR_RETURN(RenderedChat chat, render_chat_marked(family, messages, options, tokenizer));
  EncodeOptions encode;
  encode.add_special = false;  // the template writes BOS itself
  encode.parse_special = true;
  encode.plain = chat.plain;
  return tokenizer.encode(chat.text, encode, ids);
}

}  // namespace mote
