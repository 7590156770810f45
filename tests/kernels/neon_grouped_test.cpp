// NEON specifics of the row-grouped inner loops (platforms/cpu/kernels/arm_neon_grouped.cpp): the
// neon ops carry all three grouped loops, each agrees with the row-major NEON loop on the same
// weights (an independent path through the bytes: the interleave is lossless, so only float
// summation order differs), and a row range that does not sit on group boundaries (outside the
// QDotRowsFn contract) still writes only its own rows. The accuracy against the exact oracle over
// many shapes is grouped_kernels_test.cpp's business. Portable source: skipped where the CPU (or
// the build) has no neon ops, e.g. on x86-64 or under qemu -cpu cortex-a72.
#include <gtest/gtest.h>

#include <cfloat>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

struct Loops {
  cpu::QDotRowsFn row_major, grouped;
};

Loops loops(const cpu::IsaOps& ops, WeightType type) {
  switch (type) {
    case WeightType::Q8_0: return {ops.qdot_q8_0, ops.qdot_grouped_q8_0};
    case WeightType::Q4_0: return {ops.qdot_q4_0, ops.qdot_grouped_q4_0};
    default: return {ops.qdot_q2_1, ops.qdot_grouped_q2_1};
  }
}

const WeightType kTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1};

TEST(NeonGrouped, OpsCarryAllGroupedLoops) {
  const cpu::IsaOps* ops = cpu::isa_ops("neon");
  if (!ops) GTEST_SKIP() << "no neon ops on this CPU";
  for (WeightType type : kTypes) EXPECT_NE(loops(*ops, type).grouped, nullptr) << weight_type_name(type);
}

TEST(NeonGrouped, AgreesWithTheRowMajorLoop) {
  const cpu::IsaOps* ops = cpu::isa_ops("neon");
  if (!ops) GTEST_SKIP() << "no neon ops on this CPU";
  uint32_t seed = 500;
  for (WeightType type : kTypes)
    for (int64_t cols : {32, 70, 1056})
      for (int64_t n : {1, 2, 3, 4}) {
        const int64_t rows = 32, nb = (cols + 31) / 32;
        const test::Packed rm = test::pack_random(type, rows, cols, seed);
        const test::Packed gr = test::pack_random_grouped(type, rows, cols, seed++);
        const std::vector<cpu::ActBlock> acts = test::random_act_blocks(cols, n, seed++);
        std::vector<float> want(size_t(n * rows)), got(size_t(n * rows));
        loops(*ops, type).row_major(rm.view, 0, rows, 0, nb, acts.data(), n, want.data(), rows, false);
        loops(*ops, type).grouped(gr.view, 0, rows, 0, nb, acts.data(), n, got.data(), rows, false);
        // Both loops are within (nb + 16) eps * sum|terms| of the exact product (grouped_kernels_test
        // and fast_kernels_test), so within twice that of each other.
        std::vector<double> exact, abs_sum;
        test::exact_block_product(gr.view, 0, rows, 0, nb, acts.data(), n, &exact, &abs_sum);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 2.0 * double(nb + 16) * FLT_EPSILON * abs_sum[i] + 1e-30)
              << weight_type_name(type) << " cols=" << cols << " n=" << n << " i=" << i;
      }
}

TEST(NeonGrouped, MisalignedRangeWritesOnlyItsRows) {
  const cpu::IsaOps* ops = cpu::isa_ops("neon");
  if (!ops) GTEST_SKIP() << "no neon ops on this CPU";
  const int64_t rows = 48, cols = 96, nb = 3, n = 3, r0 = 5, r1 = 37;
  for (WeightType type : kTypes) {
    const test::Packed gr = test::pack_random_grouped(type, rows, cols, 9);
    const std::vector<cpu::ActBlock> acts = test::random_act_blocks(cols, n, 10);
    std::vector<float> full(size_t(n * rows)), part(size_t(n * rows), -7.0f);
    loops(*ops, type).grouped(gr.view, 0, rows, 0, nb, acts.data(), n, full.data(), rows, false);
    loops(*ops, type).grouped(gr.view, r0, r1, 0, nb, acts.data(), n, part.data(), rows, false);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const size_t i = size_t(t * rows + r);
        if (r < r0 || r >= r1) ASSERT_EQ(part[i], -7.0f) << weight_type_name(type) << " t=" << t << " r=" << r;
        else ASSERT_EQ(part[i], full[i]) << weight_type_name(type) << " t=" << t << " r=" << r;
      }
  }
}

}  // namespace
}  // namespace mote
