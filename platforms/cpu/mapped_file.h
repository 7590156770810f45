// Read-only memory map of a whole file. Owns the mapping; movable, not copyable.
// Thread-safe for concurrent reads once constructed.
//
// Truncation guard: a file truncated (or failing with EIO) under a live mapping makes any read of
// the lost pages raise SIGBUS. Every mapping is registered with a process-wide SIGBUS handler
// (installed on the first open, chaining to the previous handler for faults elsewhere). On a fault
// inside a registered mapping the handler maps zero pages over the rest of it, marks it faulted
// and returns, so the faulting read (in any thread) sees zeros instead of killing the process.
// Callers check faulted() after using the mapping and turn it into an error (the data read since
// the fault is garbage). Costs nothing on the read path; zero-copy stays. At most kMaxGuarded
// mappings are guarded at once; further ones are unguarded (as before).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace mote {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path`; an empty file maps to size 0 with data() == nullptr.
  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Gives the pages of [offset, offset + size) back (MADV_DONTNEED, and POSIX_FADV_DONTNEED on
  // the file): they stop counting in this process's RSS and the page cache until touched again.
  // Best effort (errors are ignored); the contents stay readable.
  void release_pages(uint64_t offset, uint64_t size) const;

  // True once a read of this mapping faulted (the file shrank or failed under it); sticky.
  bool faulted() const;

  static constexpr int kMaxGuarded = 256;

 private:
  void unmap();

  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
  int guard_slot_ = -1;  // index in the SIGBUS handler's registry, -1 when unguarded
};

}  // namespace mote
