// Reference kernels against dequantize_row + a float64 naive product, on odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote {
namespace {

struct Packed {
  std::vector<uint8_t> bytes;
  WeightView view;
};

Packed pack(WeightType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float& v : values) v = dist(gen);
  Packed p;
  const uint64_t stride = weight_row_bytes(type, cols);
  p.bytes.resize(size_t(rows) * stride);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, values.data() + r * cols, cols, p.bytes.data() + r * stride);
  p.view = {type, rows, cols, stride, p.bytes.data()};
  return p;
}

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// y[t, r] in float64 from the dequantised weights.
std::vector<double> naive(const WeightView& w, const float* x, int64_t x_stride, int64_t n) {
  std::vector<double> y(static_cast<size_t>(n * w.rows));
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w.type, w.row(r), w.cols, row.data());
    for (int64_t t = 0; t < n; ++t) {
      double s = 0;
      for (int64_t c = 0; c < w.cols; ++c) s += double(row[size_t(c)]) * x[t * x_stride + c];
      y[size_t(t * w.rows + r)] = s;
    }
  }
  return y;
}

// y[t, c] = sum_r x[t, r] * W[r, c] in float64 from the dequantised weights.
std::vector<double> naive_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n) {
  std::vector<double> y(static_cast<size_t>(n * w.cols), 0.0);
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w.type, w.row(r), w.cols, row.data());
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < w.cols; ++c) y[size_t(t * w.cols + c)] += double(row[size_t(c)]) * x[t * x_stride + r];
  }
  return y;
}

// Installs the reference table for the scope (the wrappers route through active_kernels(), which
// defaults to a fast table whose int8 activations need wider tolerances: tests/kernels).
class UseReferenceKernels {
 public:
  UseReferenceKernels() : previous_(&kernels::active_kernels()) { kernels::set_active_kernels(kernels::reference_kernels()); }
  ~UseReferenceKernels() { kernels::set_active_kernels(*previous_); }

 private:
  const kernels::KernelTable* previous_;
};

const WeightType kTypes[] = {WeightType::F32,  WeightType::F16,  WeightType::BF16,
                             WeightType::Q8_0, WeightType::Q4_0, WeightType::MXFP4,
                             WeightType::Q2_1};

struct Shape {
  int64_t rows, cols, tokens;
};
const Shape kShapes[] = {{7, 33, 3}, {1, 1, 1}, {5, 100, 4}, {3, 32, 2}, {9, 257, 5}, {2, 300, 1}, {4, 64, 7}};

TEST(Kernels, MatmulMatchesDequantisedNaiveForEveryTypeAndOddShape) {
  const kernels::KernelTable& k = kernels::reference_kernels();
  uint32_t seed = 1;
  for (WeightType type : kTypes) {
    for (const Shape& s : kShapes) {
      const Packed w = pack(type, s.rows, s.cols, seed++);
      const std::vector<float> x = random_vec(size_t(s.tokens * s.cols), seed++);
      std::vector<float> y(static_cast<size_t>(s.tokens * s.rows), NAN);
      k.matmul[int(type)](w.view, x.data(), s.cols, s.tokens, y.data(), s.rows);
      const std::vector<double> ref = naive(w.view, x.data(), s.cols, s.tokens);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], 1e-5 * (1.0 + std::sqrt(double(s.cols))))
            << weight_type_name(type) << " " << s.rows << "x" << s.cols << " t=" << s.tokens << " i=" << i;
    }
  }
}

TEST(Kernels, TransposedMatmulMatchesDequantisedNaiveForEveryTypeAndOddShape) {
  const kernels::KernelTable& k = kernels::reference_kernels();
  uint32_t seed = 1000;
  for (WeightType type : kTypes) {
    for (const Shape& s : kShapes) {
      const Packed w = pack(type, s.rows, s.cols, seed++);
      const std::vector<float> x = random_vec(size_t(s.tokens * s.rows), seed++);
      std::vector<float> y(static_cast<size_t>(s.tokens * s.cols), NAN);
      k.matmul_t[int(type)](w.view, x.data(), s.rows, s.tokens, y.data(), s.cols);
      const std::vector<double> ref = naive_t(w.view, x.data(), s.rows, s.tokens);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], 1e-5 * (1.0 + std::sqrt(double(s.rows))))
            << weight_type_name(type) << " " << s.rows << "x" << s.cols << " t=" << s.tokens << " i=" << i;
    }
  }
}

