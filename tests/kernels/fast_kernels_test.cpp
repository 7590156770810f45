// Every fast kernel table this CPU can run (avx2, avx512, neon) against exact oracles, on odd
// shapes (rows and columns not multiples of the 32-block or of any unroll), every weight type,
// 1..7 tokens, strided inputs and outputs.
//
// Tolerances. Q8_0/Q4_0/Q2_1 kernels quantise activations to int8 per 32-block; every ISA's quantiser
// is checked to be bit-identical to quantize_acts_ref, so the test rebuilds the exact product of
// the int8 codes in float64 and allows only float32 rounding: (blocks + 16) * eps * sum|terms|
// (one rounding of d_w * d_a per block plus the float32 accumulation). Against the float
// activations the int8 rounding can move a result by at most sum_c |W[r, c]| * d_a / 2 (d_a =
// block amax / 127): that bound, plus float rounding, is checked too. F32/F16/BF16 kernels use
// float activations: (cols + 16) * eps * sum|terms|.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

using test::exact_float_product;
using test::exact_int8_product;
using test::fast_tables;
using test::pack_random;
using test::random_acts;
using test::shape_name;

const WeightType kTypes[] = {WeightType::F32,  WeightType::F16,  WeightType::BF16,
                             WeightType::Q8_0, WeightType::Q4_0, WeightType::MXFP4,
                             WeightType::Q2_1};
const int64_t kRows[] = {1, 3, 17, 40};
const int64_t kCols[] = {1, 31, 32, 33, 95, 150, 170, 200, 257, 1000};
const int64_t kTokens[] = {1, 2, 3, 7};


// Runs table k on w with strided x and y and checks the result (and that y's padding is untouched).
void check_matmul(const kernels::KernelTable& k, const WeightView& w, int64_t n, uint32_t seed) {
  const int64_t xs = w.cols + 5, ys = w.rows + 3;
  const std::vector<float> x = random_acts(n * xs, seed);
  std::vector<float> y(size_t(n * ys), -7.0f);
  k.matmul[int(w.type)](w, x.data(), xs, n, y.data(), ys);
  std::vector<double> want, abs_sum, qerr, want8, abs8;
  exact_float_product(w, x.data(), xs, n, &want, &abs_sum, &qerr);
  const bool quantised = test::int8_activations(k, w.type);
  if (quantised) exact_int8_product(w, x.data(), xs, n, &want8, &abs8);
  const int64_t nb = (w.cols + 31) / 32;
  const std::string what = shape_name(k, w.type, w.rows, w.cols, n);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < ys; ++r) {
      const double got = y[size_t(t * ys + r)];
      if (r >= w.rows) {
        ASSERT_EQ(got, -7.0f) << what << ": wrote past rows";
        continue;
      }
      const size_t i = size_t(t * w.rows + r);
      if (quantised) {
        ASSERT_NEAR(got, want8[i], double(nb + 16) * FLT_EPSILON * abs8[i] + 1e-30) << what << " t=" << t << " r=" << r;
        ASSERT_NEAR(got, want[i], qerr[i] * 1.0001 + double(w.cols + 16) * FLT_EPSILON * (abs_sum[i] + abs8[i]) + 1e-30)
            << what << " (vs float activations) t=" << t << " r=" << r;
      } else {
        ASSERT_NEAR(got, want[i], double(w.cols + 16) * FLT_EPSILON * abs_sum[i] + 1e-30) << what << " t=" << t << " r=" << r;
      }
    }
  }
}

// MOTE_TEST_EXPECT_NO_FAST_TABLE=1 (scripts/test-arm.sh on a CPU without dotprod) inverts the check.
TEST(FastKernels, ThisCpuHasAFastTable) {
  for (const auto* k : fast_tables()) std::printf("fast table: %s\n", k->name);
  const char* expect_none = std::getenv("MOTE_TEST_EXPECT_NO_FAST_TABLE");
  if (expect_none && std::string(expect_none) == "1") {
    EXPECT_TRUE(fast_tables().empty());
    return;
  }
#if defined(__x86_64__) || defined(__aarch64__)
  EXPECT_FALSE(fast_tables().empty()) << "no SIMD table for this CPU: every fast test below is vacuous";
#endif
}

