// The converter's fast encoders (converter/quant/encode_simd.h) against the reference
// quantize_row (kernels/quant.h): the bytes must be identical for every type, on odd shapes
// (ragged last blocks, 1 row, fewer than 16 blocks, many rows) and on hard values (all-zero
// blocks, constant blocks, tiny/subnormal values, values near the f16 limit, huge values,
// NaN/Inf, exact halves of the rounding grid). Skipped where the CPU has no fast path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "kernels/quant.h"
#include "quant/encode_simd.h"

namespace mote::test {
namespace {

using convert::EncoderIsa;

constexpr WeightType kTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1, WeightType::F16,
                                 WeightType::BF16, WeightType::MXFP4};

// Fills x with a mix selected by `kind`: 0 normal weights, 1 hard values, 2 grid-exact halves.
void fill(std::mt19937& rng, int kind, std::vector<float>& x) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_int_distribution<int> pick(0, 15);
  for (size_t i = 0; i < x.size(); ++i) {
    float v = normal(rng);
    if (kind == 1) {
      switch (pick(rng)) {
        case 0: v = 0.0f; break;
        case 1: v = -0.0f; break;
        case 2: v *= 1e-36f; break;          // f32 subnormal-ish
        case 3: v *= 1e-4f; break;           // f16 subnormal scales
        case 4: v = 65504.0f * 127.0f * (v > 0 ? 1.0f : -1.0f); break;  // d near/over f16 max
        case 5: v *= 1e30f; break;           // huge: overflows in the searches
        case 6: v = std::numeric_limits<float>::denorm_min(); break;
        case 7: v = 1.0f; break;
        default: break;
      }
    } else if (kind == 2) {
      v = float(int(pick(rng)) - 8) * 0.5f;  // many exact ties after scaling
    }
    x[i] = v;
  }
}

void expect_same(WeightType type, const std::vector<float>& x, int64_t rows, int64_t cols, const std::string& what) {
  const uint64_t rb = weight_row_bytes(type, cols);
  std::vector<uint8_t> ref(rows * rb), fast(rows * rb, 0xAB);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, x.data() + r * cols, cols, ref.data() + r * rb);
  convert::encode_rows(EncoderIsa::kAvx512, type, x.data(), rows, cols, fast.data());
  for (uint64_t i = 0; i < ref.size(); ++i) {
    if (ref[i] != fast[i]) {
      ADD_FAILURE() << weight_type_name(type) << " " << what << " rows " << rows << " cols " << cols
                    << ": first difference at byte " << i << " (row " << i / rb << ", block "
                    << (i % rb) / weight_block_bytes(type) << "): " << int(ref[i]) << " vs " << int(fast[i]);
      return;
    }
  }
}

class EncodeSimd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!convert::encoder_isa_supported(EncoderIsa::kAvx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
  }
};

TEST_F(EncodeSimd, MatchesReferenceOnOddShapes) {
  std::mt19937 rng(7);
  const int64_t shapes[][2] = {{1, 1}, {1, 31}, {1, 32}, {1, 33}, {3, 100}, {1, 512}, {16, 2048},
                               {17, 95}, {5, 513}, {40, 64}, {2, 7}};
  for (int kind = 0; kind < 3; ++kind) {
    for (const auto& s : shapes) {
      std::vector<float> x(size_t(s[0] * s[1]));
      fill(rng, kind, x);
      for (WeightType t : kTypes) expect_same(t, x, s[0], s[1], "kind " + std::to_string(kind));
    }
  }
}

TEST_F(EncodeSimd, MatchesReferenceOnSpecialBlocks) {
  const int64_t cols = 32 * 20 + 5;
  std::vector<float> x(size_t(cols), 0.0f);
  expect_same(WeightType::Q8_0, x, 1, cols, "all zero");
  expect_same(WeightType::Q4_0, x, 1, cols, "all zero");
  expect_same(WeightType::Q2_1, x, 1, cols, "all zero");
  std::mt19937 rng(3);
  fill(rng, 0, x);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[40] = std::numeric_limits<float>::infinity();
  x[70] = -std::numeric_limits<float>::infinity();
  for (int j = 96; j < 128; ++j) x[size_t(j)] = 0.75f;  // constant block: range 0
  for (int j = 128; j < 160; ++j) x[size_t(j)] = std::ldexp(1.0f, -20) * float(j - 140);
  for (int j = 160; j < 192; ++j) x[size_t(j)] = 3e38f * ((j & 1) ? 1.0f : -1.0f);
  for (WeightType t : kTypes) expect_same(t, x, 1, cols, "special");
}

// Q8_0 rounds halves away from zero (lround): with amax = 127 the scale is exactly 1, so
// values k + 0.5 are exact ties (ties-to-even would differ on every even k).
TEST_F(EncodeSimd, Q8RoundsExactHalvesAwayFromZero) {
  std::vector<float> x(64);
  for (int j = 0; j < 64; ++j) x[size_t(j)] = float((j % 32) - 16) + 0.5f;
  x[0] = 127.0f;
  x[32] = -127.0f;
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1}) expect_same(t, x, 1, 64, "halves");
  std::vector<uint8_t> fast(weight_row_bytes(WeightType::Q8_0, 64));
  convert::encode_rows(EncoderIsa::kAvx512, WeightType::Q8_0, x.data(), 1, 64, fast.data());
  EXPECT_EQ(int8_t(fast[2 + 1]), -15);  // -14.5 -> -15
  EXPECT_EQ(int8_t(fast[2 + 18]), 3);   // 2.5 -> 3
}

TEST_F(EncodeSimd, MatchesReferenceOnManyRandomBlocks) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> scale_exp(-30.0f, 10.0f);
  const int64_t rows = 64, cols = 4096 + 17;
  std::vector<float> x(size_t(rows * cols));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float s = std::exp2(scale_exp(rng));  // each row at its own magnitude
    for (int64_t c = 0; c < cols; ++c) x[size_t(r * cols + c)] = normal(rng) * s;
  }
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1}) expect_same(t, x, rows, cols, "random");
}

TEST_F(EncodeSimd, Bf16DecodeMatchesReference) {
  std::vector<uint16_t> h(1000);
  for (size_t i = 0; i < h.size(); ++i) h[i] = uint16_t(i * 65.537);
  h[0] = 0x7fc1;  // NaN with payload
  h[1] = 0xff80;  // -Inf
  std::vector<float> a(h.size()), b(h.size());
  convert::decode_bf16_rows(EncoderIsa::kReference, reinterpret_cast<const uint8_t*>(h.data()), h.size(), a.data());
  convert::decode_bf16_rows(EncoderIsa::kAvx512, reinterpret_cast<const uint8_t*>(h.data()), h.size(), b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
}

}  // namespace
}  // namespace mote::test
