// The kernels' thread pool: contiguous ranges of rows (or columns) run on a oneTBB task_arena
// whose size kernels::set_num_threads sets (default: every core this process may use). Builds
// without oneTBB (MOTE_HAVE_TBB undefined, e.g. the aarch64 kernel-test build) run serially.
#pragma once

#include <cstdint>

namespace mote::cpu {

// fn(ctx, begin, end) over [0, n) split into contiguous ranges whose bounds are multiples of
// `align` (except n itself); returns when all ranges are done. Runs inline (one range) when only
// one thread is configured or n <= align. The ranges must write disjoint outputs. Runs on the
// calling thread's current kernels::ThreadPool (ThreadPoolScope) when one is set, else on the
// process-wide arena; nested calls from the ranges stay on the same pool. Thread-safe:
// concurrent callers share the arena. Allocates nothing itself; oneTBB takes its task objects
// from its own per-thread pools (and creates the default arena once, at the first parallel call).
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
void parallel_ranges(int64_t n, int64_t align, RangeFn fn, void* ctx);

// Threads a parallel_ranges call from this thread may use (>= 1): its pool's size, or the
// process-wide arena's.
int kernel_thread_count();

}  // namespace mote::cpu