TEST(FastKernels, QuantisedActivationsAreBitIdenticalToTheScalarQuantiser) {
  for (const cpu::IsaOps* ops : test::fast_isas()) {
    for (int64_t n : {1, 7, 31, 32, 33, 64, 65, 100, 257, 1024}) {
      const std::vector<float> x = random_acts(n, uint32_t(n));
      const int64_t nb = (n + 31) / 32;
      std::vector<cpu::ActBlock> want(static_cast<size_t>(nb)), got(static_cast<size_t>(nb));
      std::memset(got.data(), 0x5a, got.size() * sizeof(cpu::ActBlock));
      cpu::quantize_acts_ref(x.data(), n, want.data());
      ops->quantize_acts(x.data(), n, got.data());
      for (int64_t b = 0; b < nb; ++b) {
        EXPECT_EQ(got[size_t(b)].d, want[size_t(b)].d) << ops->name << " n=" << n << " b=" << b;
        EXPECT_EQ(got[size_t(b)].sum, want[size_t(b)].sum) << ops->name << " n=" << n << " b=" << b;
        EXPECT_EQ(0, std::memcmp(got[size_t(b)].q, want[size_t(b)].q, 32)) << ops->name << " n=" << n << " b=" << b;
      }
    }
  }
}

TEST(FastKernels, ActivationRoundingIsToNearestEven) {
  // amax 127 gives d = 1 exactly, so x * (1 / d) = x and halves are ties.
  float x[32] = {127.0f, 2.5f, -3.5f, 0.5f, -0.5f, 1.5f, 126.5f, -127.0f};
  const int8_t want[8] = {127, 2, -4, 0, 0, 2, 126, -127};
  cpu::ActBlock ref;
  cpu::quantize_acts_ref(x, 32, &ref);
  EXPECT_EQ(ref.d, 1.0f);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(ref.q[j], want[j]) << j;
  for (const cpu::IsaOps* ops : test::fast_isas()) {
    cpu::ActBlock got;
    ops->quantize_acts(x, 32, &got);
    for (int j = 0; j < 8; ++j) EXPECT_EQ(got.q[j], want[j]) << ops->name << " " << j;
  }
}

TEST(FastKernels, MatmulMatchesExactOraclesOnOddShapes) {
  uint32_t seed = 1;
  for (const kernels::KernelTable* k : fast_tables())
    for (WeightType type : kTypes)
      for (int64_t rows : kRows)
        for (int64_t cols : kCols)
          for (int64_t n : kTokens) {
            const test::Packed w = pack_random(type, rows, cols, seed++);
            ASSERT_NO_FATAL_FAILURE(check_matmul(*k, w.view, n, seed++));
          }
}

TEST(FastKernels, MatmulOnARowSliceWithPaddedRowStride) {
  for (const kernels::KernelTable* k : fast_tables())
    for (WeightType type : kTypes) {
      const test::Packed full = pack_random(type, 23, 77, 5);
      ASSERT_NO_FATAL_FAILURE(check_matmul(*k, kernels::row_slice(full.view, 6, 11), 3, 6));
    }
}

// A token's result is bit-identical whether it comes alone (decode) or in a batch (prefill):
// register tiles over tokens keep each token's summation order.
TEST(FastKernels, BatchedResultsEqualOneTokenAtATime) {
  for (const kernels::KernelTable* k : fast_tables())
    for (WeightType type : kTypes)
      for (int64_t cols : {int64_t(150), int64_t(1000)}) {
        const int64_t rows = 23, n = 7;
        const test::Packed w = pack_random(type, rows, cols, 31);
        const std::vector<float> x = random_acts(n * cols, 32);
        std::vector<float> batch(static_cast<size_t>(n * rows)), single(static_cast<size_t>(rows));
        k->matmul[int(type)](w.view, x.data(), cols, n, batch.data(), rows);
        for (int64_t t = 0; t < n; ++t) {
          k->matmul[int(type)](w.view, x.data() + t * cols, cols, 1, single.data(), rows);
          for (int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(batch[size_t(t * rows + r)], single[size_t(r)]) << shape_name(*k, type, rows, cols, n) << " t=" << t;
        }
      }
}

// y[t, c] = sum_r x[t, r] * W[r, c] in float64 from the dequantised weights, and sum |terms|.
void exact_transposed(const WeightView& w, const float* x, int64_t xs, int64_t n, std::vector<double>* y,
                      std::vector<double>* abs_sum) {
  y->assign(size_t(n * w.cols), 0.0);
  abs_sum->assign(size_t(n * w.cols), 0.0);
  std::vector<float> row(size_t(std::max<int64_t>(w.cols, 1)));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w.type, w.row(r), w.cols, row.data());
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < w.cols; ++c) {
        const double p = double(row[size_t(c)]) * x[t * xs + r];
        (*y)[size_t(t * w.cols + c)] += p;
        (*abs_sum)[size_t(t * w.cols + c)] += std::fabs(p);
      }
  }
}

