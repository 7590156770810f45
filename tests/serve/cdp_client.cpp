// Chrome DevTools Protocol over --remote-debugging-pipe; see cdp_client.h.
#include "serve/cdp_client.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace mote::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

bool is_executable(const std::string& p) {
  struct stat st {};
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left < 0) return 0;
  if (left > 1000000) return 1000000;
  return static_cast<int>(left);
}

std::string tail_of(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

}  // namespace

std::string find_chromium() {
  if (const char* env = std::getenv("MOTE_CHROMIUM"); env && *env) {
    return is_executable(env) ? std::string(env) : std::string();
  }
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (is_executable(p)) return p;
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      for (const char* name : {"chromium", "chromium-browser"}) {
        std::string cand = dir + "/" + name;
        if (is_executable(cand)) return cand;
      }
    }
  }
  return {};
}

bool base64_decode(const std::string& in, std::string* out) {
  out->clear();
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    else return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

std::unique_ptr<CdpBrowser> CdpBrowser::launch(const Options& opt, std::string* err) {
  if (!is_executable(opt.binary)) {
    *err = "chromium binary not executable: '" + opt.binary + "'";
    return nullptr;
  }
  std::unique_ptr<CdpBrowser> b(new CdpBrowser());
  std::error_code ec;
  fs::path base = opt.temp_base.empty() ? fs::temp_directory_path() : opt.temp_base;
  fs::create_directories(base, ec);
  std::string tmpl = (base / "cdp.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    *err = "mkdtemp under " + base.string() + ": " + std::strerror(errno);
    return nullptr;
  }
  b->profile_dir_ = tmpl;
  b->log_path_ = b->profile_dir_ / "chromium.log";
  fs::path profile = b->profile_dir_ / "profile";
  fs::create_directories(profile, ec);

  std::vector<std::string> args = {opt.binary,
                                   "--headless=new",
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--disable-dev-shm-usage",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--metrics-recording-only",
                                   "--mute-audio",
                                   "--hide-scrollbars",
                                   "--remote-debugging-pipe",
                                   "--user-data-dir=" + profile.string(),
                                   "--window-size=" + std::to_string(opt.width) + "," + std::to_string(opt.height)};
  // Chromium's sandbox cannot start as root, nor where user namespaces are off (containers, CI):
  // the browser only ever loads the local test page, so it runs without one.
  args.push_back("--no-sandbox");
  for (const auto& a : opt.extra_args) args.push_back(a);
  args.push_back("about:blank");

  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + std::strerror(errno);
    ::close(to_child[0]);
    ::close(to_child[1]);
    return nullptr;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = b->log_path_.string();

  pid_t pid = ::fork();
  if (pid < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
    return nullptr;
  }
  if (pid == 0) {
    // Child: own process group (so the whole browser can be killed at once), the command pipe
    // on fd 3, the response pipe on fd 4, output to the log, nothing else inherited.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test never leaves a browser behind
    int in_fd = ::fcntl(to_child[0], F_DUPFD, 10);
    int out_fd = ::fcntl(from_child[1], F_DUPFD, 10);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (in_fd < 0 || out_fd < 0) ::_exit(126);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    if (::dup2(in_fd, 3) < 0 || ::dup2(out_fd, 4) < 0) ::_exit(126);
#ifdef SYS_close_range
    ::syscall(SYS_close_range, 5u, ~0u, 0u);
#else
    for (int fd = 5; fd < 1024; ++fd) ::close(fd);
#endif
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before we might kill it
  ::close(to_child[0]);
  ::close(from_child[1]);
  b->pid_ = pid;
  b->to_browser_ = to_child[1];
  b->from_browser_ = from_child[0];
  ::fcntl(b->to_browser_, F_SETFL, ::fcntl(b->to_browser_, F_GETFL) | O_NONBLOCK);
  ::fcntl(b->from_browser_, F_SETFL, ::fcntl(b->from_browser_, F_GETFL) | O_NONBLOCK);
  ::signal(SIGPIPE, SIG_IGN);  // a dead browser must give an error, not kill the test

  json r;
  std::string e;
  if (!b->call("Browser.getVersion", json::object(), &r, &e, opt.startup_timeout_ms, false)) {
    *err = "browser did not answer: " + e + "\n--- chromium output ---\n" + b->browser_log_tail();
    return nullptr;
  }
  if (!b->call("Target.createTarget", {{"url", "about:blank"}}, &r, &e, 15000, false)) {
    *err = "Target.createTarget: " + e;
    return nullptr;
  }
  b->target_id_ = r.value("targetId", "");
  if (!b->call("Target.attachToTarget", {{"targetId", b->target_id_}, {"flatten", true}}, &r, &e, 15000, false)) {
    *err = "Target.attachToTarget: " + e;
    return nullptr;
  }
  b->session_id_ = r.value("sessionId", "");
  if (b->session_id_.empty()) {
    *err = "Target.attachToTarget gave no sessionId: " + r.dump();
    return nullptr;
  }
  for (const char* domain : {"Page.enable", "Runtime.enable"}) {
    if (!b->call(domain, json::object(), &r, &e)) {
      *err = std::string(domain) + ": " + e;
      return nullptr;
    }
  }
  json metrics = {{"width", opt.width}, {"height", opt.height}, {"deviceScaleFactor", 1}, {"mobile", false}};
  if (!b->call("Emulation.setDeviceMetricsOverride", metrics, &r, &e)) {
    *err = "Emulation.setDeviceMetricsOverride: " + e;
    return nullptr;
  }
  return b;
}

CdpBrowser::~CdpBrowser() { shutdown(); }

void CdpBrowser::shutdown() {
  if (pid_ > 0) {
    bool exited = false;
    if (!closed_ && to_browser_ >= 0) {
      std::string e;
      json msg = {{"id", next_id_++}, {"method", "Browser.close"}, {"params", json::object()}};
      send_raw(msg, &e, Clock::now() + std::chrono::seconds(2));
    }
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      int status = 0;
      pid_t w = ::waitpid(pid_, &status, WNOHANG);
      if (w == pid_ || (w < 0 && errno == ECHILD)) {
        exited = true;
        break;
      }
      // Keep draining the pipe so the browser never blocks writing to it.
      if (from_browser_ >= 0 && !closed_) read_some(Clock::now() + std::chrono::milliseconds(50));
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Whatever is left of the browser's process group (helpers, or all of it after a timeout).
    ::kill(-pid_, SIGKILL);
    if (!exited) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  if (to_browser_ >= 0) ::close(to_browser_);
  if (from_browser_ >= 0) ::close(from_browser_);
  to_browser_ = from_browser_ = -1;
  if (!profile_dir_.empty()) {
    std::error_code ec;
    // Helpers killed a moment ago may still be finishing writes: retry briefly.
    for (int i = 0; i < 10; ++i) {
      fs::remove_all(profile_dir_, ec);
      if (!fs::exists(profile_dir_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    profile_dir_.clear();
  }
}

bool CdpBrowser::alive() {
  if (pid_ <= 0 || closed_) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

bool CdpBrowser::send_raw(const json& msg, std::string* err, Clock::time_point deadline) {
  std::string data = msg.dump();
  data.push_back('\0');
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(to_browser_, data.data() + off, data.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Clock::now() >= deadline) {
        *err = "timed out writing to the browser";
        return false;
      }
      // Drain our side too, in case the browser is blocked writing to us.
      pollfd p[2] = {{to_browser_, POLLOUT, 0}, {from_browser_, POLLIN, 0}};
      ::poll(p, 2, std::min(ms_left(deadline), 100));
      if (p[1].revents & (POLLIN | POLLHUP)) read_some(Clock::now());
      continue;
    }
    *err = std::string("write to browser: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool CdpBrowser::read_some(Clock::time_point deadline) {
  if (closed_ || from_browser_ < 0) return false;
  pollfd p = {from_browser_, POLLIN, 0};
  int r = ::poll(&p, 1, ms_left(deadline));
  if (r <= 0) return false;
  char buf[65536];
  bool got = false;
  for (;;) {
    ssize_t n = ::read(from_browser_, buf, sizeof buf);
    if (n > 0) {
      got = true;
      inbuf_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      closed_ = true;
      break;
    }
    if (errno == EINTR) continue;
    break;  // EAGAIN: all read for now
  }
  size_t start = 0;
  for (;;) {
    size_t nul = inbuf_.find('\0', start);
    if (nul == std::string::npos) break;
    handle_message(inbuf_.substr(start, nul - start));
    start = nul + 1;
  }
  inbuf_.erase(0, start);
  return got;
}

void CdpBrowser::handle_message(const std::string& text) {
  json m = json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.is_object()) return;
  if (m.contains("id")) responses_.push_back(std::move(m));
  else events_.push_back(std::move(m));
}

void CdpBrowser::pump(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (read_some(deadline)) {
    while (read_some(Clock::now())) {
    }
  }
}

bool CdpBrowser::call(const std::string& method, const json& params, json* result, std::string* err,
                      int timeout_ms, bool to_page) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (closed_ || to_browser_ < 0) {
    *err = method + ": the browser has closed its pipe";
    return false;
  }
  int id = next_id_++;
  json msg = {{"id", id}, {"method", method}, {"params", params}};
  if (to_page && !session_id_.empty()) msg["sessionId"] = session_id_;
  if (!send_raw(msg, err, deadline)) return false;
  for (;;) {
    for (auto it = responses_.begin(); it != responses_.end(); ++it) {
      if (it->value("id", -1) != id) continue;
      json resp = std::move(*it);
      responses_.erase(it);
      if (resp.contains("error")) {
        *err = method + ": protocol error " + resp["error"].dump();
        return false;
      }
      *result = resp.value("result", json::object());
      return true;
    }
    if (closed_) {
      *err = method + ": the browser closed its pipe\n--- chromium output ---\n" + browser_log_tail();
      return false;
    }
    if (Clock::now() >= deadline) {
      *err = method + ": no response within " + std::to_string(timeout_ms) + " ms";
      return false;
    }
    read_some(deadline);
  }
}

bool CdpBrowser::navigate(const std::string& url, std::string* err, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t seen = events_.size();
  json r;
  if (!call("Page.navigate", {{"url", url}}, &r, err, timeout_ms)) return false;
  if (r.contains("errorText") && !r["errorText"].get<std::string>().empty()) {
    *err = "Page.navigate " + url + ": " + r["errorText"].get<std::string>();
    return false;
  }
  for (;;) {
    for (size_t i = seen; i < events_.size(); ++i) {
      const json& ev = events_[i];
      if (ev.value("method", "") == "Page.loadEventFired" && ev.value("sessionId", "") == session_id_) return true;
    }
    seen = events_.size();
    if (closed_) {
      *err = "browser closed while loading " + url;
      return false;
    }
    if (Clock::now() >= deadline) {
      *err = "no Page.loadEventFired for " + url + " within " + std::to_string(timeout_ms) + " ms";
      return false;
    }
    read_some(deadline);
  }
}

bool CdpBrowser::evaluate(const std::string& expression, json* value, std::string* err, int timeout_ms) {
  json r;
  json params = {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}};
  if (!call("Runtime.evaluate", params, &r, err, timeout_ms)) return false;
  if (r.contains("exceptionDetails")) {
    const json& d = r["exceptionDetails"];
    std::string text = d.value("text", "exception");
    if (d.contains("exception") && d["exception"].contains("description"))
      text += ": " + d["exception"]["description"].get<std::string>();
    *err = "evaluating `" + expression.substr(0, 200) + "`: " + text;
    return false;
  }
  const json& res = r.value("result", json::object());
  *value = res.contains("value") ? res["value"] : json();
  return true;
}

bool CdpBrowser::wait_for(const std::string& expression, int timeout_ms, std::string* err, int interval_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  json last;
  for (;;) {
    if (!evaluate(expression, &last, err, std::max(1000, ms_left(deadline)))) return false;
    if (last.is_boolean() && last.get<bool>()) return true;
    if (Clock::now() >= deadline) {
      *err = "timed out after " + std::to_string(timeout_ms) + " ms waiting for `" + expression.substr(0, 200) +
             "` (last value " + last.dump() + ")";
      return false;
    }
    pump(interval_ms);  // sleep while collecting events
  }
}

bool CdpBrowser::screenshot(const fs::path& path, std::string* err) {
  json r;
  if (!call("Page.captureScreenshot", {{"format", "png"}, {"captureBeyondViewport", false}}, &r, err, 30000))
    return false;
  std::string png;
  if (!r.contains("data") || !base64_decode(r["data"].get<std::string>(), &png)) {
    *err = "Page.captureScreenshot: no or bad base64 data";
    return false;
  }
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0) {
    *err = "Page.captureScreenshot: data is not a PNG";
    return false;
  }
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(png.data(), static_cast<std::streamsize>(png.size()));
  f.close();
  if (!f) {
    *err = "cannot write " + path.string();
    return false;
  }
  return true;
}

std::vector<json> CdpBrowser::events_named(const std::string& method) const {
  std::vector<json> out;
  for (const auto& e : events_)
    if (e.value("method", "") == method) out.push_back(e);
  return out;
}

std::vector<std::string> CdpBrowser::page_exceptions() const {
  std::vector<std::string> out;
  for (const auto& e : events_named("Runtime.exceptionThrown")) {
    const json d = e.value("params", json::object()).value("exceptionDetails", json::object());
    std::string text = d.value("text", "exception");
    if (d.contains("exception") && d["exception"].is_object()) {
      const json& ex = d["exception"];
      if (ex.contains("description") && ex["description"].is_string()) text += ": " + ex["description"].get<std::string>();
      else if (ex.contains("value")) text += ": " + ex["value"].dump();
    }
    if (d.contains("url")) text += " (" + d.value("url", "") + ":" + std::to_string(d.value("lineNumber", 0) + 1) + ")";
    out.push_back(text);
  }
  return out;
}

std::vector<std::string> CdpBrowser::console_errors() const {
  std::vector<std::string> out;
  for (const auto& e : events_named("Runtime.consoleAPICalled")) {
    const json p = e.value("params", json::object());
    std::string type = p.value("type", "");
    if (type != "error" && type != "assert") continue;
    std::string text = "console." + type + ":";
    for (const auto& a : p.value("args", json::array())) {
      std::string part;
      if (a.contains("value")) part = a["value"].is_string() ? a["value"].get<std::string>() : a["value"].dump();
      else if (a.contains("description") && a["description"].is_string()) part = a["description"].get<std::string>();
      text.push_back(' ');
      text.append(part);
    }
    out.push_back(text);
  }
  return out;
}

std::string CdpBrowser::browser_log_tail(size_t max_bytes) const {
  std::ifstream f(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return tail_of(ss.str(), max_bytes);
}

}  // namespace mote::test
