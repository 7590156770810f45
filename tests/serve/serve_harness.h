// Test harness for `mote serve`: the server started as a child process on a loopback port and
// spoken to over HTTP. Shared by the loopback tests, the load test, the openai-client test and the
// browser test (tests/serve/*).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mote::test {

// A `mote serve` child process on loopback. start() runs MOTE_CLI_BIN serve MODEL --port 0 ARGS...,
// reads its stderr until the line "mote serve: listening on http://HOST:PORT" (timeout 60 s; keeps
// draining stderr into a buffer afterwards on a thread), and returns nullptr with *error set on
// failure. The child gets PR_SET_PDEATHSIG so a crashed test never leaves a server behind.
class ServeProcess {
 public:
  static std::unique_ptr<ServeProcess> start(const std::string& model_path, const std::vector<std::string>& args,
                                             std::string* error);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT"
  uint64_t peak_rss_bytes() const;  // VmHWM from /proc/PID/status (the last value read once stopped)
  std::string log() const;          // stderr (and stdout) so far
  bool running() const;             // the child has not exited (reaps it if it has)
  // SIGTERM, wait up to 10 s, then SIGKILL; returns the exit status (128 + signal if killed by one).
  // Idempotent: later calls return the same status. Also called by the destructor.
  int stop();

 private:
  ServeProcess() = default;
  void drain_loop();
  bool try_reap(int options) const;

  pid_t pid_ = -1;
  int port_ = 0;
  int err_fd_ = -1;
  mutable std::mutex mu_;       // log_
  mutable std::mutex proc_mu_;  // pid_/reaped_/exit_status_/last_hwm_
  std::string log_;
  std::thread drainer_;
  mutable bool reaped_ = false;
  mutable int exit_status_ = -1;
  mutable uint64_t last_hwm_ = 0;
};

// The bundled demo model (samples/models/mote-demo) converted to q8_0 as MOTE_TEST_TMP/serve-demo/
// demo.mote (so the served model name is "demo"); its path. Converted once and shared by all test
// processes (redone when the converter or the checkpoint is newer; written aside and renamed into
// place). Empty when the conversion failed (the reason is printed to stderr).
const std::string& demo_model_path();

// A server on demo_model_path() with `args`; nullptr after a gtest failure naming the reason
// (the conversion failed, or the server did not start).
std::unique_ptr<ServeProcess> start_demo_server(const std::vector<std::string>& args);

// The model name the server reports for demo_model_path().
inline const char* demo_model_name() { return "demo"; }

// One server-sent event stream split into the payloads of its `data:` lines, in order
// ("[DONE]" included as is). `format_ok` is false when anything other than `data: ...` records
// separated by blank lines appears (comments starting with ':' are allowed).
struct SseParse {
  std::vector<std::string> data;
  bool format_ok = true;
  std::string format_error;
};
SseParse parse_sse(const std::string& body);

// VmHWM / VmRSS of a process from /proc/PID/status in bytes (0 when unreadable).
uint64_t proc_status_bytes(pid_t pid, const char* field);

}  // namespace mote::test
