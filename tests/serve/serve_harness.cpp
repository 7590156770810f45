#include "serve/serve_harness.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/test_util.h"

namespace mote::test {

namespace fs = std::filesystem;

uint64_t proc_status_bytes(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream ls(line.substr(key.size()));
    uint64_t kb = 0;
    ls >> kb;
    return kb * 1024;
  }
  return 0;
}

std::unique_ptr<ServeProcess> ServeProcess::start(const std::string& model_path, const std::vector<std::string>& args,
                                                  std::string* error) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<ServeProcess> {
    if (error) *error = why;
    return nullptr;
  };
  std::vector<std::string> argv = {MOTE_CLI_BIN, "serve", model_path, "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return fail("pipe2 failed");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return fail("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (the test process has threads).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execv(cargv[0], cargv.data());
    const char msg[] = "serve_harness: exec failed\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<ServeProcess> p(new ServeProcess());
  p->pid_ = pid;
  p->err_fd_ = fds[0];

  // Read until the listening line, the child's exit (EOF) or 60 s.
  static const std::regex kListening(R"(mote serve: listening on http://([^:/\s]+|\[[^\]]+\]):(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string buf;
  char chunk[4096];
  while (true) {
    std::smatch m;
    if (std::regex_search(buf, m, kListening)) {
      // Wait for the end of that line so the port is complete.
      const size_t end = size_t(m.position(0) + m.length(0));
      if (end < buf.size() || buf.find('\n', end) != std::string::npos) {
        p->port_ = std::stoi(m[2].str());
        break;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      p->log_ = buf;
      const std::string log = buf;
      p->stop();
      return fail("mote serve did not print its listening line within 60 s; output:\n" + log);
    }
    pollfd pfd{p->err_fd_, POLLIN, 0};
    const int ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    const int r = poll(&pfd, 1, ms > 0 ? ms : 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    const ssize_t n = read(p->err_fd_, chunk, sizeof(chunk));
    if (n > 0) {
      buf.append(chunk, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF: the child exited (or closed stderr) before listening.
    p->log_ = buf;
    const int status = p->stop();
    return fail("mote serve exited (status " + std::to_string(status) + ") before listening; output:\n" + buf);
  }
  p->log_ = buf;
  p->drainer_ = std::thread([raw = p.get()] { raw->drain_loop(); });
  return p;
}

void ServeProcess::drain_loop() {
  char chunk[4096];
  while (true) {
    const ssize_t n = read(err_fd_, chunk, sizeof(chunk));
    if (n > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      log_.append(chunk, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
}

ServeProcess::~ServeProcess() { stop(); }

std::string ServeProcess::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

bool ServeProcess::try_reap(int options) const {
  if (reaped_) return true;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, options);
  if (r == pid_) {
    reaped_ = true;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  return false;
}

bool ServeProcess::running() const {
  std::lock_guard<std::mutex> lock(proc_mu_);
  if (pid_ <= 0) return false;
  return !try_reap(WNOHANG);
}

uint64_t ServeProcess::peak_rss_bytes() const {
  std::lock_guard<std::mutex> lock(proc_mu_);
  if (pid_ > 0 && !reaped_) {
    const uint64_t hwm = proc_status_bytes(pid_, "VmHWM");
    if (hwm > last_hwm_) last_hwm_ = hwm;
  }
  return last_hwm_;
}

std::string ServeProcess::log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

int ServeProcess::stop() {
  {
    std::lock_guard<std::mutex> lock(proc_mu_);
    if (pid_ > 0 && !reaped_) {
      const uint64_t hwm = proc_status_bytes(pid_, "VmHWM");
      if (hwm > last_hwm_) last_hwm_ = hwm;
      if (!try_reap(WNOHANG)) {
        kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!try_reap(WNOHANG) && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!reaped_) {
          kill(pid_, SIGKILL);
          try_reap(0);
        }
      }
    }
  }
  if (drainer_.joinable()) drainer_.join();
  if (err_fd_ >= 0) {
    close(err_fd_);
    err_fd_ = -1;
  }
  return exit_status_;
}

const std::string& demo_model_path() {
  // One conversion shared by every test process (ctest runs each test in its own process): reused
  // while it is newer than the converter and the checkpoint, else rebuilt in a private folder and
  // renamed into place, so parallel processes never see a half-written file.
  static const std::string path = []() -> std::string {
    const fs::path src = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";
    const fs::path dir = fs::path(MOTE_TEST_TMP) / "serve-demo";
    const fs::path out = dir / "demo.mote";
    std::error_code ec;
    fs::create_directories(dir, ec);
    auto newer_than_inputs = [&](const fs::path& f) {
      std::error_code e;
      const auto t = fs::last_write_time(f, e);
      if (e) return false;
      for (const fs::path& in : {fs::path(MOTE_CONVERT_BIN), src / "model.safetensors", src / "config.json",
                                 src / "tokenizer.json", src / "tokenizer_config.json"}) {
        std::error_code e2;
        const auto ti = fs::last_write_time(in, e2);
        if (e2 || ti > t) return false;
      }
      return true;
    };
    if (fs::exists(out, ec) && newer_than_inputs(out)) return out.string();
    const fs::path tmp = dir / ("tmp." + std::to_string(getpid()));
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    const CommandResult r = run_command(
        {MOTE_CONVERT_BIN, src.string(), "-o", (tmp / "demo.mote").string(), "--weights", "q8_0", "--quiet"});
    if (r.exit_code != 0 || !fs::exists(tmp / "demo.mote")) {
      std::fprintf(stderr, "serve_harness: converting %s failed (exit %d): %s%s\n", src.c_str(), r.exit_code,
                   r.out.c_str(), r.err.c_str());
      fs::remove_all(tmp, ec);
      return std::string();
    }
    fs::rename(tmp / "demo.mote", out, ec);  // atomic: a reader sees the old file or the new one
    fs::remove_all(tmp, ec);
    if (ec && !fs::exists(out)) {
      std::fprintf(stderr, "serve_harness: rename into %s failed: %s\n", out.c_str(), ec.message().c_str());
      return std::string();
    }
    return out.string();
  }();
  return path;
}

SseParse parse_sse(const std::string& body) {
  SseParse out;
  size_t pos = 0;
  std::string event_data;
  bool have_data = false;
  auto flag = [&](const std::string& why) {
    if (out.format_ok) {
      out.format_ok = false;
      out.format_error = why;
    }
  };
  while (pos < body.size()) {
    size_t eol = body.find('\n', pos);
    const bool complete = eol != std::string::npos;
    if (!complete) eol = body.size();
    std::string line = body.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (have_data) out.data.push_back(event_data);
      event_data.clear();
      have_data = false;
      continue;
    }
    if (line[0] == ':') continue;  // comment / keep-alive
    if (line.rfind("data:", 0) == 0) {
      std::string v = line.substr(5);
      if (!v.empty() && v[0] == ' ') v.erase(0, 1);
      if (have_data) {
        flag("two data lines in one event (expected a blank line between chunks)");
        event_data += "\n";
      }
      event_data += v;
      have_data = true;
      if (!complete) flag("stream ends without a newline after the last data line");
      continue;
    }
    flag("unexpected SSE line: " + line.substr(0, 80));
  }
  if (have_data) {
    flag("last event not terminated by a blank line");
    out.data.push_back(event_data);
  }
  return out;
}

std::unique_ptr<ServeProcess> start_demo_server(const std::vector<std::string>& args) {
  const std::string& model = demo_model_path();
  if (model.empty()) {
    ADD_FAILURE() << "the demo model could not be converted";
    return nullptr;
  }
  std::string error;
  auto p = ServeProcess::start(model, args, &error);
  if (!p) ADD_FAILURE() << "mote serve did not start: " << error;
  return p;
}

}  // namespace mote::test
