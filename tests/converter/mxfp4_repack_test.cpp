// gpt-oss `*_blocks` / `*_scales` -> WeightType::MXFP4 rows (quant/source_decode.h): the re-layout
// is lossless and the gate/up de-interleave picks the even / odd rows, checked against the decode
// rule of transformers' integrations/mxfp4.py, written out here.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/quant.h"
#include "quant/source_decode.h"

namespace mote::convert {
namespace {

const float kLut[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// Reference decode of one source row: out[2j] = LUT[b & 15], out[2j+1] = LUT[b >> 4], x 2^(s-127).
std::vector<float> spec_row(const std::vector<uint8_t>& blocks, const std::vector<uint8_t>& scales, int64_t nb,
                            int64_t row) {
  std::vector<float> out(static_cast<size_t>(nb * 32));
  for (int64_t b = 0; b < nb; ++b) {
    const float s = std::ldexp(1.0f, int(scales[size_t(row * nb + b)]) - 127);
    for (int64_t j = 0; j < 16; ++j) {
      const uint8_t byte = blocks[size_t((row * nb + b) * 16 + j)];
      out[size_t(b * 32 + 2 * j)] = kLut[byte & 15] * s;
      out[size_t(b * 32 + 2 * j + 1)] = kLut[byte >> 4] * s;
    }
  }
  return out;
}

TEST(Mxfp4Repack, GateUpInterleaveAndDownRowsDecodeAsTheSpecSays) {
  const int64_t rows = 6, nb = 3, cols = nb * 32;  // e.g. gate_up of one expert: 2I = 6 rows, H = 96
  std::vector<uint8_t> blocks(static_cast<size_t>(rows * nb * 16)), scales(static_cast<size_t>(rows * nb));
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = uint8_t((i * 37 + 11) & 0xff);
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = uint8_t(120 + (i * 5) % 15);
  struct Pick {
    int64_t row0, step, count;
  };
  for (const Pick p : {Pick{0, 2, 3}, Pick{1, 2, 3}, Pick{0, 1, 6}}) {  // gate, up, all (down)
    std::vector<uint8_t> out(static_cast<size_t>(p.count) * weight_row_bytes(WeightType::MXFP4, cols));
    repack_mxfp4_rows(blocks.data(), scales.data(), nb, p.row0, p.step, p.count, out.data());
    const uint64_t stride = weight_row_bytes(WeightType::MXFP4, cols);
    for (int64_t r = 0; r < p.count; ++r) {
      std::vector<float> got(static_cast<size_t>(cols));
      dequantize_row(WeightType::MXFP4, out.data() + r * stride, cols, got.data());
      const std::vector<float> want = spec_row(blocks, scales, nb, p.row0 + r * p.step);
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(got[size_t(c)], want[size_t(c)]) << "row0 " << p.row0 << " step " << p.step << " r " << r << " c " << c;
    }
  }
}

}  // namespace
}  // namespace mote::convert
