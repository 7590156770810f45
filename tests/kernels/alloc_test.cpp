// The fast kernels allocate nothing per call (quantised activations and decode buffers live on
// the stack), single- and multi-threaded, for every type, batch size and chunking path. The
// kernel threads' arena is created before counting (set_num_threads), as a session would at
// start-up. This binary replaces the global operator new (common/alloc_counter.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/alloc_counter.h"
#include "kernels/kernel_test_util.h"

namespace mote {
namespace {

TEST(FastKernelsAllocation, NoHeapAllocationInsideKernelCalls) {
  struct Case { WeightType type; int64_t rows, cols, tokens; };
  // Small (inline), large (threaded), a batch over the activation buffer (token chunks) and a
  // row over it (column chunks), and a batched transposed product (threaded columns).
  const Case cases[] = {{WeightType::Q8_0, 7, 70, 3},    {WeightType::Q4_0, 600, 1100, 1},
                        {WeightType::Q8_0, 300, 1100, 64}, {WeightType::Q4_0, 5, 70000, 2},
                        {WeightType::F16, 500, 1000, 2},   {WeightType::BF16, 9, 33, 1},
                        {WeightType::F32, 300, 1000, 9},   {WeightType::Q2_1, 600, 1100, 1},
                        {WeightType::Q2_1, 300, 1100, 64}, {WeightType::Q2_1, 5, 70000, 2},
                        {WeightType::MXFP4, 600, 1100, 1}, {WeightType::MXFP4, 5, 70000, 2}};
  for (int threads : {1, 0}) {
    kernels::set_num_threads(threads);
    for (const kernels::KernelTable* k : test::fast_tables())
      for (const Case& c : cases) {
        const test::Packed w = test::pack_random(c.type, c.rows, c.cols, 3);
        const std::vector<float> x = test::random_acts(c.tokens * std::max(c.rows, c.cols), 4);
        std::vector<float> y(static_cast<size_t>(c.tokens * std::max(c.rows, c.cols)));
        // Warm-up outside the count (oneTBB may set up per-thread state on first use).
        k->matmul[int(c.type)](w.view, x.data(), c.cols, c.tokens, y.data(), c.rows);
        k->matmul_t[int(c.type)](w.view, x.data(), c.rows, c.tokens, y.data(), c.cols);
        int64_t count = 0;
        {
          test::CountAllocations counter;
          k->matmul[int(c.type)](w.view, x.data(), c.cols, c.tokens, y.data(), c.rows);
          k->matmul_t[int(c.type)](w.view, x.data(), c.rows, c.tokens, y.data(), c.cols);
          (void)k->dot(x.data(), x.data(), c.cols);
          k->axpy(0.5f, x.data(), y.data(), c.cols);
          count = counter.count();
        }
        EXPECT_EQ(count, 0) << test::shape_name(*k, c.type, c.rows, c.cols, c.tokens) << " threads=" << threads;
      }
  }
  kernels::set_num_threads(0);
}

}  // namespace
}  // namespace mote
