// NaN and Inf activations (issue #12 item 6): every ISA's int8 activation quantiser gives a
// block holding NaN or Inf the defined form d = NaN, codes 0, sum 0 (bit-identical to
// quantize_acts_ref; before, float -> int conversion of NaN/Inf was UB and the codes' sum
// overflowed in the Q4_0/Q8_0 offset terms), and every matmul lets the NaN reach its outputs
// instead of silently producing finite numbers (a NaN in the final norm printed "0,0,0,0").
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace mote {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Blocks: finite | NaN | +Inf | -Inf | tiny denormals (1/d overflows) | partial block with NaN.
std::vector<float> hostile_acts() {
  std::vector<float> x(5 * 32 + 9);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 17) - 8) * 0.25f;
  x[32 + 5] = kNaN;
  x[64 + 31] = kInf;
  x[96] = -kInf;
  for (int j = 0; j < 32; ++j) x[size_t(128 + j)] = j % 2 ? 1e-44f : 0.0f;
  x[160 + 8] = -kNaN;
  return x;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(NonFiniteActs, ScalarQuantiserDefinesNonFiniteBlocks) {
  const std::vector<float> x = hostile_acts();
  std::vector<cpu::ActBlock> q(6);
  cpu::quantize_acts_ref(x.data(), int64_t(x.size()), q.data());
  EXPECT_TRUE(std::isfinite(q[0].d));
  for (int b : {1, 2, 3, 5}) {
    EXPECT_TRUE(std::isnan(q[size_t(b)].d)) << b;
    EXPECT_EQ(q[size_t(b)].sum, 0) << b;
    for (int j = 0; j < 32; ++j) EXPECT_EQ(q[size_t(b)].q[j], 0) << b << " " << j;
  }
  EXPECT_TRUE(std::isfinite(q[4].d));  // tiny but finite: 1 / d overflows, so codes are 0
  EXPECT_EQ(q[4].sum, 0);
}

TEST(NonFiniteActs, EveryIsaMatchesTheScalarQuantiserBitForBit) {
  const std::vector<float> x = hostile_acts();
  std::vector<cpu::ActBlock> want(6);
  cpu::quantize_acts_ref(x.data(), int64_t(x.size()), want.data());
  for (const cpu::IsaOps* ops : test::fast_isas()) {
    std::vector<cpu::ActBlock> got(6);
    std::memset(got.data(), 0x5a, got.size() * sizeof(cpu::ActBlock));
    ops->quantize_acts(x.data(), int64_t(x.size()), got.data());
    for (size_t b = 0; b < got.size(); ++b) {
      EXPECT_TRUE(same_bits(got[b].d, want[b].d)) << ops->name << " b=" << b;
      EXPECT_EQ(got[b].sum, want[b].sum) << ops->name << " b=" << b;
      EXPECT_EQ(0, std::memcmp(got[b].q, want[b].q, 32)) << ops->name << " b=" << b;
    }
  }
}

TEST(NonFiniteActs, MatmulOutputsAreNaNWhereAnActivationIsNaNOrInf) {
  const WeightType types[] = {WeightType::F32, WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1, WeightType::MXFP4};
  for (const kernels::KernelTable* k : test::all_tables())
    for (WeightType type : types)
      for (float bad : {kNaN, kInf}) {
        const int64_t rows = 19, cols = 100, n = 3;
        const test::Packed w = test::pack_random(type, rows, cols, 7);
        std::vector<float> x = test::random_acts(n * cols, 9);
        x[size_t(1 * cols + 40)] = bad;  // token 1 only
        std::vector<float> y(size_t(n * rows));
        k->matmul[int(type)](w.view, x.data(), cols, n, y.data(), rows);
        for (int64_t t = 0; t < n; ++t)
          for (int64_t r = 0; r < rows; ++r) {
            const float v = y[size_t(t * rows + r)];
            if (t == 1) EXPECT_FALSE(std::isfinite(v)) << k->name << " type " << int(type) << " r=" << r;
            else EXPECT_TRUE(std::isfinite(v)) << k->name << " type " << int(type) << " t=" << t << " r=" << r;
          }
      }
}

}  // namespace
}  // namespace mote
