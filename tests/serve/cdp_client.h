// A small Chrome DevTools Protocol client for the browser test: starts headless chromium with
// --remote-debugging-pipe (the browser reads commands on its fd 3 and writes responses and
// events on its fd 4, each message JSON ended by a NUL byte) and drives one page through a
// flattened target session. Every wait has a timeout; the destructor closes the browser (SIGKILL
// to its process group when Browser.close does not finish in time) and removes the temporary
// profile.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace mote::test {

// The chromium binary to use: $MOTE_CHROMIUM when set (and executable), else /usr/bin/chromium,
// /usr/bin/chromium-browser, or either name found on $PATH. Empty when none is found.
std::string find_chromium();

class CdpBrowser {
 public:
  struct Options {
    std::string binary;                    // chromium executable (find_chromium())
    std::filesystem::path temp_base;       // the temporary profile is made under this folder
    int width = 1280;
    int height = 900;
    int startup_timeout_ms = 30000;        // until the browser answers its first command
    std::vector<std::string> extra_args;   // more command-line flags
  };

  // Starts the browser and opens one page (a new target attached with flatten:true; Page and
  // Runtime enabled). Returns nullptr and sets *err on failure (including the browser's stderr
  // tail).
  static std::unique_ptr<CdpBrowser> launch(const Options& opt, std::string* err);

  ~CdpBrowser();
  CdpBrowser(const CdpBrowser&) = delete;
  CdpBrowser& operator=(const CdpBrowser&) = delete;

  // Sends one command (to the page session when `to_page`, else to the browser) and waits for
  // its response. On success *result holds the response's "result"; on a protocol error, a
  // timeout or a dead browser returns false with *err set.
  bool call(const std::string& method, const nlohmann::json& params, nlohmann::json* result,
            std::string* err, int timeout_ms = 15000, bool to_page = true);

  // Navigates the page and waits for Page.loadEventFired (or a timeout).
  bool navigate(const std::string& url, std::string* err, int timeout_ms = 30000);

  // Runtime.evaluate with returnByValue and awaitPromise. A thrown exception is a failure, with
  // its text in *err. *value gets the result's value (null for undefined).
  bool evaluate(const std::string& expression, nlohmann::json* value, std::string* err,
                int timeout_ms = 15000);

  // Evaluates `expression` every `interval_ms` until it yields true (strictly the boolean true).
  // False with *err on a timeout or an evaluation failure.
  bool wait_for(const std::string& expression, int timeout_ms, std::string* err, int interval_ms = 50);

  // Page.captureScreenshot as PNG, decoded and written to `path`.
  bool screenshot(const std::filesystem::path& path, std::string* err);

  // Reads whatever the browser has sent, waiting at most `timeout_ms` for the first message.
  void pump(int timeout_ms);

  // Events received so far (all methods) in arrival order; and those of one method.
  const std::deque<nlohmann::json>& events() const { return events_; }
  std::vector<nlohmann::json> events_named(const std::string& method) const;

  // Texts of Runtime.exceptionThrown events (uncaught exceptions and unhandled rejections in the
  // page) and of console.error / console.assert messages, in arrival order.
  std::vector<std::string> page_exceptions() const;
  std::vector<std::string> console_errors() const;

  // The tail of what chromium printed on stdout and stderr (for diagnostics).
  std::string browser_log_tail(size_t max_bytes = 4000) const;

  bool alive();
  pid_t pid() const { return pid_; }

 private:
  CdpBrowser() = default;
  bool send_raw(const nlohmann::json& msg, std::string* err, std::chrono::steady_clock::time_point deadline);
  // Reads one chunk (waiting until `deadline`), splitting complete messages into responses_ /
  // events_. False when the pipe closed or the deadline passed with nothing read.
  bool read_some(std::chrono::steady_clock::time_point deadline);
  void handle_message(const std::string& text);
  void shutdown();

  pid_t pid_ = -1;
  int to_browser_ = -1;    // our write end (browser's fd 3)
  int from_browser_ = -1;  // our read end (browser's fd 4)
  bool closed_ = false;    // the read pipe hit EOF
  int next_id_ = 1;
  std::string session_id_;
  std::string target_id_;
  std::string inbuf_;
  std::deque<nlohmann::json> responses_;  // messages with an "id" not yet claimed
  std::deque<nlohmann::json> events_;
  std::filesystem::path profile_dir_;
  std::filesystem::path log_path_;
};

// Standard base64 decoding (ignores whitespace); false on a bad character.
bool base64_decode(const std::string& in, std::string* out);

}  // namespace mote::test
