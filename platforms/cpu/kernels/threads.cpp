#include "cpu/kernels/threads.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "kernels/kernels.h"

#if defined(MOTE_HAVE_TBB)
#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#endif

namespace mote::cpu {
namespace {
// The pool the calling thread's kernels run on (kernels::ThreadPoolScope); nullptr: the
// process-wide arena. Thread-local, so models with different pools run side by side.
thread_local const kernels::ThreadPool* t_pool = nullptr;
}  // namespace
}  // namespace mote::cpu

namespace mote::kernels {
ThreadPoolScope::ThreadPoolScope(const ThreadPool* pool) : previous_(cpu::t_pool) { cpu::t_pool = pool; }
ThreadPoolScope::~ThreadPoolScope() { cpu::t_pool = previous_; }
}  // namespace mote::kernels

#if defined(MOTE_HAVE_TBB)
namespace mote::cpu {
namespace {

// The arena kernels run on. Replaced only by set_num_threads, which the header forbids while
// kernels run, so readers need no lock; the mutex orders concurrent set_num_threads calls.
std::mutex g_mutex;
std::unique_ptr<tbb::task_arena> g_arena;
std::atomic<int> g_threads{0};  // 0: not configured yet (default arena on first use)

int configured_threads() {
  int n = g_threads.load(std::memory_order_acquire);
  if (n == 0) {
    kernels::set_num_threads(0);
    n = g_threads.load(std::memory_order_acquire);
  }
  return n;
}

struct RangeTask {
  RangeFn fn;
  void* ctx;
  int64_t n, chunk;
  const kernels::ThreadPool* pool;  // the caller's, carried to the workers for nested calls
  void operator()(const tbb::blocked_range<int64_t>& r) const {
    const kernels::ThreadPool* saved = t_pool;
    t_pool = pool;
    for (int64_t i = r.begin(); i < r.end(); ++i) fn(ctx, i * chunk, std::min(n, (i + 1) * chunk));
    t_pool = saved;
  }
};

}  // namespace

int kernel_thread_count() { return t_pool != nullptr ? t_pool->size() : configured_threads(); }

void parallel_ranges(int64_t n, int64_t align, RangeFn fn, void* ctx) {
  const kernels::ThreadPool* pool = t_pool;
  const int threads = kernel_thread_count();
  if (threads <= 1 || n <= align) {
    fn(ctx, 0, n);
    return;
  }
  // About 4 ranges per thread: balance when another process holds a core, few enough that the
  // per-range cost (and, for quantised batches, re-quantising activations) stays small.
  const int64_t units = (n + align - 1) / align;
  const int64_t ranges = std::min<int64_t>(units, int64_t(threads) * 4);
  const int64_t chunk = (units + ranges - 1) / ranges * align;
  const int64_t count = (n + chunk - 1) / chunk;
  const RangeTask task{fn, ctx, n, chunk, pool};
  tbb::task_arena& arena = pool != nullptr ? *static_cast<tbb::task_arena*>(pool->arena()) : *g_arena;
  arena.execute([&] { tbb::parallel_for(tbb::blocked_range<int64_t>(0, count, 1), task, tbb::simple_partitioner()); });
}

}  // namespace mote::cpu

namespace mote::kernels {

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(cpu::g_mutex);
  // More threads than cores only adds contention (and oneTBB would refuse the extra workers).
  const int cores = std::max(tbb::info::default_concurrency(), 1);
  n = n <= 0 ? cores : std::min(n, cores);
  if (cpu::g_arena && cpu::g_threads.load() == n) return;
  auto arena = std::make_unique<tbb::task_arena>(n);
  arena->initialize();
  cpu::g_arena = std::move(arena);
  cpu::g_threads.store(n, std::memory_order_release);
}

int num_threads() { return cpu::kernel_thread_count(); }

ThreadPool::ThreadPool(int n) {
  const int cores = std::max(tbb::info::default_concurrency(), 1);
  size_ = n <= 0 ? cores : std::min(n, cores);
  auto arena = std::make_unique<tbb::task_arena>(size_);
  arena->initialize();  // now, so the first kernel call pays nothing and a failure throws here
  arena_ = arena.release();
}

ThreadPool::~ThreadPool() { delete static_cast<tbb::task_arena*>(arena_); }

}  // namespace mote::kernels

#else  // no oneTBB: everything runs on the calling thread

namespace mote::cpu {
int kernel_thread_count() { return 1; }
void parallel_ranges(int64_t n, int64_t align, RangeFn fn, void* ctx) { fn(ctx, 0, n); }
}  // namespace mote::cpu

namespace mote::kernels {
void set_num_threads(int) {}
int num_threads() { return 1; }
ThreadPool::ThreadPool(int) {}
ThreadPool::~ThreadPool() = default;
}  // namespace mote::kernels

#endif
