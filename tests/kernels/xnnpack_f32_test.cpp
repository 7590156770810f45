// The XNNPACK prefill path (platforms/cpu/kernels/xnnpack_f32.cpp) for F32, BF16 and F16
// weights: against the float64 product on odd shapes and strides, 1 and all threads; it must decline small batches (decode),
// other weight types and non-dense rows. Skipped where the build has no XNNPACK (e.g. the aarch64
// standalone kernel build) or MOTE_XNNPACK=0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels/xnnpack_f32.h"
#include "kernels/kernel_test_util.h"

namespace mote {
namespace {

TEST(XnnpackF32, MatchesTheExactProductOnOddShapesAndStrides) {
  if (!cpu::xnn_f32_available()) GTEST_SKIP() << "no XNNPACK in this build (or MOTE_XNNPACK=0)";
  struct Case { int64_t rows, cols, tokens, x_pad, y_pad; };
  // Rows not a multiple of 16 or of the 512 KiB slice; cols odd; padded strides.
  const Case cases[] = {{37, 70, cpu::kXnnMinTokens, 0, 0}, {300, 1000, 65, 3, 5}, {1100, 129, 100, 1, 0},
                        {96, 4100, 64, 0, 7}};
  for (int threads : {1, 0})
   for (WeightType type : {WeightType::F32, WeightType::BF16, WeightType::F16}) {
    kernels::set_num_threads(threads);
    for (Case c : cases) {
      if (type != WeightType::F32) c.tokens = std::max(c.tokens, cpu::kXnnMinTokensHalf);
      const test::Packed w = test::pack_random(type, c.rows, c.cols, 5);
      const int64_t xs = c.cols + c.x_pad, ys = c.rows + c.y_pad;
      const std::vector<float> x = test::random_acts(c.tokens * xs, 6);
      std::vector<float> y(size_t(c.tokens * ys), -7.0f);
      ASSERT_TRUE(cpu::xnn_matmul_f32(w.view, x.data(), xs, c.tokens, y.data(), ys));
      std::vector<double> exact, abs_sum, quant_err;
      // The oracle reads x with stride xs and writes [tokens, rows].
      test::exact_float_product(w.view, x.data(), xs, c.tokens, &exact, &abs_sum, &quant_err);
      for (int64_t t = 0; t < c.tokens; ++t) {
        for (int64_t r = 0; r < c.rows; ++r) {
          const size_t i = size_t(t * c.rows + r);
          const double tol = 1e-5 * abs_sum[i] + 1e-30;
          ASSERT_NEAR(y[size_t(t * ys + r)], exact[i], tol)
              << weight_type_name(type) << " " << c.rows << "x" << c.cols << " n=" << c.tokens << " t=" << t << " r=" << r << " threads=" << threads;
        }
        for (int64_t r = c.rows; r < ys; ++r) ASSERT_EQ(y[size_t(t * ys + r)], -7.0f) << "wrote past rows";
      }
    }
  }
  kernels::set_num_threads(0);
}

TEST(XnnpackF32, DeclinesDecodeOtherTypesAndStridedRows) {
  const test::Packed w = test::pack_random(WeightType::F32, 64, 64, 1);
  const std::vector<float> x = test::random_acts(64 * 200, 2);
  std::vector<float> y(64 * 200);
  // Decode-sized batches never reach XNNPACK (no packing, no allocation).
  const test::Packed h = test::pack_random(WeightType::BF16, 64, 64, 1);
  EXPECT_FALSE(cpu::xnn_matmul_f32(h.view, x.data(), 64, cpu::kXnnMinTokensHalf - 1, y.data(), 64));
  EXPECT_FALSE(cpu::xnn_matmul_f32(w.view, x.data(), 64, 1, y.data(), 64));
  EXPECT_FALSE(cpu::xnn_matmul_f32(w.view, x.data(), 64, cpu::kXnnMinTokens - 1, y.data(), 64));
  const test::Packed q = test::pack_random(WeightType::Q8_0, 64, 64, 1);
  EXPECT_FALSE(cpu::xnn_matmul_f32(q.view, x.data(), 64, 100, y.data(), 64));
  WeightView strided = w.view;  // rows 128 floats apart: not the dense [out, in] XNNPACK packs
  strided.rows = 32;
  strided.row_stride = 128 * sizeof(float);
  EXPECT_FALSE(cpu::xnn_matmul_f32(strided, x.data(), 64, 100, y.data(), 64));
}

}  // namespace
}  // namespace mote
