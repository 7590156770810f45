// Experts scheduled together (KernelTable::expert_ffns) against the same table's swiglu + matmul
// per expert: bit-identical outputs, for mixed types and layouts, pre-quantised inputs or not,
// 1 and 2 threads, and the job-by-job fallback (float weights, too many activations).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/kernel_test_util.h"
#include "kernels/quant.h"

namespace mote {
namespace {

using Matrix = test::Packed;
using test::all_tables;

Matrix make(WeightType type, int64_t rows, int64_t cols, bool grouped, uint32_t seed) {
  return test::pack_random_layout(type, rows, cols, grouped, seed);
}

struct Expert {
  Matrix gate, up, down;
  int64_t n_tokens;
  std::vector<float> x;
  std::vector<uint8_t> x_q;
};

Expert make_expert(WeightType type, bool grouped, int64_t I, int64_t H, int64_t n, uint32_t seed) {
  return {make(type, I, H, grouped, seed), make(type, I, H, grouped, seed + 1), make(type, H, I, grouped && H % 16 == 0, seed + 2),
          n, test::random_acts(n * H, seed + 3), {}};
}

// Runs the jobs through expert_ffns, or one by one with swiglu + matmul; returns every output.
std::vector<float> run(const kernels::KernelTable& k, std::vector<Expert>& experts, bool together, bool quantised) {
  std::vector<std::vector<float>> hidden, scratch, out, normed_x;
  std::vector<kernels::ExpertJob> jobs;
  normed_x.reserve(experts.size());
  for (Expert& e : experts) {
    const int64_t I = e.gate.view.rows, H = e.gate.view.cols;
    hidden.emplace_back(static_cast<size_t>(e.n_tokens * I));
    scratch.emplace_back(static_cast<size_t>(e.n_tokens * I));
    out.emplace_back(static_cast<size_t>(e.n_tokens * H), -1.0f);
    const uint8_t* q = nullptr;
    normed_x.push_back(e.x);
    if (quantised) {  // the input normalised (weight 1) and quantised in one pass, as the FFN does
      e.x_q.resize(static_cast<size_t>(e.n_tokens * kernels::quantized_row_bytes(H)));
      const std::vector<float> ones(static_cast<size_t>(H), 1.0f);
      kernels::QuantizedRows rows{e.x_q.data(), H, false};
      k.rms_norm_rows(e.x.data(), H, e.n_tokens, ones.data(), H, 1e-6f, normed_x.back().data(), H, &rows);
      q = rows.valid ? e.x_q.data() : nullptr;
    }
    jobs.push_back({e.gate.view, e.up.view, e.down.view, normed_x.back().data(), q, e.n_tokens, hidden.back().data(),
                    scratch.back().data(), out.back().data()});
  }
  if (together) k.expert_ffns(jobs.data(), int64_t(jobs.size()));
  else kernels::expert_ffns_one_by_one(k, jobs.data(), int64_t(jobs.size()));
  std::vector<float> all;
  for (size_t i = 0; i < out.size(); ++i) {
    all.insert(all.end(), hidden[i].begin(), hidden[i].end());
    all.insert(all.end(), out[i].begin(), out[i].end());
  }
  return all;
}

void expect_same(std::vector<Expert> experts, const char* what) {
  for (const auto* k : all_tables())
    for (bool quantised : {false, true})
      for (int threads : {1, 2}) {
        kernels::set_num_threads(threads);
        const std::vector<float> a = run(*k, experts, false, quantised), b = run(*k, experts, true, quantised);
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
            << what << " " << k->name << (quantised ? " quantised" : "") << " threads " << threads;
      }
  kernels::set_num_threads(0);
}

TEST(ExpertJobs, TogetherEqualsOneByOne) {
  std::vector<Expert> decode;  // one token each, as in decode; mixed types and layouts
  decode.push_back(make_expert(WeightType::Q4_0, true, 48, 96, 1, 10));
  decode.push_back(make_expert(WeightType::Q8_0, false, 37, 96, 1, 20));
  decode.push_back(make_expert(WeightType::Q2_1, true, 64, 96, 2, 30));
  decode.push_back(make_expert(WeightType::Q4_0, false, 40, 96, 3, 40));
  decode.push_back(make_expert(WeightType::MXFP4, false, 37, 96, 2, 60));  // gpt-oss experts
  expect_same(std::move(decode), "mixed");
}

TEST(ExpertJobs, LargeExpertsSplitAcrossThreads) {
  std::vector<Expert> big;  // 2 x 1 MiB-ish experts: the parallel path
  for (uint32_t i = 0; i < 4; ++i) big.push_back(make_expert(WeightType::Q4_0, true, 512, 1024, 1, 50 + 10 * i));
  expect_same(std::move(big), "big");
}

TEST(ExpertJobs, FallsBackForFloatWeightsAndLargeBatches) {
  std::vector<Expert> floats;
  floats.push_back(make_expert(WeightType::BF16, false, 32, 64, 1, 60));
  floats.push_back(make_expert(WeightType::BF16, false, 32, 64, 1, 70));
  expect_same(std::move(floats), "bf16");
  std::vector<Expert> wide;  // 2 x 5 tokens x 129 blocks > the on-stack activation buffer
  wide.push_back(make_expert(WeightType::Q8_0, false, 16, 4100, 5, 80));
  wide.push_back(make_expert(WeightType::Q8_0, false, 16, 4100, 5, 90));
  expect_same(std::move(wide), "wide");
}

}  // namespace
}  // namespace mote
