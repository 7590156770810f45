// MXFP4 blocks (gpt-oss experts): the byte layout the converter copies from `*_blocks` /
// `*_scales` decodes to exactly the values of transformers' integrations/mxfp4.py decode, and the
// reference and fast kernels read it directly (no repacking).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote {
namespace {

// The FP4 table (E2M1 code -> value).
const float kLut[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// One block: scale byte then 16 bytes of codes (as gpt-oss stores one scale and 16 block bytes).
std::vector<uint8_t> block(uint8_t scale, const uint8_t (&codes)[16]) {
  std::vector<uint8_t> b(kMxfp4BlockBytes);
  b[0] = scale;
  std::memcpy(b.data() + 1, codes, 16);
  return b;
}

TEST(Mxfp4, BlockSizesAndRowBytes) {
  EXPECT_EQ(weight_block_size(WeightType::MXFP4), 32);
  EXPECT_EQ(weight_block_bytes(WeightType::MXFP4), 17);
  EXPECT_EQ(weight_row_bytes(WeightType::MXFP4, 2880), 90u * 17u);  // gpt-oss: 90 blocks per row
  EXPECT_EQ(weight_row_bytes(WeightType::MXFP4, 33), 34u);
  EXPECT_STREQ(weight_type_name(WeightType::MXFP4), "mxfp4");
}

TEST(Mxfp4, DecodesLowNibbleFirstTimesPowerOfTwoScale) {
  uint8_t codes[16];
  for (int i = 0; i < 16; ++i) codes[i] = uint8_t((i & 15) | (((15 - i) & 15) << 4));
  for (int scale : {127, 120, 130, 0, 254}) {
    const std::vector<uint8_t> b = block(uint8_t(scale), codes);
    float out[32];
    dequantize_row(WeightType::MXFP4, b.data(), 32, out);
    for (int j = 0; j < 16; ++j) {
      const float s = std::ldexp(1.0f, scale - 127);
      EXPECT_EQ(out[2 * j], kLut[codes[j] & 15] * s) << "scale " << scale << " j " << j;
      EXPECT_EQ(out[2 * j + 1], kLut[codes[j] >> 4] * s) << "scale " << scale << " j " << j;
    }
  }
}

TEST(Mxfp4, PartialLastBlockDecodesOnlyItsColumns) {
  uint8_t codes[16];
  for (int i = 0; i < 16; ++i) codes[i] = 0x71;  // low 0.5, high 6.0
  std::vector<uint8_t> row = block(128, codes);
  const std::vector<uint8_t> second = block(126, codes);
  row.insert(row.end(), second.begin(), second.end());
  std::vector<float> out(40, -99.0f);
  dequantize_row(WeightType::MXFP4, row.data(), 35, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 12.0f);
  EXPECT_EQ(out[32], 0.25f);
  EXPECT_EQ(out[33], 3.0f);
  EXPECT_EQ(out[34], 0.25f);
  EXPECT_EQ(out[35], -99.0f);
}

TEST(Mxfp4, EncoderRoundTripsRepresentableValues) {
  // Values already on the grid of one shared scale come back exactly.
  std::vector<float> v(64);
  for (int i = 0; i < 64; ++i) v[size_t(i)] = kLut[(i * 7) % 16] * (i < 32 ? 0.25f : 8.0f);
  v[0] = 6.0f * 0.25f;   // the block maximum fixes the scale
  v[32] = -6.0f * 8.0f;
  std::vector<uint8_t> bytes(weight_row_bytes(WeightType::MXFP4, 64));
  quantize_row(WeightType::MXFP4, v.data(), 64, bytes.data());
  std::vector<float> back(64);
  dequantize_row(WeightType::MXFP4, bytes.data(), 64, back.data());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(back[size_t(i)], v[size_t(i)]) << i;
}

// Every kernel table (reference and the fast ones this CPU runs) has MXFP4 entries that agree
// with the product of the decoded weights.
TEST(Mxfp4, EveryKernelTableReadsItDirectly) {
  const int64_t rows = 5, cols = 70, n = 3;
  std::vector<float> w(size_t(rows * cols));
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i) * 0.37f) * 3.0f;
  const uint64_t stride = weight_row_bytes(WeightType::MXFP4, cols);
  std::vector<uint8_t> bytes(size_t(rows) * stride);
  for (int64_t r = 0; r < rows; ++r) quantize_row(WeightType::MXFP4, w.data() + r * cols, cols, bytes.data() + r * stride);
  const WeightView view{WeightType::MXFP4, rows, cols, stride, bytes.data()};
  std::vector<float> decoded(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(WeightType::MXFP4, view.row(r), cols, decoded.data() + r * cols);
  std::vector<float> x(size_t(n * cols)), xt(size_t(n * rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i) * 0.11f);
  for (size_t i = 0; i < xt.size(); ++i) xt[i] = std::cos(float(i) * 0.23f);
  const kernels::KernelTable* tables[8];
  const int count = kernels::available_kernels(tables, 8);
  ASSERT_GE(count, 1);
  for (int k = 0; k < count; ++k) {
    const kernels::KernelTable& table = *tables[k];
    ASSERT_NE(table.matmul[int(WeightType::MXFP4)], nullptr) << table.name;
    ASSERT_NE(table.matmul_t[int(WeightType::MXFP4)], nullptr) << table.name;
    std::vector<float> y(size_t(n * rows)), yt(size_t(n * cols));
    table.matmul[int(WeightType::MXFP4)](view, x.data(), cols, n, y.data(), rows);
    table.matmul_t[int(WeightType::MXFP4)](view, xt.data(), rows, n, yt.data(), cols);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        // The fast tables quantise the activations to int8 per block of 32 (d_a = block amax / 127):
        // each product may move by |W| * d_a / 2. The reference table uses them as they are.
        const bool int8 = std::string(table.name) != "reference";
        double want = 0, bound = 1e-4;
        for (int64_t c = 0; c < cols; ++c) {
          want += double(decoded[size_t(r * cols + c)]) * x[size_t(t * cols + c)];
          if (!int8) continue;
          double amax = 0;
          for (int64_t k = c / 32 * 32; k < std::min<int64_t>(cols, c / 32 * 32 + 32); ++k)
            amax = std::max(amax, std::fabs(double(x[size_t(t * cols + k)])));
          bound += std::fabs(double(decoded[size_t(r * cols + c)])) * amax / 127.0 / 2.0;
        }
        EXPECT_NEAR(y[size_t(t * rows + r)], want, bound) << table.name << " t " << t << " r " << r;
      }
      for (int64_t c = 0; c < cols; ++c) {
        double want = 0;
        for (int64_t r = 0; r < rows; ++r) want += double(decoded[size_t(r * cols + c)]) * xt[size_t(t * rows + r)];
        EXPECT_NEAR(yt[size_t(t * cols + c)], want, 1e-4) << table.name << " t " << t << " c " << c;
      }
    }
    float row[cols];
    table.get_row(view, 2, row);
    for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(row[c], decoded[size_t(2 * cols + c)]) << table.name;
  }
}

}  // namespace
}  // namespace mote
