// Reads the chat-template test cases out of llama.cpp's tests/test-chat-template.cpp (a copy lives
// in shared/data/chat-templates/). The file is C++ source, so this is a small tokenizer for the
// subset it uses in its `conversation` and `test_cases` initialisers: string literals (adjacent
// ones concatenated, U8C(...) wrappers), true/false, braces, commas and comments.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mote::test {

struct LlamaCppChatMessage {
  std::string role;
  std::string content;
};

// One element of `std::vector<TestCase> test_cases`, fields in declaration order.
struct LlamaCppChatCase {
  std::string name;
  std::string template_str;
  std::string expected_output;        // llama.cpp's built-in (non-Jinja) formatter
  std::string expected_output_jinja;  // a Jinja render; empty = same as expected_output
  std::string bos_token;
  std::string eos_token;
  bool supported_with_jinja = true;
  std::vector<LlamaCppChatMessage> extra_conversation;

  // What a faithful Jinja render must produce (llama.cpp's own Jinja check uses the same rule).
  const std::string& expected_jinja() const {
    return expected_output_jinja.empty() ? expected_output : expected_output_jinja;
  }
};

struct LlamaCppChatTests {
  std::vector<LlamaCppChatMessage> conversation;  // shared by every case
  std::vector<LlamaCppChatCase> cases;
};

// Parses the file's source text. On a syntax it does not understand it sets `error` (with the
// byte offset) and returns what it had.
LlamaCppChatTests parse_llama_cpp_chat_tests(const std::string& source, std::string& error);

}  // namespace mote::test
