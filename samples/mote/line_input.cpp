#include "line_input.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef MOTE_HAVE_LIBEDIT
#include <histedit.h>
#endif

#include "interrupt.h"

namespace mote::cli {

namespace {

constexpr const char* kPrompt = "> ";
constexpr const char* kContinuation = "... ";
constexpr std::string_view kBlockQuote = "\"\"\"";

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// mkdir -p, best effort: a missing history directory only costs the history.
void make_dirs(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1))
    mkdir(path.substr(0, at).c_str(), 0700);
}

}  // namespace

std::string history_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') return std::string(state) + "/mote/history";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.local/state/mote/history";
  return "";
}

#ifdef MOTE_HAVE_LIBEDIT

struct LineInput::Editor {
  EditLine* el = nullptr;
  History* hist = nullptr;
  HistEvent event{};
  const char* prompt = kPrompt;
  std::string path;
  bool interrupted = false;
  bool had_text = false;

  static Editor* of(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return static_cast<Editor*>(data);
  }
  static char* prompt_of(EditLine* el) { return const_cast<char*>(of(el)->prompt); }
  // Ctrl-C is a key while editing (isig is off, see open): end the read and say why.
  static unsigned char on_ctrl_c(EditLine* el, int) {
    Editor* e = of(el);
    const LineInfo* line = el_line(el);
    e->had_text = line->lastchar != line->buffer;
    e->interrupted = true;
    return CC_EOF;
  }

  bool open() {
    // UTF-8 input needs a UTF-8 LC_CTYPE; the environment's, else C.UTF-8.
    if (std::setlocale(LC_CTYPE, "") == nullptr || MB_CUR_MAX == 1) std::setlocale(LC_CTYPE, "C.UTF-8");
    el = el_init("mote", stdin, stdout, stderr);
    if (el == nullptr) return false;
    hist = history_init();
    ::history(hist, &event, H_SETSIZE, 1000);
    ::history(hist, &event, H_SETUNIQUE, 1);
    el_set(el, EL_CLIENTDATA, this);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, &Editor::prompt_of);
    el_set(el, EL_HIST, ::history, hist);
    el_source(el, nullptr);  // the user's ~/.editrc (e.g. "bind -v")
    // Ctrl-C must reach us as a key while a line is edited, not as SIGINT, so that it can clear
    // the line or quit without leaving the terminal in raw mode.
    el_set(el, EL_SETTY, "-d", "-isig", nullptr);
    // The wide call: the narrow el_set(EL_ADDFN) copies both strings and never frees them (a leak
    // LeakSanitizer reports at exit); this one keeps pointers to the literals.
    el_wset(el, EL_ADDFN, L"mote-interrupt", L"clear the line, or quit at an empty prompt", &Editor::on_ctrl_c);
    el_set(el, EL_BIND, "^C", "mote-interrupt", nullptr);
    path = history_path();
    if (!path.empty()) ::history(hist, &event, H_LOAD, path.c_str());
    return true;
  }

  ~Editor() {
    if (el != nullptr) el_end(el);  // restores the terminal
    if (hist != nullptr) history_end(hist);
  }

  Result read(const char* p, std::string* line, bool* had) {
    prompt = p;
    interrupted = had_text = false;
    int count = 0;
    el_resize(el);  // the window may have changed size during the reply (no SIGWINCH handler)
    // From here a SIGINT quits (see interrupt.h): until el_gets has the terminal in raw mode,
    // Ctrl-C is still a signal, and libedit would swallow the interrupted read. One that came
    // since the reply ended was pressed at the empty prompt too.
    set_at_prompt(true);
    const char* s = interrupt_requested() ? nullptr : el_gets(el, &count);
    set_at_prompt(false);
    if (interrupt_requested()) {
      clear_interrupt();
      interrupted = true;
    }
    if (interrupted) {
      std::fputs("^C\n", stdout);
      *had = had_text;
      return Result::kInterrupted;
    }
    if (s == nullptr || count <= 0) {
      std::fputs("\n", stdout);  // the shell's prompt on a line of its own
      return Result::kEnd;
    }
    line->assign(s, size_t(count));
    if (!line->empty() && line->back() == '\n') line->pop_back();
    return Result::kMessage;
  }

  void remember(const std::string& text) {
    ::history(hist, &event, H_ENTER, text.c_str());
    if (path.empty()) return;
    make_dirs(path);
    ::history(hist, &event, H_SAVE, path.c_str());
  }
};

#else

struct LineInput::Editor {
  bool open() { return false; }
  Result read(const char*, std::string*, bool*) { return Result::kEnd; }
  void remember(const std::string&) {}
};

#endif

LineInput::LineInput() : interactive_(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
  if (!interactive_) return;
  editor_ = std::make_unique<Editor>();
  if (!editor_->open()) editor_.reset();
}

LineInput::~LineInput() { std::free(buffer_); }

void LineInput::remember(const std::string& text) {
  if (editor_ && !text.empty()) editor_->remember(text);
}

LineInput::Result LineInput::read_line(const char* prompt, std::string* line, bool* had_text) {
  *had_text = false;
  if (editor_) return editor_->read(prompt, line, had_text);
  if (interactive_) std::fputs(prompt, stdout), std::fflush(stdout);
  errno = 0;
  const ssize_t n = getline(&buffer_, &capacity_, stdin);
  if (n < 0) {
    // SIGINT interrupts the read (the handler has no SA_RESTART).
    const bool interrupted = errno == EINTR || interrupt_requested();
    std::clearerr(stdin);
    if (!interrupted) return Result::kEnd;
    clear_interrupt();
    if (interactive_) std::fputs("\n", stdout);
    return Result::kInterrupted;
  }
  line->assign(buffer_, size_t(n));
  if (!line->empty() && line->back() == '\n') line->pop_back();
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return Result::kMessage;
}

// `first` is the text after the opening """ on its line; the block ends at a line ending with """
// (or at the end of input). """one line""" is a block of one line.
LineInput::Result LineInput::read_block(std::string first, std::string* text, bool* had_text) {
  std::vector<std::string> lines;
  bool closed = ends_with(first, kBlockQuote);
  if (closed) first.resize(first.size() - kBlockQuote.size());
  if (!first.empty() || closed) lines.push_back(std::move(first));
  std::string line;
  while (!closed) {
    const Result r = read_line(kContinuation, &line, had_text);
    if (r == Result::kInterrupted) return *had_text = true, r;
    if (r == Result::kEnd) break;
    closed = ends_with(line, kBlockQuote);
    if (closed) line.resize(line.size() - kBlockQuote.size());
    if (!closed || !line.empty()) lines.push_back(line);
  }
  text->clear();
  for (size_t i = 0; i < lines.size(); ++i) text->append(i ? "\n" : "").append(lines[i]);
  return Result::kMessage;
}

LineInput::Result LineInput::read(std::string* text, bool* had_text) {
  text->clear();
  std::string line;
  Result r = read_line(kPrompt, &line, had_text);
  if (r != Result::kMessage) return r;
  const size_t start = line.find_first_not_of(" \t");
  if (start != std::string::npos && line.compare(start, kBlockQuote.size(), kBlockQuote) == 0)
    return read_block(line.substr(start + kBlockQuote.size()), text, had_text);
  while (ends_with(line, "\\")) {
    line.pop_back();
    text->append(line).append("\n");
    r = read_line(kContinuation, &line, had_text);
    if (r == Result::kInterrupted) return *had_text = true, r;
    if (r == Result::kEnd) {
      line.clear();
      break;
    }
  }
  text->append(line);
  return Result::kMessage;
}

}  // namespace mote::cli
