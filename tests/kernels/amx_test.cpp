// The AMX-INT8 loops for row-grouped weights (x86_amx.cpp) against the AVX-512 VNNI loops they
// must equal bit for bit, on odd shapes: row ranges, column-chunked calls that accumulate, token
// counts around the 16-token tile (the remainder goes through the VNNI loop), wide rows that
// span several unpacked column slices; then the table's matmul, swiglu and expert FFNs at prefill
// sizes. Skipped where this CPU or process has no AMX (MOTE_AMX=0 included).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

const WeightType kTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1};

cpu::QDotRowsFn grouped(const cpu::IsaOps& ops, WeightType type) {
  switch (type) {
    case WeightType::Q8_0: return ops.qdot_grouped_q8_0;
    case WeightType::Q4_0: return ops.qdot_grouped_q4_0;
    default: return ops.qdot_grouped_q2_1;
  }
}

std::vector<cpu::ActBlock> quantised(int64_t cols, int64_t n, int64_t b0, int64_t nb, uint32_t seed) {
  const int64_t nb_row = (cols + 31) / 32;
  const std::vector<float> x = test::random_acts(n * cols, seed);
  std::vector<cpu::ActBlock> row(static_cast<size_t>(nb_row));
  std::vector<cpu::ActBlock> out(static_cast<size_t>(n * nb));
  for (int64_t t = 0; t < n; ++t) {
    cpu::quantize_acts_ref(x.data() + t * cols, cols, row.data());
    for (int64_t j = 0; j < nb; ++j) out[size_t(t * nb + j)] = row[size_t(b0 + j)];
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(AmxKernels, GroupedLoopsAreBitIdenticalToAvx512) {
  const cpu::IsaOps* amx = cpu::isa_ops("avx512-amx");
  const cpu::IsaOps* vnni = cpu::isa_ops("avx512");
  if (!amx) GTEST_SKIP() << "no AMX on this CPU or process";
  ASSERT_NE(vnni, nullptr);
  uint32_t seed = 900;
  struct Shape { int64_t rows, cols; };
  // 4100 and 9000 columns: Q4_0 / Q2_1 unpack 128 blocks (4096 columns) per slice.
  for (const Shape s : {Shape{16, 37}, Shape{48, 300}, Shape{272, 4100}, Shape{32, 9000}})
    for (WeightType type : kTypes) {
      const test::Packed w = test::pack_random_grouped(type, s.rows, s.cols, seed++);
      const int64_t nb_row = (s.cols + 31) / 32;
      for (int64_t n : {1, 15, 16, 17, 31, 32, 33, 48, 64, 77}) {
        // One call over all blocks; then blocks [0, split) written and the rest accumulated.
        for (int64_t split : {nb_row, nb_row / 3 + 1}) {
          if (split > nb_row) continue;
          const int64_t r0 = s.rows >= 48 ? 16 : 0, r1 = s.rows >= 48 ? s.rows - 16 : s.rows;
          const int64_t ys = s.rows + 5;
          std::vector<float> want(size_t(n * ys), -3.0f), got = want;
          const uint32_t acts_seed = seed++;
          for (int pass = 0; pass < 2; ++pass) {
            const int64_t b0 = pass == 0 ? 0 : split, nb = pass == 0 ? split : nb_row - split;
            if (nb == 0) continue;
            const std::vector<cpu::ActBlock> acts = quantised(s.cols, n, b0, nb, acts_seed + uint32_t(pass));
            grouped(*vnni, type)(w.view, r0, r1, b0, nb, acts.data(), n, want.data(), ys, pass > 0);
            grouped(*amx, type)(w.view, r0, r1, b0, nb, acts.data(), n, got.data(), ys, pass > 0);
          }
          ASSERT_TRUE(same_bits(want, got)) << weight_type_name(type) << " " << s.rows << "x" << s.cols
                                            << " tokens=" << n << " split=" << split;
        }
      }
    }
}

// The table entries at prefill batch sizes (the batch is quantised once into the per-thread
// buffer, then split over threads by rows): bit-identical to the AVX-512 table.
TEST(AmxKernels, TableMatmulAndSwigluMatchAvx512AtPrefillSizes) {
  const kernels::KernelTable* amx = kernels::find_kernels("avx512-amx");
  const kernels::KernelTable* vnni = kernels::find_kernels("avx512");
  if (!amx) GTEST_SKIP() << "no AMX on this CPU or process";
  uint32_t seed = 1700;
  for (WeightType type : kTypes)
    for (int64_t n : {16, 70, 200}) {
      const int64_t rows = 144, cols = 2080;
      const test::Packed gate = test::pack_random_grouped(type, rows, cols, seed++);
      const test::Packed up = test::pack_random_grouped(type, rows, cols, seed++);
      const std::vector<float> x = test::random_acts(n * (cols + 3), seed++);
      std::vector<float> want(size_t(n * rows)), got(want.size()), scratch(want.size());
      vnni->matmul[int(type)](gate.view, x.data(), cols + 3, n, want.data(), rows);
      amx->matmul[int(type)](gate.view, x.data(), cols + 3, n, got.data(), rows);
      ASSERT_TRUE(same_bits(want, got)) << "matmul " << weight_type_name(type) << " tokens=" << n;
      vnni->swiglu(gate.view, up.view, x.data(), cols + 3, n, nullptr, want.data(), rows, scratch.data());
      amx->swiglu(gate.view, up.view, x.data(), cols + 3, n, nullptr, got.data(), rows, scratch.data());
      ASSERT_TRUE(same_bits(want, got)) << "swiglu " << weight_type_name(type) << " tokens=" << n;
    }
}

}  // namespace
}  // namespace mote
