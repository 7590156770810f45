// The runtime's diagnostics: one process-wide sink for warnings and notes (an unsupported
// MOTE_KERNELS value, what a model open loaded). The default sink writes "mote: <message>" lines
// to stderr for kWarn and more severe; the C API's mote_set_log_callback installs another.
//
// Header-only on purpose: the kernels (platforms/cpu/kernels) log too, and they are also built
// alone without runtime/core's sources (tests/kernels/standalone, the aarch64 cross build). The
// inline functions' statics are one instance per binary (libmote.so, or a program linking the
// static runtime).
//
// Thread-safety: log() and set_log_sink() may be called from any thread at any time. The sink
// is called under a (recursive) mutex, so calls are serialised and, once set_log_sink returns,
// the previous sink is never called again (its user_data may be freed). A sink may log or set
// the sink itself (same thread) but must not wait for another thread that logs.
#pragma once

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace mote {

// Same values as mote.h's mote_log_level (the C API converts by value).
enum class LogLevel : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// message: one line, no trailing newline; valid only during the call.
using LogSink = void (*)(void* user_data, LogLevel level, const char* message);

namespace detail {

struct LogState {
  std::recursive_mutex mutex;
  LogSink sink = nullptr;  // nullptr: stderr
  void* user_data = nullptr;
  std::atomic<int> max_level{int(LogLevel::kWarn)};  // read without the lock to skip formatting
};

inline LogState& log_state() {
  static LogState state;  // constructed on first use, thread-safe (function-local static)
  return state;
}

}  // namespace detail

// Installs `sink` (nullptr: back to stderr) receiving levels <= max_level.
inline void set_log_sink(LogSink sink, void* user_data, LogLevel max_level) {
  detail::LogState& s = detail::log_state();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  s.sink = sink;
  s.user_data = user_data;
  s.max_level.store(int(max_level), std::memory_order_relaxed);
}

// True when a message of `level` would be delivered: callers building a costly message may test
// this first.
inline bool log_enabled(LogLevel level) {
  return int(level) <= detail::log_state().max_level.load(std::memory_order_relaxed);
}

inline void log(LogLevel level, const std::string& message) {
  if (!log_enabled(level)) return;
  detail::LogState& s = detail::log_state();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  if (int(level) > s.max_level.load(std::memory_order_relaxed)) return;  // changed meanwhile
  if (s.sink != nullptr) {
    s.sink(s.user_data, level, message.c_str());
  } else {
    std::fprintf(stderr, "mote: %s\n", message.c_str());
  }
}

}  // namespace mote
