// Unit tests of source decoding (FP8 block dequantisation, F16/BF16), the block quantisers'
// round-trip error, and chunked conversion (converter/quant/*).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/test_util.h"
#include "converter/ckpt_builder.h"
#include "core/half.h"
#include "hf/checkpoint.h"
#include "kernels/quant.h"
#include "quant/source_decode.h"
#include "quant/tensor_convert.h"

namespace mote::test {
namespace {

using convert::StDtype;

TEST(ConverterFp8, DecodesKnownCodes) {
  const uint8_t codes[] = {0x00, 0x38, 0x40, 0xb8, 0x01, 0x7e, 0x08, 0x3c};
  float out[8];
  convert::decode_to_f32(StDtype::F8_E4M3, codes, 8, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 1.0f);
  EXPECT_EQ(out[2], 2.0f);
  EXPECT_EQ(out[3], -1.0f);
  EXPECT_EQ(out[4], std::ldexp(1.0f, -9));   // smallest subnormal
  EXPECT_EQ(out[5], 448.0f);                 // largest finite
  EXPECT_EQ(out[6], std::ldexp(1.0f, -6));   // smallest normal
  EXPECT_EQ(out[7], 1.5f);
  const uint8_t nan_code = 0x7f;
  convert::decode_to_f32(StDtype::F8_E4M3, &nan_code, 1, out);
  EXPECT_TRUE(std::isnan(out[0]));
}

TEST(ConverterFp8, DequantisesAKnownBlock) {
  // 2 x 3 weight, one block, scale 0.5: w = fp8 * 0.5.
  const uint8_t q[6] = {0x38, 0x40, 0xb8, 0x00, 0x3c, 0x7e};
  const float scale = 0.5f;
  float out[6];
  convert::dequantize_fp8_rows(q, 0, 2, 3, &scale, 1, out);
  const float want[6] = {0.5f, 1.0f, -0.5f, 0.0f, 0.75f, 224.0f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(ConverterFp8, PartialEdgeBlocksAndRowOffsets) {
  const int64_t R = 300, C = 260, SR = 3, SC = 3;  // 128-blocks: rows 128+128+44, cols 128+128+4
  std::vector<uint8_t> q(size_t(R * C));
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = uint8_t((i * 37 + 11) % 255);
    if ((q[i] & 0x7f) == 0x7f) q[i] = 0x10;  // no NaN codes
  }
  std::vector<float> s(size_t(SR * SC));
  for (size_t i = 0; i < s.size(); ++i) s[i] = 0.25f * float(i + 1);
  auto expected = [&](int64_t r, int64_t c) { return fp8_e4m3_to_f32(q[size_t(r * C + c)]) * s[size_t((r / 128) * SC + c / 128)]; };
  // Whole tensor, then row ranges that start inside a block and cross block boundaries.
  for (auto [row0, rows] : {std::pair<int64_t, int64_t>{0, R}, {100, 150}, {200, 100}, {299, 1}, {128, 1}}) {
    std::vector<float> out(size_t(rows * C));
    convert::dequantize_fp8_rows(q.data() + row0 * C, row0, rows, C, s.data() + (row0 / 128) * SC, SC, out.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < C; ++c)
        ASSERT_EQ(out[size_t(r * C + c)], expected(row0 + r, c)) << "row " << row0 + r << " col " << c;
  }
}

TEST(ConverterSourceDecode, HalfFormats) {
  const std::vector<float> v = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-7f};
  for (const char* dt : {"F16", "BF16"}) {
    const std::string bytes = encode_floats(v, dt);
    std::vector<float> out(v.size());
    convert::decode_to_f32(std::string(dt) == "F16" ? StDtype::F16 : StDtype::BF16,
                           reinterpret_cast<const uint8_t*>(bytes.data()), v.size(), out.data());
    EXPECT_EQ(out, decode_floats(bytes, dt)) << dt;
  }
}

// Round trip through quantize_row / dequantize_row with per-block error bounds.
void check_round_trip(WeightType type, int64_t cols) {
  std::vector<float> x = random_floats(size_t(cols), uint32_t(cols) * 7 + 1, 3.0f);
  if (cols > 3) x[2] = 0.0f;
  std::vector<uint8_t> q(weight_row_bytes(type, cols), 0xcd);
  quantize_row(type, x.data(), cols, q.data());
  std::vector<float> y(static_cast<size_t>(cols));
  dequantize_row(type, q.data(), cols, y.data());
  double sq = 0, sq_ref = 0;
  for (int64_t b = 0; b * 32 < cols; ++b) {
    float amax = 0;
    for (int64_t j = b * 32; j < std::min<int64_t>(cols, b * 32 + 32); ++j) amax = std::max(amax, std::fabs(x[size_t(j)]));
    const float bound = type == WeightType::Q8_0 ? 0.5f * amax / 127.0f * 1.01f + 1e-6f : 0.2f * amax + 1e-6f;
    for (int64_t j = b * 32; j < std::min<int64_t>(cols, b * 32 + 32); ++j) {
      const float err = std::fabs(x[size_t(j)] - y[size_t(j)]);
      EXPECT_LE(err, bound) << weight_type_name(type) << " cols " << cols << " j " << j;
      sq += double(err) * err;
      sq_ref += double(x[size_t(j)]) * x[size_t(j)];
    }
  }
  if (cols >= 31) {
    EXPECT_LT(std::sqrt(sq / sq_ref), type == WeightType::Q4_0 ? 0.12 : 0.01) << cols;
  }
}

TEST(ConverterQuantize, RoundTripErrorBoundsOnOddLengths) {
  for (int64_t cols : {1, 31, 32, 33, 100, 257})
    for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0}) check_round_trip(t, cols);
  EXPECT_EQ(weight_row_bytes(WeightType::Q8_0, 1), 34u);
  EXPECT_EQ(weight_row_bytes(WeightType::Q4_0, 33), 36u);
  EXPECT_EQ(weight_row_bytes(WeightType::Q8_0, 100), 4u * 34u);
}

