// DataLoader: the seam between where a model's bytes live and the runtime that reads them.
// The format reader (format/mote_file.h) verifies and views the bytes through
// one; the expert store (experts/expert_store.h) reads routed experts into its cache slots through
// one. Platform file I/O (platforms/cpu: MappedFile, FileReader) is used only by the file loaders
// below, so a new source (an app's asset, an encrypted store) is one more implementation.
//
// Implementations (factories at the end of this file):
//   open_mapped_file  the whole file mapped read-only (cpu/mapped_file.h, SIGBUS-guarded);
//                     view() covers the file, read_at() copies from the mapping.
//   open_pread_file   positional reads (cpu/file_reader.h), O_DIRECT when the file system takes
//                     it; view() is always nullptr.
//   open_memory       a caller's buffer; view() points into it, read_at() copies from it.
//
// Ownership: a loader owns its descriptors and mapping (or, for memory, optionally a copy of the
// bytes). Pointers from view() stay valid for the loader's lifetime. A memory loader made without
// a copy borrows the caller's buffer, which must stay valid and unchanged while the loader lives.
// Thread-safety: every method is const and safe to call from any number of threads at once
// (read_at uses no shared file position).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"

namespace mote {

enum class LoaderKind { kMappedFile, kPread, kMemory };

class DataLoader {
 public:
  virtual ~DataLoader() = default;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  virtual LoaderKind kind() const = 0;
  // What error messages call the source: the file's path, or "memory buffer".
  const std::string& name() const { return name_; }
  // Bytes in the source (fixed at open).
  uint64_t size() const { return size_; }

  // Copies exactly `len` bytes at `offset` into dst. dst_capacity (>= len, or 0 meaning len) is
  // how many bytes dst holds: a direct-I/O loader may overwrite dst[len, dst_capacity) when that
  // lets it read whole aligned blocks (cpu/file_reader.h). Errors: kOutOfRange when the range is
  // not inside [0, size()) (naming the loader, offset and length); kIoError from the storage
  // (including a file that shrank since open). len == 0 reads nothing and succeeds in range.
  virtual Status read_at(uint64_t offset, void* dst, uint64_t len, uint64_t dst_capacity = 0) const = 0;

  // A pointer to [offset, offset + len), valid for this loader's lifetime, when the loader holds
  // the bytes in its address space (mapping, memory); nullptr otherwise or when out of range.
  virtual const uint8_t* view(uint64_t offset, uint64_t len) const {
    (void)offset;
    (void)len;
    return nullptr;
  }

  // Whether read_at bypasses the page cache (O_DIRECT). False for mapped and memory loaders.
  virtual bool direct_io() const { return false; }

  // Hint that [offset, offset + len) is not needed for a while: a file loader drops its pages
  // from this process's RSS and the page cache (best effort, errors ignored). Bytes stay readable.
  virtual void release_pages(uint64_t offset, uint64_t len) const {
    (void)offset;
    (void)len;
  }

  // An error once data read through view() may be garbage because the storage failed under it
  // (a mapped file truncated while in use: the SIGBUS guard maps zeros, cpu/mapped_file.h).
  // Sticky. Always OK for pread and memory loaders (their reads report errors directly).
  virtual Status check() const { return Status::ok(); }

  // A loader for bulk reads that must not go through this one's view: the expert store's misses
  // under a budget (reading through a mapping would leave the pages in RSS and the page cache).
  // File loaders open a pread loader on the same path (O_DIRECT with direct_io); a memory loader
  // returns a borrowing memory loader over the same bytes (reads copy from the buffer, no file).
  // The result must not outlive this loader.
  virtual Result<std::unique_ptr<DataLoader>> reader(bool direct_io) const = 0;

 protected:
  DataLoader(std::string name, uint64_t size) : name_(std::move(name)), size_(size) {}
  // OK when [offset, offset + len) lies inside [0, size()) (overflow-safe), else kOutOfRange.
  Status check_range(uint64_t offset, uint64_t len) const;

 private:
  std::string name_;
  uint64_t size_;
};

// The alignment open_memory asks of a borrowed buffer: what malloc and operator new give, and more
// than any weight type needs (f32 tensors are 4-byte aligned inside 4096-aligned segments).
inline constexpr uint64_t kMemoryLoaderAlign = 16;

// Maps `path` read-only. Errors: kNotFound (no such file), kIoError (open, not a regular file, mmap).
Result<std::unique_ptr<DataLoader>> open_mapped_file(const std::string& path);
// Positional reads of `path`; with direct_io, O_DIRECT where supported (else buffered, and
// buffered for good after the first EINVAL). Errors: kNotFound, kIoError.
Result<std::unique_ptr<DataLoader>> open_pread_file(const std::string& path, bool direct_io = true);
// The `size` bytes at `data`. copy == false: borrows them (no copy); they must stay valid and
// unchanged until the loader and everything made from it (reader(), a MoteFile, a Model) are
// destroyed, and `data` must be kMemoryLoaderAlign-aligned. copy == true: the loader copies them
// into an aligned buffer it owns (any alignment; the caller may free its buffer at once).
// Errors: kInvalidArgument (NULL data with size > 0, misaligned borrowed data), kOutOfMemory.
Result<std::unique_ptr<DataLoader>> open_memory(const void* data, uint64_t size, bool copy = false,
                                                std::string name = "memory buffer");

}  // namespace mote
