// MXFP4 SIMD loops (x86_mxfp4.cpp, arm_mxfp4.cpp): each ISA's qdot_mxfp4 against a float64 model
// of the int8 product it computes (2 * E2M1 value times the int8 activation codes, scaled by
// 2^(e - 128) * d_a), on the shapes of gpt-oss (2880 = 90 blocks) and odd ones, 1..9 tokens, with
// blocks at the extreme scales e = 0, 1, 253, 254 and the NaN scale e = 255, and codes covering
// all 16 values; the fused decode + axpy; and the tables' MXFP4 matmul against the reference
// within the int8 activation-rounding bound (fast_kernels_test.cpp checks the same on more
// shapes through the exact oracles).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

using cpu::ActBlock;

// Rows of MXFP4 blocks: every third block holds the 16 codes twice (rotated by the row), the
// others random codes; scales from pick_e(r, b).
template <class PickE>
test::Packed make_mxfp4(int64_t rows, int64_t cols, uint32_t seed, PickE pick_e) {
  std::mt19937 gen(seed);
  const int64_t nb = (cols + 31) / 32;
  const uint64_t stride = weight_row_bytes(WeightType::MXFP4, cols);
  test::Packed p;
  p.bytes.assign(size_t(rows) * stride, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = p.bytes.data() + r * stride + b * kMxfp4BlockBytes;
      blk[0] = pick_e(r, b, gen);
      for (int i = 0; i < 16; ++i) {
        const bool all_codes = (r * nb + b) % 3 == 0;
        const int lo = all_codes ? int((2 * i + r) % 16) : int(gen() % 16);
        const int hi = all_codes ? int((2 * i + 1 + r) % 16) : int(gen() % 16);
        blk[1 + i] = uint8_t(lo | (hi << 4));
      }
      // Padding elements past cols are zero codes (as the encoder writes them).
      for (int64_t k = cols - b * 32; k < 32 && k >= 0; ++k) blk[1 + k / 2] &= uint8_t((k & 1) ? 0x0f : 0xf0);
    }
  p.view = {WeightType::MXFP4, rows, cols, stride, p.bytes.data()};
  return p;
}

// The model: y[t * rows + r] = sum_b 2^(e_b - 127) * d_a * sum_i value_i * q_a,i in float64 (exact
// for every e < 255), NaN when a block has e = 255; abs_sum the same with |terms|.
void model(const WeightView& w, const std::vector<ActBlock>& acts, int64_t n, std::vector<double>* y,
           std::vector<double>* abs_sum) {
  const int64_t nb = (w.cols + 31) / 32;
  y->assign(size_t(n * w.rows), 0.0);
  abs_sum->assign(size_t(n * w.rows), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < w.rows; ++r) {
      double s = 0, a = 0;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w.row(r) + b * kMxfp4BlockBytes;
        const ActBlock& ab = acts[size_t(t * nb + b)];
        const double scale = blk[0] == 255 ? std::nan("") : std::ldexp(1.0, int(blk[0]) - 127);
        double dot = 0, adot = 0;
        for (int i = 0; i < 32; ++i) {
          const double v = kMxfp4Values[(i & 1) ? (blk[1 + i / 2] >> 4) : (blk[1 + i / 2] & 0xf)];
          dot += v * ab.q[i];
          adot += std::fabs(v * ab.q[i]);
        }
        s += scale * ab.d * dot;
        a += std::fabs(scale * ab.d) * adot;
      }
      (*y)[size_t(t * w.rows + r)] = s;
      (*abs_sum)[size_t(t * w.rows + r)] = a;
    }
}

// Runs every ISA's qdot_mxfp4 on w with activations x ([n, cols]) and checks it against the model:
// float32 rounding of the block scales and the accumulation, (nb + 16) * eps * sum |terms|, plus
// per block half a subnormal step of its scale times the largest int8 dot, 32 * 12 * 127 (the
// scale 2^(e - 128) * d_a of an e = 0, 1 block is a subnormal float unless d_a is large).
void check_isas(const WeightView& w, const std::vector<float>& x, int64_t n, const std::string& what) {
  const int64_t nb = (w.cols + 31) / 32;
  std::vector<ActBlock> acts(size_t(n * nb));
  for (int64_t t = 0; t < n; ++t) cpu::quantize_acts_ref(x.data() + t * w.cols, w.cols, acts.data() + t * nb);
  std::vector<double> want, abs_sum;
  model(w, acts, n, &want, &abs_sum);
  for (const cpu::IsaOps* ops : test::fast_isas()) {
    ASSERT_NE(ops->qdot_mxfp4, nullptr) << ops->name;
    const int64_t ys = w.rows + 3;
    std::vector<float> y(size_t(n * ys), -7.0f);
    ops->qdot_mxfp4(w, 0, w.rows, 0, nb, acts.data(), n, y.data(), ys, false);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < ys; ++r) {
        const float got = y[size_t(t * ys + r)];
        const std::string at = what + " " + ops->name + " t=" + std::to_string(t) + " r=" + std::to_string(r);
        if (r >= w.rows) {
          ASSERT_EQ(got, -7.0f) << at << ": wrote past rows";
          continue;
        }
        const double wv = want[size_t(t * w.rows + r)];
        if (std::isnan(wv)) {
          ASSERT_TRUE(std::isnan(got)) << at << ": a block with e = 255 must give NaN, got " << got;
          continue;
        }
        ASSERT_NEAR(got, wv, double(nb + 16) * FLT_EPSILON * abs_sum[size_t(t * w.rows + r)] + double(nb) * 0x1p-150 * (32 * 12 * 127))
            << at;
      }
  }
}

