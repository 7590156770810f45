// Progress and notes on stderr. The progress line is rewritten in place with '\r' at most ten
// times a second: "[done/total tensors] X MB written, Y MB/s". Notes always print, on their own
// line. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mote::convert {

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), start_(std::chrono::steady_clock::now()) {}

  void set_total(uint64_t tensors) { total_ = tensors; }
  // Called after each chunk; prints when 100 ms have passed since the last print (or `force`).
  void update(uint64_t tensors_done, uint64_t bytes_written, bool force = false);
  // Ends the progress line (if any) so later output starts on a new line.
  void end_line();
  // A one-line note ("note: ..."), kept until print_notes() so that a failed conversion prints
  // only its one error line; printed even when quiet.
  void note(const std::string& message);
  void print_notes();
  double seconds() const;

 private:
  bool quiet_;
  bool line_open_ = false;
  uint64_t total_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
  std::vector<std::string> notes_;
};

}  // namespace mote::convert
