// Read-only memory map of a whole file. Owns the mapping; movable, not copyable.
// Thread-safe for concurrent reads once constructed.
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

 private:
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

}  // namespace mote
