// Renders the conversation of llama.cpp's chat-template tests with mote's renderers, for every
// test case whose template the detector assigns to a supported family, and compares byte for
// byte with the Jinja expectation of that case.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "chat/llama_cpp_cases.h"
#include "common/test_util.h"

namespace mote {
namespace {

const char* kTestFile = MOTE_SHARED_DATA_DIR "/chat-templates/llama.cpp-test-chat-template.cpp";

// Cases of a supported family whose behaviour we deliberately do not reproduce, with the reason.
// Empty today: every case our detector claims renders identically.
const std::map<std::string, std::string> kExcluded = {};

const test::LlamaCppChatTests& tests() {
  static const test::LlamaCppChatTests parsed = [] {
    std::string error;
    auto t = test::parse_llama_cpp_chat_tests(test::read_file_bytes(kTestFile), error);
    EXPECT_EQ(error, "") << "parsing " << kTestFile;
    return t;
  }();
  return parsed;
}

// Makes control characters visible in failure messages.
std::string visible(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out;
}

TEST(LlamaCppChatCases, FileParses) {
  const auto& t = tests();
  ASSERT_EQ(t.conversation.size(), 6u);
  EXPECT_EQ(t.conversation[0].role, "system");
  EXPECT_EQ(t.conversation[4].content, "   I am an assistant   ");
  EXPECT_GE(t.cases.size(), 30u);
  for (const auto& c : t.cases) {
    EXPECT_FALSE(c.name.empty());
    EXPECT_FALSE(c.template_str.empty()) << c.name;
    EXPECT_FALSE(c.expected_output.empty()) << c.name;
  }
}

// Pins which cases each family claims, so a detector change cannot quietly move a case to
// "not recognised" and make the render test below vacuous. Every other case must be rejected.
TEST(LlamaCppChatCases, DetectionPerCase) {
  const std::map<std::string, std::string> expected = {
      {"teknium/OpenHermes-2.5-Mistral-7B", "chatml"},
      {"mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)", "mistral-v0"},
      {"mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)", "mistral-v1"},
      {"Mistral-Large-Instruct-2407 (mistralai 'v3' template; modified to have system prompt at start)",
       "mistral-v3"},
      {"Mistral-Nemo-Instruct-2407 (mistralai 'v3-tekken' template; modified to have system prompt at "
       "start)",
       "mistral-v3-tekken"},
      {"mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)", "mistral-v7"},
  };
  for (const auto& c : tests().cases) {
    const Result<ChatFamily> family = detect_chat_family(c.template_str);
    const auto it = expected.find(c.name);
    if (it == expected.end()) {
      if (family.is_ok()) {
        ADD_FAILURE() << c.name << " detected as " << chat_family_name(family.value());
      } else {
        EXPECT_EQ(family.status().code(), StatusCode::kUnsupported) << c.name;
      }
    } else {
      ASSERT_TRUE(family.is_ok()) << c.name << ": " << family.status().message();
      EXPECT_STREQ(chat_family_name(family.value()), it->second.c_str()) << c.name;
    }
  }
}

TEST(LlamaCppChatCases, SupportedFamiliesRenderByteForByte) {
  std::map<std::string, std::pair<int, int>> per_family;  // name -> (matched, total)
  std::vector<std::string> unrecognised;
  for (const auto& c : tests().cases) {
    const Result<ChatFamily> family = detect_chat_family(c.template_str);
    if (!family.is_ok()) {
      unrecognised.push_back(c.name);
      continue;
    }
    // llama.cpp itself has no Jinja expectation for these (they need extra template context).
    if (!c.supported_with_jinja) continue;
    if (kExcluded.count(c.name)) continue;
    std::vector<ChatMessage> messages;
    auto add = [&messages](const test::LlamaCppChatMessage& m) {
      ChatMessage cm;
      cm.role = m.role;
      cm.content = m.content;
      messages.push_back(std::move(cm));
    };
    for (const auto& m : tests().conversation) add(m);
    for (const auto& m : c.extra_conversation) add(m);
    ChatRenderOptions options;
    options.add_generation_prompt = true;  // as llama.cpp's test does
    options.bos_token = c.bos_token;
    options.eos_token = c.eos_token;
    const Result<std::string> out = render_chat(family.value(), messages, options);
    auto& [matched, total] = per_family[chat_family_name(family.value())];
    ++total;
    if (out.is_ok() && out.value() == c.expected_jinja()) {
      ++matched;
    } else {
      ADD_FAILURE() << c.name << " (" << chat_family_name(family.value()) << ")\n  expected: "
                    << visible(c.expected_jinja()) << "\n  actual:   "
                    << (out.is_ok() ? visible(out.value()) : out.status().to_string());
    }
  }
  for (const auto& [name, counts] : per_family) {
    std::printf("[chat] %-18s %d/%d llama.cpp cases match\n", name.c_str(), counts.first, counts.second);
  }
  std::printf("[chat] %zu cases of unsupported formats (not recognised by design)\n", unrecognised.size());
  EXPECT_GE(per_family.size(), 6u) << "a supported family lost all its cases";
}

}  // namespace
}  // namespace mote
