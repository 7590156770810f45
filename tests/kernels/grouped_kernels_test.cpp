// Row-grouped weights (WeightView::row_group == 16; kernels/quant.h "Row groups") through every
// ISA this CPU runs: the qdot_grouped_* inner loops directly (row ranges, column-chunked calls that
// accumulate, 1..17 tokens) and the kernel tables' matmul on grouped views (inline, threaded,
// token-chunked and column-chunked driver paths), against the exact int8 oracle of
// kernel_test_util.h. Also: results bit-identical across thread counts and batch sizes, no heap
// allocation, and the transposed product / get_row on grouped views. Portable (x86-64 and
// aarch64: no intrinsics here); a null qdot_grouped_* entry is skipped at the ISA level and runs
// the float reference at the table level.
//
// Tolerance as in fast_kernels_test.cpp: the integer part of every block is exact, so only
// float32 rounding is allowed, (blocks + 16) * eps * sum|terms| (+ eps * |y0| when accumulating).
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/alloc_counter.h"
#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

using test::pack_random_grouped;
using test::random_acts;
using test::shape_name;

const WeightType kGroupTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1};
const int64_t kRows[] = {16, 48, 272};
const int64_t kCols[] = {37, 300, 4100};
const int64_t kTokens[] = {1, 2, 3, 5, 9, 17};

cpu::QDotRowsFn grouped_fn(const cpu::IsaOps& ops, WeightType type) {
  switch (type) {
    case WeightType::Q8_0: return ops.qdot_grouped_q8_0;
    case WeightType::Q4_0: return ops.qdot_grouped_q4_0;
    case WeightType::Q2_1: return ops.qdot_grouped_q2_1;
    default: return nullptr;
  }
}

std::string isa_shape(const cpu::IsaOps& ops, WeightType type, int64_t rows, int64_t cols, int64_t n) {
  return std::string(ops.name) + " grouped " + weight_type_name(type) + " " + std::to_string(rows) + "x" +
         std::to_string(cols) + " tokens=" + std::to_string(n);
}

// Activations of n tokens quantised by the scalar quantiser: acts[t * nb + b].
std::vector<cpu::ActBlock> quantised_acts(int64_t cols, int64_t n, uint32_t seed) {
  const int64_t nb = (cols + 31) / 32;
  const std::vector<float> x = random_acts(n * cols, seed);
  std::vector<cpu::ActBlock> acts(size_t(n * nb));
  for (int64_t t = 0; t < n; ++t) cpu::quantize_acts_ref(x.data() + t * cols, cols, acts.data() + t * nb);
  return acts;
}

// Blocks [b0, b0 + nb) of every token, repacked as the QDotRowsFn contract wants them.
std::vector<cpu::ActBlock> slice_blocks(const std::vector<cpu::ActBlock>& acts, int64_t nb_row, int64_t n,
                                        int64_t b0, int64_t nb) {
  std::vector<cpu::ActBlock> out(size_t(n * nb));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < nb; ++j) out[size_t(t * nb + j)] = acts[size_t(t * nb_row + b0 + j)];
  return out;
}

// The exact products of every row of w with n tokens' quantised activations (one oracle shared
// by the calls check_isa_call makes on it).
struct IsaCase {
  const WeightView* w;
  int64_t n;
  std::vector<cpu::ActBlock> acts;  // [n * nb_row]
  std::vector<double> want, abs_sum;  // [n * rows]
};

IsaCase make_case(const WeightView& w, int64_t n, uint32_t seed) {
  IsaCase c{&w, n, quantised_acts(w.cols, n, seed), {}, {}};
  test::exact_block_product(w, 0, w.rows, 0, (w.cols + 31) / 32, c.acts.data(), n, &c.want, &c.abs_sum);
  return c;
}

