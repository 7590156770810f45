#include "cpu/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace mote {

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Result<AlignedBuffer> AlignedBuffer::allocate(uint64_t bytes) {
  AlignedBuffer b;
  void* p = nullptr;
  const uint64_t n = align_up(bytes == 0 ? 1 : bytes, kDirectIoAlign);
  if (posix_memalign(&p, kDirectIoAlign, size_t(n)) != 0 || p == nullptr)
    return Status(StatusCode::kOutOfMemory, "cannot allocate " + std::to_string(n) + " aligned bytes");
  std::memset(p, 0, size_t(n));
  b.data_ = static_cast<uint8_t*>(p);
  b.size_ = n;
  return b;
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

Result<std::unique_ptr<FileReader>> FileReader::open(const std::string& path, bool try_direct) {
  std::unique_ptr<FileReader> r(new FileReader());
  r->path_ = path;
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) return io_error(path + ": cannot open: " + std::strerror(errno));
#ifdef O_DIRECT
  if (try_direct) r->direct_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);  // EINVAL: unsupported
#else
  (void)try_direct;
#endif
  return r;
}

std::string FileReader::where(uint64_t offset, uint64_t size) const {
  return path_ + ": read of " + std::to_string(size) + " bytes at offset " + std::to_string(offset);
}

Status FileReader::read_buffered(uint64_t offset, uint64_t size, uint8_t* dst, uint64_t got) const {
  while (got < size) {
    const ssize_t n = ::pread(fd_, dst + got, size_t(size - got), off_t(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(where(offset, size) + ": " + std::strerror(errno));
    }
    if (n == 0)
      return io_error(where(offset, size) + ": unexpected end of file after " + std::to_string(got) + " bytes");
    got += uint64_t(n);
  }
  return Status::ok();
}

Status FileReader::read_exact(uint64_t offset, uint64_t size, uint8_t* dst, uint64_t dst_capacity) const {
  const uint64_t aligned = align_up(size, kDirectIoAlign);
  const bool can_direct = direct() && offset % kDirectIoAlign == 0 &&
                          reinterpret_cast<uintptr_t>(dst) % kDirectIoAlign == 0 && dst_capacity >= aligned;
  if (!can_direct) return read_buffered(offset, size, dst);
  uint64_t got = 0;
  while (got < size) {
    const ssize_t n = ::pread(direct_fd_, dst + got, size_t(aligned - got), off_t(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL) {  // the file system refuses O_DIRECT here: buffered from now on
        direct_ok_.store(false, std::memory_order_relaxed);
        return read_buffered(offset, size, dst);
      }
      return io_error(where(offset, size) + ": " + std::strerror(errno));
    }
    if (n == 0)
      return io_error(where(offset, size) + ": unexpected end of file after " + std::to_string(got) + " bytes");
    got += uint64_t(n);
    // A short O_DIRECT read leaves an unaligned remainder: finish it buffered.
    if (got < size && got % kDirectIoAlign != 0) return read_buffered(offset, size, dst, got);
  }
  return Status::ok();
}

void FileReader::drop_cache(uint64_t offset, uint64_t size) const {
#ifdef POSIX_FADV_DONTNEED
  ::posix_fadvise(fd_, off_t(offset), off_t(size), POSIX_FADV_DONTNEED);
#else
  (void)offset;
  (void)size;
#endif
}

}  // namespace mote
