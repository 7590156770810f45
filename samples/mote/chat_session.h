// The state of `mote chat` over the C API: the model, one session whose KV cache follows the
// conversation (mote_chat_generate evaluates only what each turn adds), the messages, and the
// --session file the conversation is saved to after each turn.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "capi.h"

namespace mote::cli {

class ChatSession {
 public:
  // Opens the model and session from the flags, and loads --session FILE when it exists.
  // Returns 0, or the exit status after printing the error.
  int open(const Args& args);

  const char* template_name() const { return info_.chat_template; }
  bool reasoning_model() const { return template_name() == std::string("deepseek-r1"); }
  size_t message_count() const { return messages_.size(); }

  void add(const std::string& role, const std::string& content) { messages_.emplace_back(role, content); }
  void drop_last_user_message();
  // Forgets everything but the system prompt.
  void reset();
  // Generates the reply to the conversation; the callback sees each piece of text.
  mote_status generate(mote_token_callback callback, void* user_data);
  void print_stats(FILE* out) const;

  // The session (KV cache and tokens) in PATH, the messages in PATH.messages.json. Print the
  // error and return false on failure; a failed load leaves the conversation as it was.
  bool save(const std::string& path) const;
  bool load(const std::string& path);
  // Saves to --session FILE, if given.
  void autosave() const;

 private:
  ModelPtr model_;
  SessionPtr session_;
  mote_model_info info_{};
  GenerateFlags flags_;
  std::vector<std::pair<std::string, std::string>> messages_;  // role, content
  std::string session_path_;
  int64_t turns_ = 0;
};

}  // namespace mote::cli