TEST(ConverterQuantize, ZeroRowsStayZero) {
  std::vector<float> x(33, 0.0f), y(33, 1.0f);
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0}) {
    std::vector<uint8_t> q(weight_row_bytes(t, 33));
    quantize_row(t, x.data(), 33, q.data());
    dequantize_row(t, q.data(), 33, y.data());
    for (float v : y) EXPECT_EQ(v, 0.0f);
  }
}

// Conversion must not depend on the chunk size or thread count: chunks of 7 rows (not
// aligned to the 128-row FP8 blocks) give the same bytes as one chunk, and F32 output equals
// the exact dequantised values.
TEST(ConverterChunks, ChunkingAndThreadsDoNotChangeTheBytes) {
  const auto dir = fresh_temp_dir("tc_chunks");
  TinyCheckpoint ck;
  const std::vector<float> big = random_floats(300 * 260, 3);
  ck.tensors.push_back({"fp8.weight", "F32", {300, 260}, encode_floats(big, "F32"), {}, 0});
  ck.tensors.push_back({"bf.weight", "F32", {77, 33}, encode_floats(random_floats(77 * 33, 4), "F32"), {}, 0});
  ck.recode([](const std::string& n) { return n == "fp8.weight"; }, "F8_E4M3");
  ck.recode([](const std::string& n) { return n == "bf.weight"; }, "BF16");
  write_safetensors(dir / "model.safetensors", ck.tensors);
  auto c = convert::Checkpoint::open(dir.string());
  for (const char* name : {"fp8.weight", "bf.weight"}) {
    convert::SourceTensor src;
    src.data = c->find(name);
    src.scale = c->find(std::string(name) + "_scale_inv");
    src.rows = src.data.info->shape[0];
    src.cols = src.data.info->shape[1];
    for (WeightType t : {WeightType::F32, WeightType::Q8_0, WeightType::Q4_0, WeightType::BF16}) {
      std::string whole, chunked, threaded;
      convert::TensorConverter one(uint64_t(1) << 30, 1), small(4 * src.cols * 7, 1), multi(4 * src.cols * 50, 3);
      one.convert(src, t, [&](const uint8_t* d, uint64_t n) { whole.append(reinterpret_cast<const char*>(d), n); });
      small.convert(src, t, [&](const uint8_t* d, uint64_t n) { chunked.append(reinterpret_cast<const char*>(d), n); });
      multi.convert(src, t, [&](const uint8_t* d, uint64_t n) { threaded.append(reinterpret_cast<const char*>(d), n); });
      EXPECT_EQ(whole.size(), src.rows * weight_row_bytes(t, int64_t(src.cols)));
      EXPECT_EQ(whole, chunked) << name << " " << weight_type_name(t);
      EXPECT_EQ(whole, threaded) << name << " " << weight_type_name(t);
      EXPECT_LE(small.buffer_bytes(), 3 * 4 * src.cols * 7 + 4096) << "buffers exceed 3 chunks";
      if (t != WeightType::F32 || std::string(name) != "fp8.weight") continue;
      const StTensor* q = ck.find("fp8.weight");
      const std::vector<float> s = decode_floats(ck.find("fp8.weight_scale_inv")->bytes, "F32");
      std::vector<float> got(whole.size() / 4);
      std::memcpy(got.data(), whole.data(), whole.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const size_t r = i / 260, col = i % 260;
        ASSERT_EQ(got[i], fp8_e4m3_to_f32(uint8_t(q->bytes[i])) * s[(r / 128) * 3 + col / 128]) << i;
      }
    }
  }
}

}  // namespace
}  // namespace mote::test
