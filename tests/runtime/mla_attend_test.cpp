// blocks::mla_attend's wiring of the attention kernel (kernels/attention.h): the query in two
// pieces (q_lat, and q_pe at dims dn..qk of each head of q), the shared [c_kv | k_pe] cache rows.
// This binary runs on the reference table (reference_kernels_env.cpp); this test switches to
// each fast table for a moment and compares it with the reference at f32 rounding, with and
// without a workspace (the results must be identical), then restores the reference table.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "blocks/mla.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "runtime/test_backend.h"

namespace mote::blocks {
namespace {

TEST(MlaAttend, FastTablesMatchTheReferenceWithAndWithoutWorkspace) {
  MlaDims d;
  d.n_heads = 5;
  d.kv_lora = 37;
  d.dn = 4;
  d.dr = 6;
  d.dv = 3;
  d.softmax_scale = 0.3f;
  const int64_t T = 3, start = 1000, n_pos = start + T, nh = d.n_heads, c = d.kv_lora;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> q(size_t(T * nh * d.qk())), q_lat(size_t(T * nh * c)), cache(size_t(n_pos * d.cache_dim()));
  for (auto* v : {&q, &q_lat, &cache})
    for (float& x : *v) x = u(rng);
  std::vector<float> work(size_t(mla_workspace_floats(d) * T));
  std::vector<float> want(size_t(T * nh * c)), got(want.size()), got_work(want.size());
  mla_attend(test::reference_backend(), d, q.data(), q_lat.data(), T, start, cache.data(), nullptr, 0, want.data());
  for (const char* name : {"avx2", "avx512", "neon"}) {
    const kernels::KernelTable* table = kernels::find_kernels(name);
    if (table == nullptr || kernels::find_attention(name) == nullptr) continue;
    backend::CpuBackend b(*table, 0);
    mla_attend(b, d, q.data(), q_lat.data(), T, start, cache.data(), nullptr, 0, got.data());
    // Decode-sized calls take the key split when there is a workspace and several threads.
    for (int64_t t = 0; t < T; ++t)
      mla_attend(b, d, q.data() + t * nh * d.qk(), q_lat.data() + t * nh * c, 1, start + t, cache.data(), work.data(),
                 int64_t(work.size()), got_work.data() + t * nh * c);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 2e-5) << name << " at " << i;
      ASSERT_EQ(got[i], got_work[i]) << name << " at " << i;
    }
  }
}

}  // namespace
}  // namespace mote::blocks
