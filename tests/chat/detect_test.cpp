// Family detection on the real chat templates shipped by checkpoints, and the name round trip.
#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "common/test_util.h"

namespace mote {
namespace {

std::string load_template(const std::string& file) {
  return test::read_file_bytes(std::string(MOTE_SHARED_DATA_DIR "/chat-templates/") + file);
}

struct DetectCase {
  const char* file;
  const char* family;
};

class DetectRealTemplate : public ::testing::TestWithParam<DetectCase> {};

TEST_P(DetectRealTemplate, Family) {
  const std::string t = load_template(GetParam().file);
  ASSERT_FALSE(t.empty()) << GetParam().file;
  const Result<ChatFamily> family = detect_chat_family(t);
  ASSERT_TRUE(family.is_ok()) << family.status().to_string();
  EXPECT_STREQ(chat_family_name(family.value()), GetParam().family);
}

// V3.1 has its own family: its output differs from V3's (<think></think> after <｜Assistant｜>,
// tool calls without type or ```json fence, tool outputs without an outputs block).
INSTANTIATE_TEST_SUITE_P(
    Files, DetectRealTemplate,
    ::testing::Values(DetectCase{"deepseek-ai-DeepSeek-V3.1.jinja", "deepseek-v3.1-empty-think"},
                      DetectCase{"llama-cpp-deepseek-r1.jinja", "deepseek-r1"},
                      DetectCase{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-r1"},
                      DetectCase{"Qwen-Qwen2.5-7B-Instruct.jinja", "chatml-qwen2.5"},
                      DetectCase{"Qwen-Qwen3-0.6B.jinja", "chatml-qwen3"},
                      DetectCase{"openai-gpt-oss-120b.jinja", "gpt-oss"}),
    [](const auto& info) {
      std::string name = info.param.file;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(DetectChatFamily, ChatMLFamiliesShareThePrefix) {
  for (const char* file : {"Qwen-Qwen2.5-7B-Instruct.jinja", "Qwen-Qwen3-0.6B.jinja"}) {
    const Result<ChatFamily> family = detect_chat_family(load_template(file));
    ASSERT_TRUE(family.is_ok());
    EXPECT_EQ(std::string(chat_family_name(family.value())).rfind("chatml", 0), 0u) << file;
  }
}

class UnknownTemplate : public ::testing::TestWithParam<const char*> {};

TEST_P(UnknownTemplate, ErrorNamesTheOverrideAndEveryFamily) {
  const std::string t = load_template(GetParam());
  ASSERT_FALSE(t.empty());
  const Result<ChatFamily> family = detect_chat_family(t);
  ASSERT_FALSE(family.is_ok());
  EXPECT_EQ(family.status().code(), StatusCode::kUnsupported);
  const std::string& msg = family.status().message();
  EXPECT_NE(msg.find("not recognised"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--chat-template NAME"), std::string::npos) << msg;
  for (int i = 0; i < kChatFamilyCount; ++i) {
    EXPECT_NE(msg.find(chat_family_name(static_cast<ChatFamily>(i))), std::string::npos) << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, UnknownTemplate,
                         ::testing::Values("Kimi-K2-Instruct.jinja", "GLM-4.7-Flash.jinja",
                                           "MiniMax-M2.jinja"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find_first_of("-."));
                         });

TEST(DetectChatFamily, EmptyTemplateIsAnError) {
  const Result<ChatFamily> family = detect_chat_family("");
  ASSERT_FALSE(family.is_ok());
  EXPECT_NE(family.status().message().find("--chat-template"), std::string::npos);
}

// The Qwen2 / Qwen1.5 template (Qwen2-57B-A14B-Instruct ships this one).
TEST(DetectChatFamily, Qwen2DefaultSystemPrompt) {
  const char* qwen2 =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const Result<ChatFamily> family = detect_chat_family(qwen2);
  ASSERT_TRUE(family.is_ok());
  EXPECT_EQ(family.value(), ChatFamily::kChatMLQwen2);
}

// Fragments of the DeepSeek templates that are not in shared/data: the V3.1 template as DeepSeek
// publishes it ("</think>" alone), and V3-0324, which tracks is_last_user but has no think tags.
TEST(DetectChatFamily, DeepSeekRevisions) {
  const std::string v31 =
      "{%- if ns.is_last_user %}{{'<｜Assistant｜></think>'}}{%- endif %}"
      "{{'<｜User｜>' + message['content']}}";
  const std::string v3_0324 =
      "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, "
      "system_prompt='', is_first_sp=true, is_last_user=false) %}"
      "{{'<｜User｜>' + message['content'] + '<｜Assistant｜>'}}"
      "{% if add_generation_prompt and not ns.is_last_user and not ns.is_tool %}"
      "{{'<｜Assistant｜>'}}{% endif %}";
  const std::string r1 = "{{'<｜User｜>' + message['content']}}{{'<｜Assistant｜><think>\\n'}}";
  EXPECT_EQ(detect_chat_family(v31).value(), ChatFamily::kDeepSeekV31);
  EXPECT_EQ(detect_chat_family(v3_0324).value(), ChatFamily::kDeepSeekV3);
  EXPECT_EQ(detect_chat_family(r1).value(), ChatFamily::kDeepSeekR1);
}

TEST(ChatFamilyName, RoundTripsEveryFamily) {
  for (int i = 0; i < kChatFamilyCount; ++i) {
    const auto family = static_cast<ChatFamily>(i);
    const Result<ChatFamily> back = chat_family_from_name(chat_family_name(family));
    ASSERT_TRUE(back.is_ok()) << chat_family_name(family);
    EXPECT_EQ(back.value(), family);
  }
}

TEST(ChatFamilyName, UnknownNameListsTheKnownOnes) {
  const Result<ChatFamily> r = chat_family_from_name("llama3");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("deepseek-r1"), std::string::npos);
  EXPECT_NE(r.status().message().find("llama3"), std::string::npos);
}

}  // namespace
}  // namespace mote
