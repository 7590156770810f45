// Reading chat messages: with line editing and history (libedit) when stdin and stdout are a
// terminal, plain lines otherwise (pipes keep working line by line). A message may span lines: a
// line ending with \ continues on the next, and """ opens and closes a block of lines.
#pragma once

#include <memory>
#include <string>

namespace mote::cli {

class LineInput {
 public:
  enum class Result { kMessage, kEnd, kInterrupted };

  LineInput();
  ~LineInput();
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  // True when reading a terminal (prompts are shown).
  bool interactive() const { return interactive_; }
  // Whether line editing and history are on.
  bool editing() const { return editor_ != nullptr; }
  // One message, without its final newline. kEnd: end of input (Ctrl-D). kInterrupted: Ctrl-C;
  // *had_text says whether typed text was dropped (else the prompt was empty).
  Result read(std::string* text, bool* had_text);
  // Adds a message to the history (and its file, best effort).
  void remember(const std::string& text);

 private:
  struct Editor;
  Result read_line(const char* prompt, std::string* line, bool* had_text);
  Result read_block(std::string first, std::string* text, bool* had_text);

  bool interactive_ = false;
  std::unique_ptr<Editor> editor_;
  char* buffer_ = nullptr;  // getline's buffer when not editing
  size_t capacity_ = 0;
};

// $XDG_STATE_HOME/mote/history, else ~/.local/state/mote/history ("" if neither is set).
std::string history_path();

}  // namespace mote::cli
