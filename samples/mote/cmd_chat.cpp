// mote chat FILE: an interactive chat on the public C API (mote.h). Reads one message at a time
// (line editing and history on a terminal, plain lines from a pipe), renders the whole
// conversation with the model's chat template, and streams the reply. DeepSeek-R1-style reasoning
// (<think>...</think>) is shown apart from the answer. Slash commands are answered here and never
// reach the model. Ctrl-C stops a reply and keeps what was said; Ctrl-C at an empty prompt, a
// second Ctrl-C or Ctrl-D quits.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "capi.h"
#include "chat/chat_template.h"
#include "chat_session.h"
#include "interrupt.h"
#include "line_input.h"

namespace mote::cli {

namespace {

const char kChatHelp[] =
    "commands:\n"
    "  /help          this help\n"
    "  /reset         forget the conversation (the --system prompt stays)\n"
    "  /stats         speed, context and memory\n"
    "  /save FILE     save the conversation;  /load FILE  continue a saved one\n"
    "  /quit, /exit   leave (also Ctrl-D, or Ctrl-C at an empty prompt)\n"
    "input:\n"
    "  end a line with \\ to continue the message on the next line\n"
    "  \"\"\" on its own starts a block of lines, ended by a line ending with \"\"\"\n"
    "  Ctrl-C stops a reply (the part shown stays in the conversation)\n";

struct ReplyStream {
  ReasoningSplitter splitter;
  std::string answer;
  bool in_thinking = false;
  bool tty = false;

  void show(const ReasoningSplitter::Output& o) {
    if (!o.reasoning.empty()) {
      if (!in_thinking) std::fputs(tty ? "\x1b[2m[thinking] " : "[thinking] ", stdout);
      in_thinking = true;
      std::fputs(o.reasoning.c_str(), stdout);
    }
    if (!o.content.empty()) {
      if (in_thinking) std::fputs(tty ? "\x1b[0m\n[answer] " : "\n[answer] ", stdout);
      in_thinking = false;
      std::fputs(o.content.c_str(), stdout);
      answer += o.content;
    }
    std::fflush(stdout);
  }
  static int on_token(void* user, int32_t, const char* text, size_t len) {
    auto* self = static_cast<ReplyStream*>(user);
    self->show(self->splitter.feed(std::string_view(text, len)));
    return interrupt_requested() ? 1 : 0;
  }
};

// Streams one reply to the conversation's last user message and appends it (also when stopped
// by Ctrl-C: the part shown stays). Returns false after printing an error.
bool reply(ChatSession& chat, bool tty) {
  ReplyStream stream;
  stream.tty = tty;
  stream.splitter = ReasoningSplitter(chat.reasoning_model());
  clear_interrupt();
  const mote_status st = chat.generate(&ReplyStream::on_token, &stream);
  stream.show(stream.splitter.finish());
  if (stream.in_thinking && tty) std::fputs("\x1b[0m", stdout);
  const bool stopped = st == MOTE_ERR_CANCELLED;
  std::fputs(stopped ? (tty ? "\x1b[2m [stopped]\x1b[0m\n" : " [stopped]\n") : "\n", stdout);
  std::fflush(stdout);
  clear_interrupt();
  if (st != MOTE_OK && !stopped) {
    chat.drop_last_user_message();
    fail_c(st);
    return false;
  }
  chat.add("assistant", stream.answer);
  return true;
}

enum class Action { kContinue, kQuit };

// A line starting with '/': answered here, never sent to the model.
Action command(ChatSession& chat, const std::string& line) {
  const size_t space = line.find(' ');
  const std::string name = line.substr(0, space);
  const std::string arg = space == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', space));
  if (name == "/quit" || name == "/exit") return Action::kQuit;
  if (name == "/help" || name == "/?") {
    std::fputs(kChatHelp, stdout);
  } else if (name == "/reset") {
    chat.reset();
    std::puts("[conversation reset]");
  } else if (name == "/stats") {
    chat.print_stats(stdout);
  } else if ((name == "/save" || name == "/load") && arg.empty()) {
    std::printf("[%s needs a file name: %s FILE]\n", name.c_str(), name.c_str());
  } else if (name == "/save") {
    if (chat.save(arg)) std::printf("[saved to %s]\n", arg.c_str());
  } else if (name == "/load") {
    if (chat.load(arg)) std::printf("[loaded %s: %zu messages]\n", arg.c_str(), chat.message_count());
  } else {
    const std::string near = closest(name, {"/help", "/reset", "/stats", "/save", "/load", "/quit", "/exit"});
    std::printf("[unknown command %s%s; /help lists the commands]\n", name.c_str(),
                near.empty() ? "" : (" (did you mean " + near + "?)").c_str());
  }
  std::fflush(stdout);
  return Action::kContinue;
}

}  // namespace

int cmd_chat(const Args& args) {
  ChatSession chat;
  if (int rc = chat.open(args); rc != 0) return rc;
  LineInput input;
  const bool tty = input.interactive();
  install_interrupt_handler(0);  // a second Ctrl-C during a reply quits, cleanly
  std::fprintf(stderr, "mote chat (%s template); /help for commands, Ctrl-D to quit\n", chat.template_name());
  std::string text;
  while (true) {
    bool had_text = false;
    const LineInput::Result r = input.read(&text, &had_text);
    if (r == LineInput::Result::kEnd) break;
    if (r == LineInput::Result::kInterrupted) {
      if (had_text) continue;  // the typed line is dropped; Ctrl-C again quits
      break;
    }
    if (text.find_first_not_of(" \t\n") == std::string::npos) continue;
    input.remember(text);
    if (text[0] == '/' && text.find('\n') == std::string::npos) {
      if (command(chat, text) == Action::kQuit) break;
      continue;
    }
    chat.add("user", text);
    if (reply(chat, tty)) chat.autosave();
  }
  return 0;
}

}  // namespace mote::cli
