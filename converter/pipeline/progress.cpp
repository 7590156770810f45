#include "pipeline/progress.h"

#include <cstdio>

namespace mote::convert {

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(uint64_t tensors_done, uint64_t bytes_written, bool force) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && line_open_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double mb = double(bytes_written) / 1e6;
  const double secs = seconds();
  std::fprintf(stderr, "\r[%llu/%llu tensors] %.1f MB written, %.1f MB/s   ",
               (unsigned long long)tensors_done, (unsigned long long)total_, mb,
               secs > 0 ? mb / secs : 0.0);
  std::fflush(stderr);
  line_open_ = true;
}

void Progress::end_line() {
  if (line_open_) std::fputc('\n', stderr);
  line_open_ = false;
}

void Progress::note(const std::string& message) { notes_.push_back(message); }

void Progress::print_notes() {
  end_line();
  for (const std::string& n : notes_) std::fprintf(stderr, "mote-convert: note: %s\n", n.c_str());
  notes_.clear();
}

}  // namespace mote::convert
