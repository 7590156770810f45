// mote chat and mote run -p used as a person uses them: in a pseudo-terminal, typing keys (arrow
// up, Ctrl-C, Ctrl-D) and reading the screen. ds3_tiny (random weights, byte-level tokenizer) with
// a huge -n and --ignore-eos gives replies that run until Ctrl-C stops them.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace fs = std::filesystem;

namespace {

constexpr int kTimeoutS = 60;  // generous: the machine may be loaded; every wait polls

// A child process on a pseudo-terminal, driven like an expect script.
class Terminal {
 public:
  Terminal(const std::vector<std::string>& argv, const fs::path& home) {
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      // A real terminal type (libedit needs one to edit), and a private home for the history.
      setenv("TERM", "xterm", 1);
      setenv("HOME", home.c_str(), 1);
      setenv("XDG_STATE_HOME", (home / "state").c_str(), 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0 && exit_code_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }

  bool started() const { return pid_ > 0; }
  const std::string& out() const { return out_; }
  size_t mark() const { return out_.size(); }
  void type(const std::string& keys) { ASSERT_EQ(write(master_, keys.data(), keys.size()), ssize_t(keys.size())); }

  // Reads until `needle` appears at or after byte `from`; false on timeout or end of output.
  bool wait_for(const std::string& needle, size_t from) {
    return wait_until([&] { return out_.find(needle, from) != std::string::npos; });
  }
  // Reads until the line editor has the terminal (canonical mode off: it reads key by key). Keys
  // typed before that are still read, but the terminal driver echoes them and turns Ctrl-C into a
  // signal. On Linux the master reports the slave side's mode.
  bool wait_for_editor() {
    return wait_until([&] {
      termios mode{};
      return tcgetattr(master_, &mode) == 0 && (mode.c_lflag & ICANON) == 0;
    });
  }
  // A prompt after `from`, with the editor reading keys.
  bool wait_for_prompt(size_t from) { return wait_for("> ", from) && wait_for_editor(); }
  // Reads for `ms` milliseconds (lets the child react between two keys; no sync depends on it).
  void read_for(int ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    wait_until([&] { return std::chrono::steady_clock::now() >= end; });
  }
  // Reads until at least `bytes` more have arrived after `from`.
  bool wait_for_bytes(size_t from, size_t bytes) {
    return wait_until([&] { return out_.size() >= from + bytes; });
  }
  // The exit status once the child has exited (128 + signal if killed), -1 on timeout.
  int wait_exit() {
    wait_until([] { return false; });  // drain until EOF (the child closed the terminal)
    int status = 0;
    for (auto end = deadline(); std::chrono::steady_clock::now() < end;) {
      if (waitpid(pid_, &status, WNOHANG) == pid_)
        return exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      poll(nullptr, 0, 20);
    }
    return -1;
  }

 private:
  static std::chrono::steady_clock::time_point deadline() {
    return std::chrono::steady_clock::now() + std::chrono::seconds(kTimeoutS);
  }
  template <typename Done>
  bool wait_until(Done done) {
    char buf[4096];
    for (auto end = deadline(); std::chrono::steady_clock::now() < end;) {
      if (done()) return true;
      pollfd pfd{master_, POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      const ssize_t n = read(master_, buf, sizeof(buf));
      if (n <= 0) return done();  // EIO: the child has exited
      out_.append(buf, size_t(n));
    }
    return done();
  }

  pid_t pid_ = -1;
  int master_ = -1;
  int exit_code_ = -1;
  std::string out_;
};

class CliPtyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("cli_pty");
    model_ = (dir_ / "ds3_tiny.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o", model_,
                                      "--weights", "f32", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Replies that go on until stopped.
  static std::vector<std::string> endless_chat() {
    return {MOTE_CLI_BIN, "chat", model_, "-n", "100000", "--ctx", "110000", "--ignore-eos"};
  }

  static inline fs::path dir_;
  static inline std::string model_;
};

// Waits for a reply to stream, then stops it with Ctrl-C and waits for the next prompt.
void interrupt_reply(Terminal& t, size_t from) {
  ASSERT_TRUE(t.wait_for_bytes(from, 64)) << "no reply streamed: " << t.out().substr(from);
  t.type("\x03");
  ASSERT_TRUE(t.wait_for("[stopped]", from)) << t.out().substr(from);
  ASSERT_TRUE(t.wait_for_prompt(t.out().find("[stopped]", from))) << t.out().substr(from);
}

TEST_F(CliPtyTest, ChatKeepsTheConversationThroughCtrlCAndRecallsHistory) {
  const fs::path home = dir_ / "home_chat";
  fs::create_directories(home);
  Terminal t(endless_chat(), home);
  ASSERT_TRUE(t.started());
  ASSERT_TRUE(t.wait_for_prompt(0)) << t.out();
  size_t at = t.mark();
  t.type("Hello\r");
  interrupt_reply(t, at);

  // Arrow up recalls "Hello"; Enter sends it again. The escape sequence must not be typed as text.
  at = t.mark();
  t.type("\x1b[A");
  ASSERT_TRUE(t.wait_for("Hello", at)) << "arrow up did not recall the line: " << t.out().substr(at);
  at = t.mark();
  t.type("\r");
  interrupt_reply(t, at);
  EXPECT_EQ(t.out().find("^[[A"), std::string::npos) << "the arrow key was echoed as text";

  // /stats: two turns, and the second reused the first's context (prefix kept after Ctrl-C).
  at = t.mark();
  t.type("/stats\r");
  ASSERT_TRUE(t.wait_for("[stats] turns 2", at)) << t.out().substr(at);
  ASSERT_TRUE(t.wait_for_prompt(t.out().find("[stats]", at)));
  std::smatch m;
  const std::string stats = t.out().substr(at);
  ASSERT_TRUE(std::regex_search(stats, m, std::regex(R"(\[prompt (\d+) tokens, reused (\d+)\])"))) << stats;
  EXPECT_GT(std::stoll(m[2]), 0) << "the stopped turn's context was not kept: " << stats;

  // /help and an unknown command are answered here; the saved conversation shows what the model
  // was sent: "Hello" twice (no escape bytes), each with its partial reply.
  at = t.mark();
  t.type("/help\r");
  ASSERT_TRUE(t.wait_for("/reset", at)) << t.out().substr(at);
  ASSERT_TRUE(t.wait_for_prompt(t.out().find("/reset", at)));
  at = t.mark();
  t.type("/frobnicate\r");
  ASSERT_TRUE(t.wait_for("unknown command /frobnicate", at)) << t.out().substr(at);
  ASSERT_TRUE(t.wait_for_prompt(t.out().find("unknown command", at)));
  const fs::path saved = dir_ / "pty_chat.session";
  at = t.mark();
  t.type("/save " + saved.string() + "\r");
  ASSERT_TRUE(t.wait_for("[saved to", at)) << t.out().substr(at);
  ASSERT_TRUE(t.wait_for_prompt(t.out().find("[saved to", at)));

  // Text then Ctrl-C drops the text and stays; Ctrl-D at the empty prompt exits 0.
  at = t.mark();
  t.type("half a thought\x03");
  ASSERT_TRUE(t.wait_for("^C", at)) << t.out().substr(at);
  ASSERT_TRUE(t.wait_for_prompt(t.out().find("^C", at))) << t.out().substr(at);
  t.type("\x04");
  EXPECT_EQ(t.wait_exit(), 0) << t.out().substr(at);

  const auto messages = nlohmann::json::parse(mote::test::read_file_bytes(saved.string() + ".messages.json"));
  ASSERT_EQ(messages.size(), 4u) << messages.dump();
  EXPECT_EQ(messages[0]["content"], "Hello");
  EXPECT_EQ(messages[2]["content"], "Hello");
  EXPECT_EQ(messages[3]["role"], "assistant");
  const std::string history = mote::test::read_file_bytes(home / "state" / "mote" / "history");
  EXPECT_NE(history.find("Hello"), std::string::npos) << history;
}

TEST_F(CliPtyTest, CtrlCAtAnEmptyPromptExitsZero) {
  const fs::path home = dir_ / "home_empty";
  fs::create_directories(home);
  Terminal t(endless_chat(), home);
  ASSERT_TRUE(t.wait_for_prompt(0)) << t.out();
  t.type("\x03");
  EXPECT_EQ(t.wait_exit(), 0) << t.out();
}

TEST_F(CliPtyTest, SecondCtrlCDuringAReplyExitsZero) {
  const fs::path home = dir_ / "home_twice";
  fs::create_directories(home);
  Terminal t(endless_chat(), home);
  ASSERT_TRUE(t.wait_for_prompt(0)) << t.out();
  const size_t at = t.mark();
  t.type("Hello\r");
  ASSERT_TRUE(t.wait_for_bytes(at, 64)) << t.out();
  // Two keys, two signals: typed together the terminal may merge them into one SIGINT. Whether the
  // second finds the reply still running or already stopped (an empty prompt), it quits with 0.
  t.type("\x03");
  t.read_for(30);
  t.type("\x03");
  EXPECT_EQ(t.wait_exit(), 0) << t.out().substr(at);
}

TEST_F(CliPtyTest, RunPromptCtrlCPrintsStatsAndExits130) {
  Terminal t({MOTE_CLI_BIN, "run", model_, "-p", "Once upon a time", "-n", "100000", "--ctx", "110000",
              "--ignore-eos", "--stats"},
             dir_);
  ASSERT_TRUE(t.wait_for_bytes(0, 64)) << t.out();
  const size_t at = t.mark();
  t.type("\x03");
  EXPECT_EQ(t.wait_exit(), 130) << t.out().substr(at);
  EXPECT_NE(t.out().find("generated ", at), std::string::npos) << "--stats after Ctrl-C: " << t.out().substr(at);
}

TEST_F(CliPtyTest, InspectPrintsASummaryOnATerminal) {
  Terminal t({MOTE_CLI_BIN, "inspect", model_}, dir_);
  EXPECT_EQ(t.wait_exit(), 0) << t.out();
  EXPECT_NE(t.out().find("architecture  DeepSeekV3"), std::string::npos) << t.out();
  EXPECT_NE(t.out().find("experts       16 routed (top 4 per token)"), std::string::npos) << t.out();
  EXPECT_NE(t.out().find("chat template deepseek-v3"), std::string::npos) << t.out();
  EXPECT_NE(t.out().find("tokenizer     tokenizer.json"), std::string::npos) << t.out();
}

}  // namespace
