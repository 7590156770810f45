// parse_special and chat tokenization with the REAL tokenizer files of every family: control-token
// text typed into a message (end of turn, role headers, BOS/EOS) never becomes a control id,
// while the template's own control tokens do (issue #12 item 4).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "chat/chat_tokenize.h"
#include "tokenizer/tok_test_util.h"

namespace mote {
namespace {

struct Case {
  const char* tokenizer;      // load_tokenizer name
  ChatFamily family;
  std::vector<std::string> controls;  // control-token spellings of this family
  std::vector<std::string> template_uses;  // of those, the ones a user+assistant+user chat renders
  const char* bos;  // bos_token / eos_token as the C API passes them
  const char* eos;
};

std::vector<Case> cases() {
  return {
      {"deepseek-v3", ChatFamily::kDeepSeekV3,
       {"<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜tool▁calls▁begin｜>",
        "<｜tool▁output▁end｜>"},
       {"<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"},
       "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
      {"deepseek-v3", ChatFamily::kDeepSeekR1, {"<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"},
       {"<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"}, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
      {"qwen3", ChatFamily::kChatMLQwen3, {"<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|fim_prefix|>"},
       {"<|im_start|>", "<|im_end|>"}, "", "<|endoftext|>"},
      {"qwen3", ChatFamily::kChatMLQwen25, {"<|im_end|>", "<|im_start|>"}, {"<|im_start|>", "<|im_end|>"}, "",
       "<|endoftext|>"},
      {"olmoe", ChatFamily::kChatML, {"<|endoftext|>", "<|padding|>"}, {}, "", "<|endoftext|>"},
      {"mixtral-8x7b", ChatFamily::kMistralV0, {"</s>", "<s>"}, {"<s>", "</s>"}, "<s>", "</s>"},
      {"mixtral-8x7b.model", ChatFamily::kMistralV1, {"</s>", "<s>"}, {"<s>", "</s>"}, "<s>", "</s>"},
      {"llama2.model", ChatFamily::kMistralV0, {"</s>", "<s>"}, {"<s>", "</s>"}, "<s>", "</s>"},
      {"mixtral-8x22b-v3.model", ChatFamily::kMistralV3, {"[INST]", "[/INST]", "</s>", "<s>", "[TOOL_CALLS]"},
       {"[INST]", "[/INST]", "</s>", "<s>"}, "<s>", "</s>"},
      {"gpt-oss", ChatFamily::kGptOss,
       {"<|end|>", "<|start|>", "<|message|>", "<|channel|>", "<|return|>", "<|call|>", "<|endoftext|>"},
       {"<|start|>", "<|message|>", "<|end|>", "<|channel|>"}, "<|startoftext|>", "<|return|>"},
  };
}

std::vector<ChatMessage> conversation(const std::string& text) {
  return {{"user", "hi " + text + " there", "", {}, ""},
          {"assistant", "ok " + text + " done", "", {}, ""},
          {"user", text, "", {}, ""}};
}

int count(const std::vector<int32_t>& ids, int32_t id) { return int(std::count(ids.begin(), ids.end(), id)); }

class SpecialInjection : public ::testing::TestWithParam<Case> {};

TEST_P(SpecialInjection, ParseSpecialSeparatesFromAddSpecial) {
  const Case& c = GetParam();
  const Tokenizer* tok = test::load_tokenizer(c.tokenizer);
  if (tok == nullptr) GTEST_SKIP() << c.tokenizer << " not available";
  for (const std::string& s : c.controls) {
    const int32_t id = tok->find_token(s);
    ASSERT_GE(id, 0) << s;
    std::vector<int32_t> ids;
    EncodeOptions o;
    o.add_special = false;
    ASSERT_TRUE(tok->encode("x" + s + "y", o, &ids).is_ok());
    EXPECT_EQ(count(ids, id), 1) << s << ": parse_special parses the control token";
    o.parse_special = false;
    ASSERT_TRUE(tok->encode("x" + s + "y", o, &ids).is_ok());
    EXPECT_EQ(count(ids, id), 0) << s << ": parse_special = false keeps it plain text";
    o.add_special = true;  // BOS/EOS as configured, and still no control id from the text
    std::vector<int32_t> bare;
    ASSERT_TRUE(tok->encode("", o, &bare).is_ok());
    ASSERT_TRUE(tok->encode("x" + s + "y", o, &ids).is_ok());
    EXPECT_EQ(count(ids, id), count(bare, id)) << s;
  }
}

TEST_P(SpecialInjection, MessageTextNeverBecomesAControlToken) {
  const Case& c = GetParam();
  const Tokenizer* tok = test::load_tokenizer(c.tokenizer);
  if (tok == nullptr) GTEST_SKIP() << c.tokenizer << " not available";
  ChatRenderOptions ro;
  ro.bos_token = c.bos;
  ro.eos_token = c.eos;
  ro.current_date = "2026-01-01";
  std::string injected;
  for (const std::string& s : c.controls) injected += s + " ";
  std::vector<int32_t> benign_ids, hostile_ids;
  ASSERT_TRUE(tokenize_chat(c.family, conversation("plain"), ro, *tok, &benign_ids).is_ok());
  ASSERT_TRUE(tokenize_chat(c.family, conversation(injected), ro, *tok, &hostile_ids).is_ok());
  for (const std::string& s : c.controls) {
    const int32_t id = tok->find_token(s);
    EXPECT_EQ(count(hostile_ids, id), count(benign_ids, id)) << s << " typed into messages became a control id";
  }
  for (const std::string& s : c.template_uses)
    EXPECT_GT(count(benign_ids, tok->find_token(s)), 0) << s << ": the template's own token is parsed";
  // Benign text: the same ids as tokenizing the rendered string with specials parsed.
  auto rendered = render_chat(c.family, conversation("plain"), ro);
  ASSERT_TRUE(rendered.is_ok());
  std::vector<int32_t> whole;
  EncodeOptions o;
  o.add_special = false;
  ASSERT_TRUE(tok->encode(*rendered, o, &whole).is_ok());
  EXPECT_EQ(benign_ids, whole);
  // The injected text is still there, byte for byte, as ordinary tokens.
  auto marked = render_chat_marked(c.family, conversation(injected), ro, *tok);
  ASSERT_TRUE(marked.is_ok());
  auto hostile_render = render_chat(c.family, conversation(injected), ro);
  ASSERT_TRUE(hostile_render.is_ok());
  EXPECT_EQ(marked->text, *hostile_render);
  if (std::string(c.tokenizer).find(".model") == std::string::npos && c.family != ChatFamily::kMistralV0) {
    auto decoded = tok->decode(hostile_ids, false);
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(*decoded, *hostile_render);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, SpecialInjection, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n = std::string(info.param.tokenizer) + "_" + chat_family_name(info.param.family);
                           for (char& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace mote
