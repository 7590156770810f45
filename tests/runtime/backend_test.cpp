// The backend seam (backend/backend.h): create_backend's choices and errors, the CPU backend's
// memory contract and ops against the code they replaced, and Model::open's backend options.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "common/session_logits.h"
#include "kernels/router.h"
#include "model/model.h"
#include "runtime/tiny_model.h"

namespace mote {
namespace {

TEST(Backend, CreateChoosesTheTableAndRejectsUnknownNames) {
  backend::BackendOptions o;
  o.kernels = "reference";
  auto cpu = backend::create_backend(o);
  ASSERT_TRUE(cpu) << cpu.status().to_string();
  EXPECT_STREQ((*cpu)->name(), "cpu");
  EXPECT_STREQ((*cpu)->kernels_name(), "reference");
  EXPECT_TRUE((*cpu)->unified_memory());
  o.kernels = "no_such_table";
  auto bad = backend::create_backend(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("no_such_table"), std::string::npos) << bad.status().message();
  o.kernels.clear();
  o.kind = backend::BackendKind::kStaging;
  auto staging = backend::create_backend(o);  // the test double (tests/backend covers its ops)
  ASSERT_TRUE(staging) << staging.status().to_string();
  EXPECT_STREQ((*staging)->name(), "staging");
  EXPECT_FALSE((*staging)->unified_memory());
}

TEST(Backend, CpuOwnsAPoolOnlyWhenAskedForThreads) {
  backend::CpuBackend none(kernels::reference_kernels(), 0);
  EXPECT_EQ(none.thread_pool(), nullptr);
  EXPECT_EQ(none.n_threads(), kernels::num_threads());
  backend::CpuBackend one(kernels::reference_kernels(), 1);
  ASSERT_NE(one.thread_pool(), nullptr);
  EXPECT_EQ(one.n_threads(), 1);
}

TEST(Backend, CpuMemoryIsAlignedAndPlacementIsTheView) {
  backend::CpuBackend b(kernels::reference_kernels(), 0);
  void* p = b.alloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  const float host[3] = {1, 2, 3};
  b.upload(p, host, sizeof host);
  float back[3] = {};
  b.download(back, p, sizeof back);
  EXPECT_EQ(back[2], 3.0f);
  b.free(p);
  const WeightView v = kernels::f32_view(host, 1, 3);
  auto placed = b.place_weight(v);
  ASSERT_TRUE(placed);
  EXPECT_EQ(placed->data, v.data);
  EXPECT_EQ(*b.place_floats(host, 3), host);
}

// route over several tokens equals kernels::route token by token (DeepSeek-V3's noaux_tc).
TEST(Backend, RouteIsTheRouterPerToken) {
  backend::CpuBackend b(kernels::reference_kernels(), 0);
  kernels::RouterParams p;
  p.scoring = ScoringFunc::kSigmoid;
  p.method = TopkMethod::kNoauxTc;
  p.n_experts = 16, p.n_group = 4, p.topk_group = 2, p.top_k = 4, p.norm_topk_prob = true;
  p.routed_scaling_factor = 2.5f;
  const int64_t T = 5, E = p.n_experts, K = p.top_k;
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 2.0f);
  std::vector<float> logits(size_t(T * E)), bias(static_cast<size_t>(E)), scratch(size_t(p.scratch_size()));
  for (float& x : logits) x = n(rng);
  for (float& x : bias) x = 0.1f * n(rng);
  std::vector<int32_t> idx(size_t(T * K)), want_idx(idx.size());
  std::vector<float> w(size_t(T * K)), want_w(w.size());
  b.route(p, logits.data(), bias.data(), scratch.data(), T, idx.data(), w.data());
  for (int64_t t = 0; t < T; ++t)
    kernels::route(p, logits.data() + t * E, bias.data(), scratch.data(), want_idx.data() + t * K,
                   want_w.data() + t * K);
  EXPECT_EQ(idx, want_idx);
  EXPECT_EQ(w, want_w);
}

// ModelOptions::backend picks the model's kernels whatever the process's table is, and an
// unknown name fails the open with the name in the message.
TEST(Backend, ModelOpensOnTheBackendItsOptionsName) {
  const std::string path = test::tiny_path("backend_model.mote");
  test::write_tiny_model(path, test::TinyConfig{});
  ModelOptions o;
  o.backend.kernels = "reference";
  o.backend.n_threads = 1;
  auto m = Model::open(path, o);
  ASSERT_TRUE(m) << m.status().to_string();
  EXPECT_STREQ((*m)->backend().kernels_name(), "reference");
  EXPECT_EQ((*m)->backend().n_threads(), 1);
  auto plain = Model::open(path);  // this binary's process table: the reference (reference_kernels_env.cpp)
  ASSERT_TRUE(plain);
  const std::vector<int32_t> ids = {1, 5, 9, 2};
  EXPECT_TRUE(
      test::same_bits(test::prefill_then_decode_logits(**m, ids), test::prefill_then_decode_logits(**plain, ids)));
  o.backend.kernels = "bogus";
  auto bad = Model::open(path, o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("bogus"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace mote