// One ISA loop on rows [r0, r1): blocks [0, split) written, then [split, nb_row) accumulated
// (split == nb_row: one call), into y with stride rows + 3 prefilled with a sentinel; checked
// against the oracle, and every element outside [r0, r1) must keep the sentinel.
void check_isa_call(const cpu::IsaOps& ops, const IsaCase& c, int64_t r0, int64_t r1, int64_t split) {
  const WeightView& w = *c.w;
  const int64_t n = c.n;
  const cpu::QDotRowsFn fn = grouped_fn(ops, w.type);
  const int64_t nb_row = (w.cols + 31) / 32, ys = w.rows + 3;
  std::vector<float> y(size_t(n * ys), -7.0f);
  const std::vector<cpu::ActBlock> first = slice_blocks(c.acts, nb_row, n, 0, split);
  fn(w, r0, r1, 0, split, first.data(), n, y.data(), ys, false);
  if (split < nb_row) {
    const std::vector<cpu::ActBlock> rest = slice_blocks(c.acts, nb_row, n, split, nb_row - split);
    fn(w, r0, r1, split, nb_row - split, rest.data(), n, y.data(), ys, true);
  }
  const std::string what = isa_shape(ops, w.type, w.rows, w.cols, n) + " rows [" + std::to_string(r0) + "," +
                           std::to_string(r1) + ") split=" + std::to_string(split);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < ys; ++r) {
      const float got = y[size_t(t * ys + r)];
      if (r < r0 || r >= r1) {
        ASSERT_EQ(got, -7.0f) << what << ": wrote outside its rows, t=" << t << " r=" << r;
        continue;
      }
      const size_t i = size_t(t * w.rows + r);
      ASSERT_NEAR(got, c.want[i], double(nb_row + 16) * FLT_EPSILON * c.abs_sum[i] + 1e-30)
          << what << " t=" << t << " r=" << r;
    }
}

TEST(GroupedKernels, IsaLoopsMatchTheExactOracle) {
  uint32_t seed = 100;
  for (WeightType type : kGroupTypes)
    for (int64_t rows : kRows)
      for (int64_t cols : kCols) {
        const test::Packed w = pack_random_grouped(type, rows, cols, seed++);
        const int64_t nb = (cols + 31) / 32;
        for (int64_t n : kTokens) {
          const IsaCase c = make_case(w.view, n, seed++);
          for (const cpu::IsaOps* ops : test::fast_isas()) {
            if (!grouped_fn(*ops, type)) continue;
            ASSERT_NO_FATAL_FAILURE(check_isa_call(*ops, c, 0, rows, nb));
            // A middle range of groups, and a column-chunked pair of calls (b0 > 0, accumulate).
            if (rows >= 48) {
              ASSERT_NO_FATAL_FAILURE(check_isa_call(*ops, c, 16, rows - 16, nb));
            }
            if (nb > 1) {
              ASSERT_NO_FATAL_FAILURE(check_isa_call(*ops, c, 0, rows, nb / 3 + 1));
            }
          }
        }
      }
}

// A token's result does not depend on the tokens it is batched with (register tiles over tokens
// keep each token's summation order), for every ISA loop.
TEST(GroupedKernels, IsaLoopsGiveBatchIndependentResults) {
  for (const cpu::IsaOps* ops : test::fast_isas())
    for (WeightType type : kGroupTypes) {
      const cpu::QDotRowsFn fn = grouped_fn(*ops, type);
      if (!fn) continue;
      const int64_t rows = 48, cols = 1000, nb = (cols + 31) / 32, n = 17;
      const test::Packed w = pack_random_grouped(type, rows, cols, 7);
      const std::vector<cpu::ActBlock> acts = quantised_acts(cols, n, 8);
      std::vector<float> batch(size_t(n * rows)), single(static_cast<size_t>(rows));
      fn(w.view, 0, rows, 0, nb, acts.data(), n, batch.data(), rows, false);
      for (int64_t t = 0; t < n; ++t) {
        fn(w.view, 0, rows, 0, nb, acts.data() + t * nb, 1, single.data(), rows, false);
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(batch[size_t(t * rows + r)], single[size_t(r)]) << isa_shape(*ops, type, rows, cols, n) << " t=" << t;
      }
    }
}