// Strided x and y, on a row slice (as MLA uses W_UK[h] inside kv_b): only y's first w.cols
// columns of each token are written.
TEST(Kernels, StridedTransposedMatmulOnARowSliceWritesOnlyItsSlice) {
  UseReferenceKernels reference;
  for (WeightType type : kTypes) {
    const int64_t rows = 13, cols = 70, first = 4, count = 5, n = 3, x_stride = 9, y_stride = 75;
    const Packed full = pack(type, rows, cols, 91);
    const WeightView w = kernels::row_slice(full.view, first, count);
    const std::vector<float> x = random_vec(size_t(n * x_stride), 92);
    std::vector<float> y(static_cast<size_t>(n * y_stride), -123.0f);
    kernels::matmul_transposed(w, x.data(), x_stride, n, y.data(), y_stride);
    const std::vector<double> ref = naive_t(w, x.data(), x_stride, n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < y_stride; ++c) {
        if (c < cols)
          EXPECT_NEAR(y[size_t(t * y_stride + c)], ref[size_t(t * cols + c)], 1e-5) << weight_type_name(type);
        else
          EXPECT_EQ(y[size_t(t * y_stride + c)], -123.0f);
      }
  }
}

TEST(Kernels, StridedMatmulWritesOnlyItsSlice) {
  UseReferenceKernels reference;
  for (WeightType type : kTypes) {
    const int64_t rows = 6, cols = 45, n = 3, x_stride = 50, y_stride = 11;
    const Packed w = pack(type, rows, cols, 77);
    const std::vector<float> x = random_vec(size_t(n * x_stride), 78);
    std::vector<float> y(static_cast<size_t>(n * y_stride), -123.0f);
    kernels::matmul_strided(w.view, x.data(), x_stride, n, y.data(), y_stride);
    const std::vector<double> ref = naive(w.view, x.data(), x_stride, n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < y_stride; ++c) {
        if (c < rows)
          EXPECT_NEAR(y[size_t(t * y_stride + c)], ref[size_t(t * rows + c)], 1e-5) << weight_type_name(type);
        else
          EXPECT_EQ(y[size_t(t * y_stride + c)], -123.0f);
      }
  }
}

TEST(Kernels, DenseWrapperAndRowSliceAgree) {
  const Packed w = pack(WeightType::Q8_0, 10, 70, 5);
  const std::vector<float> x = random_vec(2 * 70, 6);
  std::vector<float> full(20), part(2 * 4);
  kernels::matmul(w.view, x.data(), 2, full.data());
  kernels::matmul(kernels::row_slice(w.view, 3, 4), x.data(), 2, part.data());
  for (int t = 0; t < 2; ++t)
    for (int r = 0; r < 4; ++r) EXPECT_EQ(part[size_t(t * 4 + r)], full[size_t(t * 10 + 3 + r)]);
}

TEST(Kernels, EmbeddingRowEqualsDequantizeRow) {
  for (WeightType type : kTypes) {
    const Packed w = pack(type, 5, 37, 11);
    std::vector<float> got(37), want(37);
    kernels::embedding_row(w.view, 3, got.data());
    dequantize_row(type, w.view.row(3), 37, want.data());
    EXPECT_EQ(got, want) << weight_type_name(type);
  }
}

TEST(Kernels, DotAndAxpy) {
  const float a[5] = {1, 2, 3, 4, 5}, b[5] = {0.5f, -1, 2, 0, 1};
  EXPECT_FLOAT_EQ(kernels::dot(a, b, 5), 0.5f - 2 + 6 + 0 + 5);
  float y[5] = {1, 1, 1, 1, 1};
  kernels::axpy(2.0f, a, y, 5);
  EXPECT_FLOAT_EQ(y[4], 11.0f);
  EXPECT_FLOAT_EQ(y[0], 3.0f);
}

// The active table is chosen at first use: the best one for this CPU, or MOTE_KERNELS' choice
// (tests/kernels checks the choice itself).
}  // namespace
}  // namespace mote
