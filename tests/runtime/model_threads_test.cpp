// Per-model kernel thread pools (kernels::ThreadPool + ThreadPoolScope, what the C API gives each
// model for mote_model_params.n_threads): the size a kernel sees on the calling thread and on the
// pool's workers, nesting, and two models generating concurrently on pools of different sizes
// with the same greedy output as alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cpu/kernels/threads.h"
#include "kernels/kernels.h"
#include "runtime/tiny_model.h"
#include "session/session.h"

namespace mote {
namespace {

int cores() {
  kernels::ThreadPool all(0);
  return all.size();
}

// What the ranges of one parallel_ranges call saw: the thread count each range reported and the
// threads that ran them.
struct Observed {
  std::mutex mutex;
  std::set<int> counts;
  std::set<std::thread::id> threads;
};

void observe(void* ctx, int64_t, int64_t) {
  auto* o = static_cast<Observed*>(ctx);
  std::lock_guard<std::mutex> lock(o->mutex);
  o->counts.insert(cpu::kernel_thread_count());
  o->threads.insert(std::this_thread::get_id());
  // Long enough that the ranges spread over the pool's threads.
  std::this_thread::sleep_for(std::chrono::microseconds(200));
}

TEST(ModelThreads, PoolSizeIsCappedAndZeroMeansAllCores) {
  EXPECT_EQ(kernels::ThreadPool(1).size(), 1);
  EXPECT_EQ(kernels::ThreadPool(2).size(), std::min(2, cores()));
  EXPECT_EQ(kernels::ThreadPool(cores() + 7).size(), cores());
  EXPECT_GE(cores(), 1);
}

TEST(ModelThreads, ScopeSelectsThePoolOnThisThreadAndItsWorkers) {
  kernels::set_num_threads(0);
  const int global = kernels::num_threads();
  kernels::ThreadPool one(1), two(2);
  {
    const kernels::ThreadPoolScope scope(&two);
    EXPECT_EQ(kernels::num_threads(), two.size());
    Observed o;
    cpu::parallel_ranges(64, 1, observe, &o);
    // Ranges run on the pool's own workers report the pool too (nested calls stay on it).
    EXPECT_EQ(o.counts, std::set<int>{two.size()});
    EXPECT_LE(int(o.threads.size()), two.size());
    {
      const kernels::ThreadPoolScope inner(&one);
      EXPECT_EQ(kernels::num_threads(), 1);
      Observed o1;
      cpu::parallel_ranges(64, 1, observe, &o1);
      EXPECT_EQ(o1.threads, std::set<std::thread::id>{std::this_thread::get_id()});
      {
        const kernels::ThreadPoolScope process_wide(nullptr);
        EXPECT_EQ(kernels::num_threads(), global);
      }
      EXPECT_EQ(kernels::num_threads(), 1);
    }
    EXPECT_EQ(kernels::num_threads(), two.size());
  }
  EXPECT_EQ(kernels::num_threads(), global);
}

TEST(ModelThreads, ConcurrentThreadsSeeTheirOwnPools) {
  kernels::ThreadPool one(1), two(2);
  std::atomic<int> wrong{0};
  auto worker = [&](const kernels::ThreadPool* pool) {
    const kernels::ThreadPoolScope scope(pool);
    for (int i = 0; i < 50; ++i) {
      Observed o;
      cpu::parallel_ranges(16, 1, observe, &o);
      if (o.counts != std::set<int>{pool->size()} || kernels::num_threads() != pool->size()) ++wrong;
    }
  };
  std::thread a(worker, &one), b(worker, &two);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Large enough matrices that the kernels split them over the pool's threads (dense FFN
// 96 x 2048 F32 = 768 KiB per matrix).
test::TinyConfig wide_config() {
  test::TinyConfig c;
  c.hidden = 96;
  c.intermediate = 2048;
  c.moe_intermediate = 256;
  return c;
}

std::vector<int32_t> greedy(const Model& model, const kernels::ThreadPool* pool) {
  const kernels::ThreadPoolScope scope(pool);
  auto s = Session::create(model, {64, 16});
  EXPECT_TRUE(s) << s.status().to_string();
  if (!s) return {};
  const std::vector<int32_t> prompt = {0, 12, 30, 7, 3, 9, 21, 5, 17, 2};
  std::vector<int32_t> out(12);
  auto n = (*s)->generate_greedy(prompt, out);
  EXPECT_TRUE(n) << n.status().to_string();
  return out;
}

TEST(ModelThreads, TwoModelsOnDifferentPoolsGenerateConcurrentlyAsAlone) {
  const std::string path = test::tiny_path("model_threads.mote");
  test::write_tiny_model(path, wide_config());
  auto m1 = Model::open(path), m2 = Model::open(path);
  ASSERT_TRUE(m1 && m2);
  kernels::ThreadPool one(1), two(2);
  const std::vector<int32_t> alone1 = greedy(**m1, &one), alone2 = greedy(**m2, &two);
  ASSERT_EQ(alone1, alone2);  // the thread count never changes results
  for (int round = 0; round < 3; ++round) {
    std::vector<int32_t> got1, got2;
    std::thread a([&] { got1 = greedy(**m1, &one); }), b([&] { got2 = greedy(**m2, &two); });
    a.join();
    b.join();
    EXPECT_EQ(got1, alone1) << "round " << round;
    EXPECT_EQ(got2, alone2) << "round " << round;
  }
}

}  // namespace
}  // namespace mote