void check_matmul_t(const kernels::KernelTable& k, const WeightView& w, int64_t n, uint32_t seed) {
  const int64_t xs = w.rows + 2, ys = w.cols + 9;
  const std::vector<float> x = random_acts(n * xs, seed);
  std::vector<float> y(size_t(n * ys), -7.0f);
  k.matmul_t[int(w.type)](w, x.data(), xs, n, y.data(), ys);
  std::vector<double> want, abs_sum;
  exact_transposed(w, x.data(), xs, n, &want, &abs_sum);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < ys; ++c) {
      const double got = y[size_t(t * ys + c)];
      if (c >= w.cols) {
        ASSERT_EQ(got, -7.0f) << shape_name(k, w.type, w.rows, w.cols, n) << ": wrote past cols";
        continue;
      }
      const size_t i = size_t(t * w.cols + c);
      ASSERT_NEAR(got, want[i], double(w.rows + 16) * FLT_EPSILON * abs_sum[i] + 1e-30)
          << shape_name(k, w.type, w.rows, w.cols, n) << " t=" << t << " c=" << c;
    }
}

TEST(FastKernels, TransposedMatmulMatchesExactOracleOnOddShapes) {
  uint32_t seed = 5000;
  for (const kernels::KernelTable* k : fast_tables())
    for (WeightType type : kTypes)
      for (int64_t rows : kRows)
        for (int64_t cols : {int64_t(1), int64_t(33), int64_t(257), int64_t(600)})
          for (int64_t n : {int64_t(1), int64_t(3), int64_t(7)}) {
            const test::Packed w = pack_random(type, rows, cols, seed++);
            ASSERT_NO_FATAL_FAILURE(check_matmul_t(*k, w.view, n, seed++));
          }
}

TEST(FastKernels, DotAndAxpyMatchTheReference) {
  const kernels::KernelTable& ref = kernels::reference_kernels();
  for (const kernels::KernelTable* k : fast_tables())
    for (int64_t n : {0, 1, 7, 8, 15, 16, 17, 33, 100, 1000}) {
      const std::vector<float> a = random_acts(n, 1), b = random_acts(n, 2);
      double abs_sum = 0;
      for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
      EXPECT_NEAR(k->dot(a.data(), b.data(), n), ref.dot(a.data(), b.data(), n), 2.0 * (n + 8) * FLT_EPSILON * abs_sum)
          << k->name << " n=" << n;
      std::vector<float> y1 = random_acts(n + 1, 3), y2 = y1;
      k->axpy(0.37f, a.data(), y1.data(), n);
      ref.axpy(0.37f, a.data(), y2.data(), n);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_NEAR(y1[size_t(i)], y2[size_t(i)], 2 * FLT_EPSILON * (std::fabs(y2[size_t(i)]) + std::fabs(a[size_t(i)])))
            << k->name << " n=" << n;
      EXPECT_EQ(y1[size_t(n)], y2[size_t(n)]) << k->name << ": axpy wrote past n";
    }
}

TEST(FastKernels, EmbeddingRowEqualsDequantizeRow) {
  for (const kernels::KernelTable* k : fast_tables())
    for (WeightType type : kTypes) {
      const test::Packed w = pack_random(type, 5, 37, 11);
      std::vector<float> got(37), want(37);
      k->get_row(w.view, 3, got.data());
      dequantize_row(type, w.view.row(3), 37, want.data());
      EXPECT_EQ(got, want) << k->name << " " << weight_type_name(type);
    }
}

}  // namespace
}  // namespace mote
