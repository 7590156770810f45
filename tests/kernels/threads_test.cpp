// Fast kernels on matrices large enough to be split across threads (over 512 KiB of weight bytes
// x tokens), including batches too large for one activation buffer (token chunks) and rows too
// long for it (column chunks): results must be bit-identical for 1 and several threads (each
// output element is computed by one thread in a fixed order) and match the exact oracle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace mote {
namespace {

struct Big {
  WeightType type;
  int64_t rows, cols, tokens;
};
// 600x1100 q8_0: 714 KiB; x64 tokens: 35 blocks x 64 > the 2048-block buffer (token chunks);
// 9x70000: one token is 2188 blocks (column chunks); 1000x1100 q4_0: 630 KiB.
const Big kBig[] = {{WeightType::Q8_0, 600, 1100, 1},  {WeightType::Q8_0, 600, 1100, 3},
                    {WeightType::Q8_0, 600, 1100, 64}, {WeightType::Q8_0, 9, 70000, 2},
                    {WeightType::Q4_0, 1000, 1100, 1}, {WeightType::Q4_0, 1000, 1100, 5},
                    {WeightType::Q4_0, 300, 1100, 70}, {WeightType::F32, 300, 1000, 2},
                    {WeightType::F16, 500, 1000, 1},   {WeightType::BF16, 500, 1000, 3},
                    {WeightType::Q2_1, 1500, 1100, 1}, {WeightType::Q2_1, 1500, 1100, 5},
                    {WeightType::Q2_1, 300, 1100, 70}, {WeightType::Q2_1, 9, 70000, 2},
                    {WeightType::MXFP4, 1500, 1100, 1}, {WeightType::MXFP4, 300, 1100, 70},
                    {WeightType::MXFP4, 9, 70000, 2}};

class ThreadCount : public ::testing::Test {
 protected:
  void TearDown() override { kernels::set_num_threads(0); }
};

TEST_F(ThreadCount, SetNumThreadsIsReported) {
  // Capped to the cores this process may use (1 without oneTBB).
  kernels::set_num_threads(0);
  const int all = kernels::num_threads();
  EXPECT_GE(all, 1);
  kernels::set_num_threads(1);
  EXPECT_EQ(kernels::num_threads(), 1);
  kernels::set_num_threads(all + 5);
  EXPECT_EQ(kernels::num_threads(), all);
  kernels::set_num_threads(2);
  EXPECT_EQ(kernels::num_threads(), std::min(all, 2));
}

TEST_F(ThreadCount, LargeMatmulIsIdenticalForOneAndManyThreadsAndExact) {
  uint32_t seed = 77;
  for (const kernels::KernelTable* k : test::fast_tables())
    for (const Big& b : kBig) {
      const test::Packed w = test::pack_random(b.type, b.rows, b.cols, seed++);
      const std::vector<float> x = test::random_acts(b.tokens * b.cols, seed++);
      std::vector<float> y1(size_t(b.tokens * b.rows)), y4(y1.size());
      kernels::set_num_threads(1);
      k->matmul[int(b.type)](w.view, x.data(), b.cols, b.tokens, y1.data(), b.rows);
      kernels::set_num_threads(4);
      k->matmul[int(b.type)](w.view, x.data(), b.cols, b.tokens, y4.data(), b.rows);
      const std::string what = test::shape_name(*k, b.type, b.rows, b.cols, b.tokens);
      ASSERT_EQ(y1, y4) << what;
      std::vector<double> want, abs_sum, qerr;
      const bool q = test::int8_activations(*k, b.type);
      if (q) test::exact_int8_product(w.view, x.data(), b.cols, b.tokens, &want, &abs_sum);
      else test::exact_float_product(w.view, x.data(), b.cols, b.tokens, &want, &abs_sum, &qerr);
      const double n = q ? double((b.cols + 31) / 32) : double(b.cols);
      for (size_t i = 0; i < y1.size(); ++i)
        ASSERT_NEAR(y1[i], want[i], (n + 16) * FLT_EPSILON * abs_sum[i] + 1e-30) << what << " i=" << i;
    }
}

TEST_F(ThreadCount, LargeTransposedMatmulIsIdenticalForOneAndManyThreads) {
  for (const kernels::KernelTable* k : test::fast_tables())
    for (WeightType type : {WeightType::F32, WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1, WeightType::MXFP4}) {
      // 1500 x 1000 q4_0: 844 KiB; matmul_t splits columns only for 8 tokens or more.
      const int64_t rows = 1500, cols = 1000, n = 9;
      const test::Packed w = test::pack_random(type, rows, cols, 9);
      const std::vector<float> x = test::random_acts(n * rows, 10);
      std::vector<float> y1(size_t(n * cols)), y4(y1.size()), yr(y1.size());
      kernels::set_num_threads(1);
      k->matmul_t[int(type)](w.view, x.data(), rows, n, y1.data(), cols);
      kernels::set_num_threads(4);
      k->matmul_t[int(type)](w.view, x.data(), rows, n, y4.data(), cols);
      ASSERT_EQ(y1, y4) << k->name << " " << weight_type_name(type);
      kernels::reference_kernels().matmul_t[int(type)](w.view, x.data(), rows, n, yr.data(), cols);
      for (size_t i = 0; i < yr.size(); ++i) ASSERT_NEAR(y1[i], yr[i], 1e-3 * (1 + std::fabs(yr[i]))) << k->name;
    }
}

}  // namespace
}  // namespace mote
