// Q2_1 (routed experts, 3.0 bits/weight; kernels/quant.h): the byte layout, the encoder's error on
// gaussian data, and that every kernel table this CPU runs has Q2_1 entries. The kernels
// themselves are checked against the exact oracles with every other type (fast_kernels_test.cpp,
// threads_test.cpp, alloc_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "kernels/kernel_test_util.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote {
namespace {

TEST(Q2_1, SizesAndNames) {
  EXPECT_EQ(int(WeightType::Q2_1), 6);
  EXPECT_EQ(weight_block_size(WeightType::Q2_1), 32);
  EXPECT_EQ(weight_block_bytes(WeightType::Q2_1), 12);
  EXPECT_EQ(weight_row_bytes(WeightType::Q2_1, 2048), 64u * 12u);  // 3.0 bits/weight
  EXPECT_EQ(weight_row_bytes(WeightType::Q2_1, 33), 24u);
  EXPECT_STREQ(weight_type_name(WeightType::Q2_1), "q2_1");
  for (const char* name : {"q2", "q2_1"}) {
    WeightType t = WeightType::F32;
    EXPECT_TRUE(parse_weight_type(name, &t)) << name;
    EXPECT_EQ(t, WeightType::Q2_1) << name;
  }
}

TEST(Q2_1, DecodesTheDocumentedLayout) {
  // d = 0.5, m = -1: element i has code (i % 4) via byte i / 4 = 0b11100100; element 5 is patched
  // to code 3 (byte 1 bits 2..3).
  uint8_t block[12];
  const uint16_t d16 = f32_to_f16(0.5f), m16 = f32_to_f16(-1.0f);
  std::memcpy(block, &d16, 2);
  std::memcpy(block + 2, &m16, 2);
  for (int j = 0; j < 8; ++j) block[4 + j] = 0xE4;
  block[5] = uint8_t((0xE4 & ~0x0C) | (3 << 2));
  float out[32];
  dequantize_row(WeightType::Q2_1, block, 32, out);
  for (int i = 0; i < 32; ++i) {
    const int q = i == 5 ? 3 : i % 4;
    EXPECT_EQ(out[i], 0.5f * float(q) - 1.0f) << i;
  }
}

TEST(Q2_1, EncodesExactGridsAndConstantsExactly) {
  std::vector<float> v(40);
  for (int i = 0; i < 40; ++i) v[size_t(i)] = 0.25f * float((i * 7) % 4) - 2.0f;  // block 0: a 4-level grid
  // Block 1 (cols 32..39, then zero padding): two levels, 0 and 3 (d = 1, m = 0 exactly).
  for (int i = 32; i < 40; ++i) v[size_t(i)] = 3.0f;
  std::vector<uint8_t> bytes(weight_row_bytes(WeightType::Q2_1, 40));
  quantize_row(WeightType::Q2_1, v.data(), 40, bytes.data());
  std::vector<float> back(40);
  dequantize_row(WeightType::Q2_1, bytes.data(), 40, back.data());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(back[size_t(i)], v[size_t(i)]) << i;
}

// Gaussian N(0, 1) rows: a 4-level uniform grid from each block's min to max (32 samples span
// about 4.1 sigma) has step ~1.37 and RMS error ~ step / sqrt(12) ~ 0.40 sigma; the (min, max)
// shrink search with a least-squares refit must do better than that. For scale, Q4_0's 16 levels
// give ~0.1 sigma: 2 bits fewer is ~4-5x the error.
TEST(Q2_1, RoundTripErrorOfGaussianData) {
  const int64_t rows = 64, cols = 4096 + 17;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(size_t(rows * cols)), back(v.size());
  for (float& x : v) x = dist(rng);
  const uint64_t stride = weight_row_bytes(WeightType::Q2_1, cols);
  std::vector<uint8_t> bytes(size_t(rows) * stride);
  double se2 = 0, se4 = 0;
  std::vector<uint8_t> b4(weight_row_bytes(WeightType::Q4_0, cols));
  std::vector<float> back4(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(WeightType::Q2_1, v.data() + r * cols, cols, bytes.data() + r * stride);
    dequantize_row(WeightType::Q2_1, bytes.data() + r * stride, cols, back.data() + r * cols);
    quantize_row(WeightType::Q4_0, v.data() + r * cols, cols, b4.data());
    dequantize_row(WeightType::Q4_0, b4.data(), cols, back4.data());
    for (int64_t c = 0; c < cols; ++c) {
      const double e2 = double(back[size_t(r * cols + c)]) - v[size_t(r * cols + c)];
      const double e4 = double(back4[size_t(c)]) - v[size_t(r * cols + c)];
      se2 += e2 * e2;
      se4 += e4 * e4;
    }
  }
  const double rms2 = std::sqrt(se2 / double(v.size())), rms4 = std::sqrt(se4 / double(v.size()));
  std::printf("gaussian RMS error: q2_1 %.4f, q4_0 %.4f (sigma 1)\n", rms2, rms4);
  EXPECT_LT(rms2, 0.36);
  EXPECT_LT(rms2, 6.0 * rms4);
  EXPECT_GT(rms2, rms4);  // sanity: 3 bits/weight cannot beat 4.5
}

TEST(Q2_1, EveryKernelTableHasQ2_1Entries) {
  const kernels::KernelTable* all[8];
  const int n = kernels::available_kernels(all, 8);
  for (int i = 0; i < n; ++i) {
    EXPECT_NE(all[i]->matmul[int(WeightType::Q2_1)], nullptr) << all[i]->name;
    EXPECT_NE(all[i]->matmul_t[int(WeightType::Q2_1)], nullptr) << all[i]->name;
  }
}

}  // namespace
}  // namespace mote