// Table matmul on a grouped view with strided x and y: the exact int8 oracle where the table's
// ISA has a grouped loop, the float oracle (reference fallback) where it has none.
void check_table_matmul(const kernels::KernelTable& k, const WeightView& w, int64_t n, uint32_t seed) {
  const int64_t xs = w.cols + 5, ys = w.rows + 3;
  const std::vector<float> x = random_acts(n * xs, seed);
  std::vector<float> y(size_t(n * ys), -7.0f);
  k.matmul[int(w.type)](w, x.data(), xs, n, y.data(), ys);
  std::vector<double> want, abs_sum, qerr;
  const bool quantised = test::int8_activations(k, w.type, true);
  if (quantised) test::exact_int8_product(w, x.data(), xs, n, &want, &abs_sum);
  else test::exact_float_product(w, x.data(), xs, n, &want, &abs_sum, &qerr);
  const double terms = quantised ? double((w.cols + 31) / 32) : double(w.cols);
  const std::string what = shape_name(k, w.type, w.rows, w.cols, n) + " grouped";
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < ys; ++r) {
      const float got = y[size_t(t * ys + r)];
      if (r >= w.rows) {
        ASSERT_EQ(got, -7.0f) << what << ": wrote past rows";
        continue;
      }
      const size_t i = size_t(t * w.rows + r);
      ASSERT_NEAR(got, want[i], (terms + 16) * FLT_EPSILON * abs_sum[i] + 1e-30) << what << " t=" << t << " r=" << r;
    }
}

TEST(GroupedKernels, TableMatmulMatchesTheExactOracle) {
  uint32_t seed = 5000;
  for (const kernels::KernelTable* k : test::fast_tables())
    for (WeightType type : kGroupTypes)
      for (int64_t rows : kRows)
        for (int64_t cols : kCols) {
          const test::Packed w = pack_random_grouped(type, rows, cols, seed++);
          for (int64_t n : kTokens) ASSERT_NO_FATAL_FAILURE(check_table_matmul(*k, w.view, n, seed++));
        }
}

// The driver's other paths: threaded row ranges, token chunks (a batch over the 2048-block
// activation buffer), column chunks (one token over it), several row sub-blocks per range (the
// 20000- and 70000-column rows: sub-blocks of 16 to 48 rows), and a row slice of whole groups.
TEST(GroupedKernels, TableMatmulOnLargeShapesAndSlices) {
  struct Case { int64_t rows, cols, tokens; };
  const Case cases[] = {{64, 4100, 64}, {48, 70000, 2}, {1024, 1100, 1}, {256, 1100, 70}, {96, 20000, 8}};
  uint32_t seed = 9000;
  for (const kernels::KernelTable* k : test::fast_tables())
    for (WeightType type : kGroupTypes) {
      for (const Case& c : cases) {
        const test::Packed w = pack_random_grouped(type, c.rows, c.cols, seed++);
        ASSERT_NO_FATAL_FAILURE(check_table_matmul(*k, w.view, c.tokens, seed++));
      }
      const test::Packed full = pack_random_grouped(type, 80, 333, seed++);
      ASSERT_NO_FATAL_FAILURE(check_table_matmul(*k, kernels::row_slice(full.view, 32, 32), 3, seed++));
    }
}

TEST(GroupedKernels, ResultsAreBitIdenticalAcrossThreadCounts) {
  struct Case { int64_t rows, cols, tokens; };
  // Threaded decode, threaded small batch, token-chunked prefill, column-chunked rows.
  const Case cases[] = {{1024, 1100, 1}, {512, 1100, 5}, {256, 1100, 70}, {48, 70000, 2}};
  uint32_t seed = 300;
  for (const kernels::KernelTable* k : test::fast_tables())
    for (WeightType type : kGroupTypes)
      for (const Case& c : cases) {
        const test::Packed w = pack_random_grouped(type, c.rows, c.cols, seed++);
        const std::vector<float> x = random_acts(c.tokens * c.cols, seed++);
        std::vector<float> want;
        for (int threads : {1, 2, 3, 0}) {
          kernels::set_num_threads(threads);
          std::vector<float> y(size_t(c.tokens * c.rows));
          k->matmul[int(type)](w.view, x.data(), c.cols, c.tokens, y.data(), c.rows);
          if (want.empty()) want = y;
          else ASSERT_EQ(0, std::memcmp(want.data(), y.data(), y.size() * sizeof(float)))
                   << shape_name(*k, type, c.rows, c.cols, c.tokens) << " grouped threads=" << threads;
        }
      }
  kernels::set_num_threads(0);
}

