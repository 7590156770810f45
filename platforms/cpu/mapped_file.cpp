#include "cpu/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

namespace mote {
namespace {

// One guarded mapping: [begin, end) in this process's address space. end == 0: free.
struct GuardSlot {
  std::atomic<bool> used{false};
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> faulted{false};
};

GuardSlot g_slots[MappedFile::kMaxGuarded];
struct sigaction g_previous {};
uintptr_t g_page_size = 4096;
std::once_flag g_install_once;

// Async-signal-safe: atomics, mmap and sigaction only. A fault inside a guarded mapping gets zero
// pages from the faulting page to the mapping's end (the kernel retries the access, which now
// succeeds) and marks the slot; any other fault goes to the previous handler, or, with none,
// restores the default action so the retried access kills the process as it would have.
void on_sigbus(int sig, siginfo_t* info, void* context) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (GuardSlot& slot : g_slots) {
    const uintptr_t end = slot.end.load(std::memory_order_acquire);
    if (end == 0 || addr < slot.begin.load(std::memory_order_acquire) || addr >= end) continue;
    const uintptr_t page = addr & ~(g_page_size - 1);
    void* p = mmap(reinterpret_cast<void*>(page), end - page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p != MAP_FAILED) {
      slot.faulted.store(true, std::memory_order_release);
      return;
    }
    break;
  }
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
  } else {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &dfl, nullptr);
  }
}

void install_handler() {
  g_page_size = uintptr_t(sysconf(_SC_PAGESIZE));
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &g_previous);
}

// Registers [data, data + size); -1 when every slot is taken (the mapping stays unguarded).
int guard(const uint8_t* data, uint64_t size) {
  std::call_once(g_install_once, install_handler);
  for (int i = 0; i < MappedFile::kMaxGuarded; ++i) {
    bool expected = false;
    if (!g_slots[i].used.compare_exchange_strong(expected, true)) continue;
    g_slots[i].faulted.store(false);
    g_slots[i].begin.store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
    g_slots[i].end.store(reinterpret_cast<uintptr_t>(data) + size, std::memory_order_release);
    return i;
  }
  return -1;
}

void unguard(int slot) {
  if (slot < 0) return;
  g_slots[slot].end.store(0, std::memory_order_release);
  g_slots[slot].used.store(false, std::memory_order_release);
}

}  // namespace

void MappedFile::unmap() {
  unguard(std::exchange(guard_slot_, -1));
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
}

MappedFile::~MappedFile() { unmap(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)),
      guard_slot_(std::exchange(other.guard_slot_, -1)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
    guard_slot_ = std::exchange(other.guard_slot_, -1);
  }
  return *this;
}

bool MappedFile::faulted() const {
  return guard_slot_ >= 0 && g_slots[guard_slot_].faulted.load(std::memory_order_acquire);
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return not_found(path + ": no such file");
    return io_error(path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(path + ": not a regular file");
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = uint64_t(st.st_size);
  if (file.size_ > 0) {
    void* p = mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return io_error(path + ": mmap failed: " + std::strerror(err));
    }
    file.data_ = static_cast<uint8_t*>(p);
    file.guard_slot_ = guard(file.data_, file.size_);
  }
  ::close(fd);
  return file;
}

void MappedFile::release_pages(uint64_t offset, uint64_t size) const {
  if (data_ == nullptr || offset >= size_) return;
  const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page;
  const uint64_t end = std::min(size_, offset + size);
  madvise(data_ + begin, size_t(end - begin), MADV_DONTNEED);
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    posix_fadvise(fd, off_t(begin), off_t(end - begin), POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

}  // namespace mote
