// Positional file reads for the expert store: pread with O_DIRECT where the file system
// supports it (no page-cache copy), falling back to buffered pread when an O_DIRECT open or read
// fails with EINVAL. Handles short reads and EINTR; errors name the file and offset.
//
// Ownership: FileReader owns its descriptors; AlignedBuffer owns a posix_memalign block.
// Thread-safety: read_exact may be called concurrently (pread has no shared file position).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace mote {

inline constexpr uint64_t kDirectIoAlign = 4096;  // bytes: O_DIRECT offset/length/buffer alignment
inline uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

// A zero-initialised, kDirectIoAlign-aligned byte buffer. Movable, not copyable.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  // Errors: kOutOfMemory naming the size.
  static Result<AlignedBuffer> allocate(uint64_t bytes);
  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

class FileReader {
 public:
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Opens `path` read-only; with try_direct, also an O_DIRECT descriptor when supported.
  static Result<std::unique_ptr<FileReader>> open(const std::string& path, bool try_direct = true);

  // Reads exactly `size` bytes at `offset` into dst. O_DIRECT is used when offset and dst are
  // kDirectIoAlign-aligned and dst_capacity >= align_up(size) (the tail past `size`, up to the
  // aligned length, may be overwritten). Errors: kIoError ("<path>: read of N bytes at offset O:
  // <reason>"), including a short read at end of file.
  Status read_exact(uint64_t offset, uint64_t size, uint8_t* dst, uint64_t dst_capacity) const;

  // Asks the kernel to drop cached pages of [offset, offset+size) (after a buffered read).
  void drop_cache(uint64_t offset, uint64_t size) const;

  bool direct() const { return direct_fd_ >= 0 && direct_ok_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }

 private:
  FileReader() = default;
  // Reads bytes [got, size) of the range at `offset` into dst + got (errors name the whole range).
  Status read_buffered(uint64_t offset, uint64_t size, uint8_t* dst, uint64_t got = 0) const;
  std::string where(uint64_t offset, uint64_t size) const;

  std::string path_;
  int fd_ = -1;
  int direct_fd_ = -1;
  mutable std::atomic<bool> direct_ok_{true};  // cleared after an EINVAL from an O_DIRECT read
};

}  // namespace mote