TEST(GroupedKernels, TableMatmulGivesBatchIndependentResults) {
  for (const kernels::KernelTable* k : test::fast_tables())
    for (WeightType type : kGroupTypes) {
      const int64_t rows = 32, cols = 1000, n = 9;
      const test::Packed w = pack_random_grouped(type, rows, cols, 31);
      const std::vector<float> x = random_acts(n * cols, 32);
      std::vector<float> batch(size_t(n * rows)), single(static_cast<size_t>(rows));
      k->matmul[int(type)](w.view, x.data(), cols, n, batch.data(), rows);
      for (int64_t t = 0; t < n; ++t) {
        k->matmul[int(type)](w.view, x.data() + t * cols, cols, 1, single.data(), rows);
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(batch[size_t(t * rows + r)], single[size_t(r)]) << shape_name(*k, type, rows, cols, n) << " t=" << t;
      }
    }
}

TEST(GroupedKernels, NoHeapAllocationInsideKernelCalls) {
  struct Case { int64_t rows, cols, tokens; };
  const Case cases[] = {{16, 70, 3}, {1024, 1100, 1}, {256, 1100, 64}, {16, 70000, 2}};
  for (int threads : {1, 0}) {
    kernels::set_num_threads(threads);
    for (const kernels::KernelTable* k : test::fast_tables())
      for (WeightType type : kGroupTypes)
        for (const Case& c : cases) {
          const test::Packed w = pack_random_grouped(type, c.rows, c.cols, 3);
          const std::vector<float> x = random_acts(c.tokens * c.cols, 4);
          std::vector<float> y(size_t(c.tokens * c.rows));
          k->matmul[int(type)](w.view, x.data(), c.cols, c.tokens, y.data(), c.rows);  // warm-up
          int64_t count = 0;
          {
            test::CountAllocations counter;
            k->matmul[int(type)](w.view, x.data(), c.cols, c.tokens, y.data(), c.rows);
            count = counter.count();
          }
          EXPECT_EQ(count, 0) << shape_name(*k, type, c.rows, c.cols, c.tokens) << " grouped threads=" << threads;
        }
  }
  kernels::set_num_threads(0);
}

// Grouped views are a layout for matmul; the transposed product and get_row still work on them
// (through the reference decode) and agree with the row-major copy of the same weights.
TEST(GroupedKernels, TransposedProductAndGetRowOnGroupedViews) {
  for (const kernels::KernelTable* k : test::fast_tables())
    for (WeightType type : kGroupTypes) {
      const int64_t rows = 32, cols = 300, n = 3;
      const test::Packed g = pack_random_grouped(type, rows, cols, 41);
      const test::Packed rm = test::pack_random(type, rows, cols, 41);
      const std::vector<float> x = random_acts(n * rows, 42);
      std::vector<float> yg(size_t(n * cols)), yr(size_t(n * cols));
      k->matmul_t[int(type)](g.view, x.data(), rows, n, yg.data(), cols);
      kernels::reference_kernels().matmul_t[int(type)](rm.view, x.data(), rows, n, yr.data(), cols);
      for (size_t i = 0; i < yr.size(); ++i)
        ASSERT_NEAR(yg[i], yr[i], 1e-4 * (1 + std::fabs(yr[i]))) << k->name << " " << weight_type_name(type);
      std::vector<float> got(static_cast<size_t>(cols)), want(static_cast<size_t>(cols));
      for (int64_t r : {0, 5, 17, 31}) {
        k->get_row(g.view, r, got.data());
        dequantize_row(type, rm.view.row(r), cols, want.data());
        ASSERT_EQ(got, want) << k->name << " " << weight_type_name(type) << " r=" << r;
      }
    }
}

}  // namespace
}  // namespace mote
