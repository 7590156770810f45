// The row-group layout (kernels/quant.h): lossless interleaving, per-row decoding from a group,
// and the reference kernels giving bit-identical results on grouped and row-major views.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote {
namespace {

struct Matrix {
  std::vector<uint8_t> row_major;
  std::vector<uint8_t> grouped;
  WeightView rows_view, group_view;
};

Matrix make(WeightType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const uint64_t stride = weight_row_bytes(type, cols);
  Matrix m;
  m.row_major.resize(size_t(stride) * size_t(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(gen);
    quantize_row(type, row.data(), cols, m.row_major.data() + r * stride);
  }
  m.grouped.resize(m.row_major.size());
  interleave_matrix(type, m.row_major.data(), rows, cols, m.grouped.data());
  m.rows_view = {type, rows, cols, stride, m.row_major.data()};
  m.group_view = m.rows_view;
  m.group_view.data = m.grouped.data();
  m.group_view.row_group = kRowGroup;
  return m;
}

class RowGroupTest : public ::testing::TestWithParam<WeightType> {};

TEST_P(RowGroupTest, InterleaveIsLosslessAndChangesTheBytes) {
  for (int64_t cols : {32, 37, 96, 300}) {
    const Matrix m = make(GetParam(), 32, cols, uint32_t(cols));
    EXPECT_NE(m.row_major, m.grouped) << cols;
    std::vector<uint8_t> back(m.grouped.size());
    const uint64_t group_bytes = weight_row_bytes(GetParam(), cols) * kRowGroup;
    for (int g = 0; g < 2; ++g)
      deinterleave_row_group(GetParam(), m.grouped.data() + g * group_bytes, cols, back.data() + g * group_bytes);
    EXPECT_EQ(back, m.row_major) << cols;
  }
}

TEST_P(RowGroupTest, EveryRowAndPieceDecodesAsInRowMajor) {
  const int64_t cols = 300;
  const Matrix m = make(GetParam(), 48, cols, 7);
  std::vector<float> want(static_cast<size_t>(cols)), got(static_cast<size_t>(cols));
  for (int64_t r = 0; r < 48; ++r) {
    dequantize_row(GetParam(), m.rows_view.row(r), cols, want.data());
    dequantize_view_piece(m.group_view, r, 0, cols, got.data());
    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << "row " << r;
    dequantize_view_piece(m.group_view, r, 64, cols - 64, got.data());
    ASSERT_EQ(0, std::memcmp(want.data() + 64, got.data(), size_t(cols - 64) * sizeof(float))) << "row " << r;
  }
}

TEST_P(RowGroupTest, ReferenceKernelsGiveTheSameBitsOnBothLayouts) {
  const int64_t rows = 48, cols = 77, n_tokens = 3;
  const Matrix m = make(GetParam(), rows, cols, 11);
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (float& v : x) v = dist(gen);
  const auto& ref = kernels::reference_kernels();
  std::vector<float> a(static_cast<size_t>(n_tokens * rows)), b(a.size());
  ref.matmul[int(GetParam())](m.rows_view, x.data(), cols, n_tokens, a.data(), rows);
  ref.matmul[int(GetParam())](m.group_view, x.data(), cols, n_tokens, b.data(), rows);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  // A slice of whole groups is a grouped view of those rows.
  const WeightView slice = kernels::row_slice(m.group_view, 16, 32);
  std::vector<float> s(static_cast<size_t>(n_tokens * 32));
  ref.matmul[int(GetParam())](slice, x.data(), cols, n_tokens, s.data(), 32);
  for (int64_t t = 0; t < n_tokens; ++t)
    EXPECT_EQ(0, std::memcmp(s.data() + t * 32, a.data() + t * rows + 16, 32 * sizeof(float)));
  std::vector<float> row(static_cast<size_t>(cols)), want(row.size());
  ref.get_row(m.group_view, 21, row.data());
  ref.get_row(m.rows_view, 21, want.data());
  EXPECT_EQ(row, want);
}

INSTANTIATE_TEST_SUITE_P(Types, RowGroupTest,
                         ::testing::Values(WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1),
                         [](const auto& info) { return std::string(weight_type_name(info.param)); });

}  // namespace
}  // namespace mote
