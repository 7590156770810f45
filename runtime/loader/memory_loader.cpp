// MemoryLoader (loader/data_loader.h): a model's bytes in memory, borrowed from the caller or
// copied into a buffer the loader owns. Immutable after construction; safe to share between threads.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "loader/data_loader.h"

namespace mote {
namespace {

class MemoryLoader final : public DataLoader {
 public:
  // Borrows [data, data + size); `owned` (may be null) is freed with std::free on destruction.
  MemoryLoader(const uint8_t* data, uint64_t size, std::string name, void* owned)
      : DataLoader(std::move(name), size), data_(data), owned_(owned) {}
  ~MemoryLoader() override { std::free(owned_); }
  LoaderKind kind() const override { return LoaderKind::kMemory; }
  Status read_at(uint64_t offset, void* dst, uint64_t len, uint64_t) const override {
    MOTE_RETURN_IF_ERROR(check_range(offset, len));
    if (len > 0) std::memcpy(dst, data_ + offset, size_t(len));
    return Status::ok();
  }
  const uint8_t* view(uint64_t offset, uint64_t len) const override {
    if (data_ == nullptr || !check_range(offset, len)) return nullptr;
    return data_ + offset;
  }
  // The same bytes, borrowed (no copy, no file): valid while this loader lives.
  Result<std::unique_ptr<DataLoader>> reader(bool) const override {
    return std::unique_ptr<DataLoader>(new MemoryLoader(data_, size(), name(), nullptr));
  }

 private:
  const uint8_t* data_;
  void* owned_;
};

}  // namespace

Result<std::unique_ptr<DataLoader>> open_memory(const void* data, uint64_t size, bool copy, std::string name) {
  if (data == nullptr && size > 0) return invalid_argument(name + ": data is NULL but size is " + std::to_string(size));
  if (!copy && reinterpret_cast<uintptr_t>(data) % kMemoryLoaderAlign != 0)
    return invalid_argument(name + ": data address is not " + std::to_string(kMemoryLoaderAlign) +
                            "-byte aligned (use malloc'd or page-aligned memory)");
  if (!copy || size == 0)
    return std::unique_ptr<DataLoader>(
        new MemoryLoader(static_cast<const uint8_t*>(data), size, std::move(name), nullptr));
  void* owned = nullptr;
  const uint64_t page = 4096;
  if (size > uint64_t(SIZE_MAX) - page || posix_memalign(&owned, page, size_t((size + page - 1) / page * page)) != 0)
    return Status(StatusCode::kOutOfMemory, name + ": cannot allocate a copy of " + std::to_string(size) + " bytes");
  std::memcpy(owned, data, size_t(size));
  return std::unique_ptr<DataLoader>(
      new MemoryLoader(static_cast<const uint8_t*>(owned), size, std::move(name), owned));
}

}  // namespace mote
