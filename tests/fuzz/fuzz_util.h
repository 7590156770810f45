// Helpers shared by the libFuzzer targets in this directory.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace mote::fuzz {

// A file that the fuzz input is written to, for APIs that only take a path (Model::open,
// SafetensorsFile::open). One per process, rewritten in place for each input, so a long run does
// not create millions of files; in /dev/shm when it exists so no input touches the disk. It is
// unlinked at once and opened through /proc/self/fd: a crashing input (the point of fuzzing)
// skips destructors, and a named file would be left behind by every crash.
class ScratchFile {
 public:
  explicit ScratchFile(const char* tag) {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    const std::string name = std::string(dir) + "/mote-fuzz-" + tag + "-" + std::to_string(getpid());
    fd_ = ::open(name.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd_ < 0) abort();
    ::unlink(name.c_str());
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~ScratchFile() { ::close(fd_); }
  // Replaces the file's contents with `data`.
  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, off_t(done));
      if (n <= 0) abort();
      done += size_t(n);
    }
    return path_;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Splits `in` at the first NUL byte: the part before goes to *head, the rest stays in `in`.
// Returns false (and leaves `in` empty in *head) when there is no NUL.
inline bool split_at_nul(std::string_view* in, std::string_view* head) {
  const size_t nul = in->find('\0');
  if (nul == std::string_view::npos) {
    *head = *in;
    *in = {};
    return false;
  }
  *head = in->substr(0, nul);
  *in = in->substr(nul + 1);
  return true;
}

}  // namespace mote::fuzz
