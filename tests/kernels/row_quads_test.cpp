// Row-major quantised loops called directly (the QDotRowsFn contract of isa.h) on shapes that
// reach every path of the NEON Q4_0 / Q2_1 loops (platforms/cpu/kernels/arm_neon.cpp): blocks in
// quads of 4 with 0..3 left over, several passes over the per-call activation buffer (nb * tokens
// above 2048 blocks), rows longer than that buffer (the block-by-block fallback), and column
// chunks that accumulate. Checked against the exact int8 product, and a token's result must be
// bit-identical alone and in a batch. Portable: runs every ISA this CPU has (AVX2 / AVX-512 on
// x86-64, NEON on aarch64 with dotprod).
#include <gtest/gtest.h>

#include <cfloat>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

cpu::QDotRowsFn row_major(const cpu::IsaOps& ops, WeightType type) {
  switch (type) {
    case WeightType::Q8_0: return ops.qdot_q8_0;
    case WeightType::Q4_0: return ops.qdot_q4_0;
    default: return ops.qdot_q2_1;
  }
}

struct Shape {
  int64_t cols, n;
};
// nb = 1 (tail only), 4, 6, 7 (a quad and 2 or 3 left), 129 with 17 tokens (2193 blocks: two
// passes), 2188 (more quads than the buffer holds: block by block).
const Shape kShapes[] = {{20, 2}, {100, 3}, {170, 1}, {200, 2}, {4100, 17}, {70000, 1}};

TEST(RowQuads, MatchExactProductAndBatchIndependence) {
  uint32_t seed = 7;
  for (const cpu::IsaOps* ops : test::fast_isas())
    for (WeightType type : {WeightType::Q4_0, WeightType::Q2_1, WeightType::Q8_0}) {
      const cpu::QDotRowsFn fn = row_major(*ops, type);
      if (!fn) continue;
      for (const Shape& s : kShapes) {
        const int64_t rows = 3, nb = (s.cols + 31) / 32;
        const test::Packed w = test::pack_random(type, rows, s.cols, seed++);
        const std::vector<cpu::ActBlock> acts = test::random_act_blocks(s.cols, s.n, seed++);
        std::vector<float> got(size_t(s.n * rows));
        fn(w.view, 0, rows, 0, nb, acts.data(), s.n, got.data(), rows, false);
        std::vector<double> exact, abs_sum;
        test::exact_block_product(w.view, 0, rows, 0, nb, acts.data(), s.n, &exact, &abs_sum);
        const std::string what = std::string(ops->name) + " " + weight_type_name(type) + " cols=" +
                                 std::to_string(s.cols) + " n=" + std::to_string(s.n);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], exact[i], double(nb + 16) * FLT_EPSILON * abs_sum[i] + 1e-30) << what << " i=" << i;
        for (int64_t t = 0; t < s.n; ++t) {
          std::vector<float> one(static_cast<size_t>(rows));
          fn(w.view, 0, rows, 0, nb, acts.data() + t * nb, 1, one.data(), rows, false);
          for (int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(one[size_t(r)], got[size_t(t * rows + r)]) << what << " t=" << t << " r=" << r;
        }
        // Two column chunks, the second accumulating: blocks [0, k) then [k, nb).
        if (nb < 2) continue;
        const int64_t k = nb / 2 + 1, rest = nb - k;
        std::vector<cpu::ActBlock> a0, a1;
        for (int64_t t = 0; t < s.n; ++t) {
          a0.insert(a0.end(), acts.begin() + t * nb, acts.begin() + t * nb + k);
          a1.insert(a1.end(), acts.begin() + t * nb + k, acts.begin() + (t + 1) * nb);
        }
        std::vector<float> chunked(size_t(s.n * rows));
        fn(w.view, 0, rows, 0, k, a0.data(), s.n, chunked.data(), rows, false);
        fn(w.view, 0, rows, k, rest, a1.data(), s.n, chunked.data(), rows, true);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(chunked[i], exact[i], double(nb + 16) * FLT_EPSILON * abs_sum[i] + 1e-30) << what << " chunked i=" << i;
      }
    }
}

}  // namespace
}  // namespace mote