TEST(Mxfp4Kernels, HalfScaleIsExactForEveryExponentAndNaNFor255) {
  for (int e = 0; e < 255; ++e) EXPECT_EQ(double(cpu::mxfp4_half_scale(uint8_t(e))), std::ldexp(1.0, e - 128)) << e;
  EXPECT_TRUE(std::isnan(cpu::mxfp4_half_scale(255)));
  for (int c = 0; c < 16; ++c) EXPECT_EQ(float(cpu::kMxfp4Int8[c]), 2.0f * kMxfp4Values[c]) << c;
}

TEST(Mxfp4Kernels, QdotMatchesTheInt8ModelOnGptOssAndOddShapes) {
  if (test::fast_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  uint32_t seed = 1;
  for (int64_t rows : {1, 17, 33})
    for (int64_t cols : {32, 96, 2880, 33, 100, 160, 224})  // 1, 3, 90, 2, 4, 5, 7 blocks
      for (int64_t n = 1; n <= 9; ++n) {
        // Mostly scales around 2^0 (gpt-oss's are 2^-10..2^2), some e = 0 blocks, and one e = 255
        // block in row 5 (its outputs must be NaN).
        const test::Packed w = make_mxfp4(rows, cols, seed++, [](int64_t r, int64_t b, std::mt19937& g) {
          if (r == 5 && b == 1) return uint8_t(255);
          if ((r + b) % 7 == 2) return uint8_t(0);
          return uint8_t(117 + g() % 14);
        });
        const std::vector<float> x = test::random_acts(n * cols, seed++);
        ASSERT_NO_FATAL_FAILURE(check_isas(w.view, x, n, "mxfp4 " + std::to_string(rows) + "x" + std::to_string(cols) +
                                                             " tokens=" + std::to_string(n)));
      }
}

// Rows whose blocks all have one extreme scale, with activations that keep the results normal:
// e = 0, 1 (subnormal 2^-128, 2^-127 block scales) against large activations; e = 253, 254 against
// small ones (the reference decode overflows there: 6 * 2^127 is inf in float, see README).
TEST(Mxfp4Kernels, ExtremeScalesAreExact) {
  if (test::fast_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  for (int e : {0, 1, 2, 253, 254})
    for (int64_t n : {1, 4, 5}) {
      const int64_t rows = 17, cols = 2880;
      const test::Packed w = make_mxfp4(rows, cols, uint32_t(e + 100 * n), [e](int64_t, int64_t, std::mt19937&) { return uint8_t(e); });
      std::vector<float> x = test::random_acts(n * cols, uint32_t(e + n));
      const float gain = e < 100 ? 1e4f : 1e-6f;
      for (float& v : x) v *= gain;
      ASSERT_NO_FATAL_FAILURE(check_isas(w.view, x, n, "mxfp4 e=" + std::to_string(e) + " tokens=" + std::to_string(n)));
    }
}

// Calls beyond the loops' regrouped-activation buffer (2048 blocks; the driver never makes them):
// a row of 2100 blocks (two column chunks) and 30 tokens of 90 blocks (two token passes).
TEST(Mxfp4Kernels, CallsLargerThanTheActivationBuffer) {
  if (test::fast_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  const auto pick = [](int64_t, int64_t, std::mt19937& g) { return uint8_t(118 + g() % 12); };
  const test::Packed wide = make_mxfp4(3, 2100 * 32, 91, pick);
  ASSERT_NO_FATAL_FAILURE(check_isas(wide.view, test::random_acts(2 * 2100 * 32, 92), 2, "mxfp4 3x67200 tokens=2"));
  const test::Packed gpt = make_mxfp4(5, 2880, 93, pick);
  ASSERT_NO_FATAL_FAILURE(check_isas(gpt.view, test::random_acts(30 * 2880, 94), 30, "mxfp4 5x2880 tokens=30"));
}

// A QDotRowsFn call for part of the rows and blocks, accumulating, as the driver's column chunks do.
TEST(Mxfp4Kernels, RowAndBlockRangesAccumulate) {
  const int64_t rows = 40, cols = 2880, n = 6, nb = cols / 32;
  const test::Packed w = make_mxfp4(rows, cols, 77, [](int64_t, int64_t, std::mt19937& g) { return uint8_t(120 + g() % 10); });
  const std::vector<float> x = test::random_acts(n * cols, 78);
  std::vector<ActBlock> acts(size_t(n * nb));
  for (int64_t t = 0; t < n; ++t) cpu::quantize_acts_ref(x.data() + t * cols, cols, acts.data() + t * nb);
  for (const cpu::IsaOps* ops : test::fast_isas()) {
    std::vector<float> whole(size_t(n * rows), 0.0f), parts(size_t(n * rows), 1.0f);
    ops->qdot_mxfp4(w.view, 0, rows, 0, nb, acts.data(), n, whole.data(), rows, false);
    // Rows [3, 29), blocks [0, 37) then [37, 90), each with its own activation slice.
    const int64_t split = 37;
    for (int64_t part = 0; part < 2; ++part) {
      const int64_t b0 = part == 0 ? 0 : split, pnb = part == 0 ? split : nb - split;
      std::vector<ActBlock> slice(size_t(n * pnb));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < pnb; ++j) slice[size_t(t * pnb + j)] = acts[size_t(t * nb + b0 + j)];
      ops->qdot_mxfp4(w.view, 3, 29, b0, pnb, slice.data(), n, parts.data(), rows, part > 0);
    }
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const size_t i = size_t(t * rows + r);
        if (r < 3 || r >= 29) ASSERT_EQ(parts[i], 1.0f) << ops->name << ": wrote outside its rows";
        else ASSERT_NEAR(parts[i], whole[i], 1e-5 * (std::fabs(whole[i]) + 1.0)) << ops->name << " t=" << t << " r=" << r;
      }
  }
}

// The fused decode + axpy: y += alpha * dequantize_row, on whole and partial blocks, e = 0 included.
TEST(Mxfp4Kernels, AxpyRowEqualsDecodeThenAxpy) {
  const int64_t cols = 2880;
  const test::Packed w = make_mxfp4(1, cols, 5, [](int64_t, int64_t b, std::mt19937& g) {
    return b % 9 == 4 ? uint8_t(0) : uint8_t(115 + g() % 20);
  });
  std::vector<float> decoded(static_cast<size_t>(cols));
  dequantize_row(WeightType::MXFP4, w.view.row(0), cols, decoded.data());
  for (const cpu::IsaOps* ops : test::fast_isas()) {
    const auto axpy_row = ops->axpy_row[int(WeightType::MXFP4)];
    if (!axpy_row) continue;  // NEON: dequantize_row + axpy
    for (int64_t n : {1, 31, 32, 33, 256, 2880}) {
      std::vector<float> y = test::random_acts(n + 1, uint32_t(n)), want = y;
      const float alpha = -0.37f;
      axpy_row(alpha, w.view.row(0), n, y.data());
      for (int64_t i = 0; i < n; ++i) want[size_t(i)] += alpha * decoded[size_t(i)];
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(y[size_t(i)], want[size_t(i)], 2 * FLT_EPSILON * (std::fabs(want[size_t(i)]) + std::fabs(alpha * decoded[size_t(i)])) + 0x1p-149)
            << ops->name << " n=" << n << " i=" << i;
      ASSERT_EQ(y[size_t(n)], want[size_t(n)]) << ops->name << ": wrote past n";
    }
  }
}

// The KernelTable entry (driver + loop) against the reference kernel (float activations): within
// the int8 rounding bound sum_c |W[r, c]| * d_a / 2 plus float rounding, as for Q8_0 / Q4_0.
TEST(Mxfp4Kernels, TableMatmulMatchesTheReferenceWithinActivationRounding) {
  const kernels::KernelTable& ref = kernels::reference_kernels();
  for (const kernels::KernelTable* k : test::fast_tables()) {
    EXPECT_TRUE(test::int8_activations(*k, WeightType::MXFP4)) << k->name << " has no MXFP4 loop";
    for (int64_t rows : {1, 17, 33, 64})
      for (int64_t n : {1, 2, 5, 9}) {
        const int64_t cols = 2880;
        const test::Packed w = test::pack_random(WeightType::MXFP4, rows, cols, uint32_t(rows * 10 + n));
        const std::vector<float> x = test::random_acts(n * cols, uint32_t(n));
        std::vector<float> got(size_t(n * rows)), want(got.size());
        k->matmul[int(WeightType::MXFP4)](w.view, x.data(), cols, n, got.data(), rows);
        ref.matmul[int(WeightType::MXFP4)](w.view, x.data(), cols, n, want.data(), rows);
        std::vector<double> exact, abs_sum, qerr;
        test::exact_float_product(w.view, x.data(), cols, n, &exact, &abs_sum, &qerr);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], qerr[i] * 1.0001 + 2.0 * double(cols + 16) * FLT_EPSILON * abs_sum[i] + 1e-30)
              << k->name << " rows=" << rows << " tokens=" << n << " i=" << i;
      }
  }
}

}  // namespace
}  // namespace mote
