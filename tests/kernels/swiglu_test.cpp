// The fused SwiGLU entry of every kernel table against the same table's two matmuls and the
// combine: bit-identical (fusing must never change the numbers), on odd shapes, both layouts,
// batches on either side of the on-stack quantisation limit, and several thread counts.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/kernel_test_util.h"

namespace mote {
namespace {

using test::all_tables;
using Weights = test::Packed;

Weights make_weights(WeightType type, int64_t rows, int64_t cols, bool grouped, uint32_t seed) {
  return test::pack_random_layout(type, rows, cols, grouped, seed);
}

void check(const kernels::KernelTable& k, WeightType type, int64_t rows, int64_t cols, int64_t n, bool grouped) {
  const Weights gate = make_weights(type, rows, cols, grouped, 1), up = make_weights(type, rows, cols, grouped, 2);
  const std::vector<float> x = test::random_acts(n * cols, 3);
  std::vector<float> want(static_cast<size_t>(n * rows)), up_out(want.size());
  k.matmul[int(type)](gate.view, x.data(), cols, n, want.data(), rows);
  k.matmul[int(type)](up.view, x.data(), cols, n, up_out.data(), rows);
  for (size_t i = 0; i < want.size(); ++i) want[i] = kernels::silu_times(want[i], up_out[i]);
  for (int threads : {1, 2}) {
    kernels::set_num_threads(threads);
    std::vector<float> got(want.size(), -1.0f), scratch(want.size(), -1.0f);
    k.swiglu(gate.view, up.view, x.data(), cols, n, nullptr, got.data(), rows, scratch.data());
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
        << k.name << " " << weight_type_name(type) << (grouped ? " grouped " : " ") << rows << "x" << cols
        << " tokens " << n << " threads " << threads;
  }
  kernels::set_num_threads(0);
}

TEST(Swiglu, FusedEqualsTwoMatmulsAndTheCombine) {
  for (const auto* k : all_tables())
    for (WeightType type : {WeightType::F32, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1,
                             WeightType::MXFP4})
      for (int64_t n : {1, 3, 9})
        for (auto [rows, cols] : {std::pair<int64_t, int64_t>{37, 300}, {48, 77}}) {
          check(*k, type, rows, cols, n, false);
          if (row_group_type(type) && rows % kRowGroup == 0) check(*k, type, rows, cols, n, true);
        }
}

TEST(Swiglu, LargeWorkAndBatchesBeyondTheStackBufferAlsoMatch) {
  for (const auto* k : all_tables())
    for (WeightType type : {WeightType::Q8_0, WeightType::Q4_0}) {
      check(*k, type, 272, 4100, 2, true);   // parallel path
      check(*k, type, 64, 4100, 17, false);  // 129 blocks x 17 tokens > the on-stack buffer: unfused
    }
}

// RMSNorm fused with quantisation: the normalised rows equal rms_norm_row's bit for bit, and
// the fused SwiGLU given those quantised rows equals the one that quantises by itself.
TEST(Swiglu, NormQuantisedRowsGiveTheSameResult) {
  const int64_t cols = 300, rows = 48;
  for (const auto* k : all_tables())
    for (int64_t n : {1, 5, 40})  // 40 x 10 blocks: fine either way
      for (bool grouped : {false, true}) {
        const Weights gate = make_weights(WeightType::Q4_0, rows, cols, grouped, 4);
        const Weights up = make_weights(WeightType::Q4_0, rows, cols, grouped, 5);
        const std::vector<float> x = test::random_acts(n * cols, 6), w = test::random_acts(cols, 7);
        std::vector<float> normed(x.size()), want_normed(x.size());
        for (int64_t t = 0; t < n; ++t) kernels::rms_norm_row(x.data() + t * cols, w.data(), cols, 1e-6f, want_normed.data() + t * cols);
        std::vector<uint8_t> qbytes(static_cast<size_t>(n * kernels::quantized_row_bytes(cols)));
        kernels::QuantizedRows q{qbytes.data(), cols, false};
        k->rms_norm_rows(x.data(), cols, n, w.data(), cols, 1e-6f, normed.data(), cols, &q);
        ASSERT_EQ(normed, want_normed) << k->name;
        EXPECT_EQ(q.valid, std::string(k->name) != "reference") << k->name;
        std::vector<float> a(static_cast<size_t>(n * rows)), b(a.size()), scratch(a.size());
        k->swiglu(gate.view, up.view, normed.data(), cols, n, nullptr, a.data(), rows, scratch.data());
        k->swiglu(gate.view, up.view, normed.data(), cols, n, q.valid ? qbytes.data() : nullptr, b.data(), rows,
                  scratch.data());
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << k->name << " n " << n;
      }
}

}  // namespace
}  // namespace mote
