// The CUDA backend's router and attention bodies (platforms/cuda/lane_algos.h) run on the CPU as
// one lane (HostLanes) against kernels::route and kernels::attention_ref: every scoring and
// top-k method, group masking, biases; GQA and MLA-shaped attention with windows, sinks, rings,
// typed (f16, q8_0) rows and the key range split 1, 3 or 7 ways and merged. On the GPU the same
// code runs with 32 lanes (a warp); only the lane reductions differ.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cuda/lane_algos.h"
#include "backend/backend_test_util.h"
#include "kernels/attention.h"
#include "kernels/kv_rows.h"
#include "kernels/router.h"

namespace mote::test {
namespace {

TEST(CudaLaneAlgos, RouteMatchesKernelsRoute) {
  struct Case {
    ScoringFunc scoring;
    TopkMethod method;
    int64_t E, groups, topk_group, k;
    bool norm, bias;
  };
  const Case cases[] = {
      {ScoringFunc::kSoftmax, TopkMethod::kGreedy, 64, 1, 1, 8, false, false},
      {ScoringFunc::kSoftmax, TopkMethod::kGreedy, 60, 1, 1, 4, true, false},
      {ScoringFunc::kSoftmax, TopkMethod::kGroupLimitedGreedy, 64, 8, 3, 6, false, false},
      {ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 256, 8, 4, 8, true, true},
      {ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 16, 4, 2, 3, false, true},
      {ScoringFunc::kSigmoid, TopkMethod::kGreedy, 33, 1, 1, 5, true, false},
      {ScoringFunc::kSoftmaxTopk, TopkMethod::kGreedy, 32, 1, 1, 4, false, true},
      {ScoringFunc::kSoftmaxTopk, TopkMethod::kGreedy, 128, 1, 1, 4, false, false},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    kernels::RouterParams p;
    p.scoring = c.scoring;
    p.method = c.method;
    p.n_experts = c.E;
    p.n_group = c.groups;
    p.topk_group = c.topk_group;
    p.top_k = c.k;
    p.norm_topk_prob = c.norm;
    p.routed_scaling_factor = c.norm ? 2.5f : 1.0f;
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> logits = random_floats(size_t(c.E), seed++, 4.0f);
      if (rep == 0) logits[3] = logits[5];  // a tie: the lower index wins
      const std::vector<float> bias = random_floats(size_t(c.E), seed++, 0.05f);
      const float* b = c.bias ? bias.data() : nullptr;
      std::vector<float> scratch(size_t(p.scratch_size())), want_w(size_t(c.k)), got_w(size_t(c.k));
      std::vector<int32_t> want_i(size_t(c.k)), got_i(size_t(c.k));
      kernels::route(p, logits.data(), b, scratch.data(), want_i.data(), want_w.data());
      std::vector<float> s(size_t(p.scratch_size()));
      cuda::route_token(cuda::HostLanes{}, p, logits.data(), b, s.data(), s.data() + c.E, s.data() + 2 * c.E,
                        got_i.data(), got_w.data());
      EXPECT_EQ(got_i, want_i) << "case E=" << c.E << " rep " << rep;
      for (int64_t k = 0; k < c.k; ++k) EXPECT_NEAR(got_w[size_t(k)], want_w[size_t(k)], 1e-6f * (1 + want_w[size_t(k)]));
    }
  }
}

struct AttnCase {
  const char* name;
  int64_t T, start, window, H, KV, dk, dv, ring;
  bool sinks, mla;
  KvType kv;
};

// Runs the split + merge algorithm on the host for every (token, head) and compares with
// attention_ref.
void check_attention(const AttnCase& c, int64_t n_splits) {
  const int64_t P = c.start + c.T;  // positions 0 .. P-1
  const int64_t rows = c.ring > 0 ? c.ring : P;
  const int64_t dk_a = c.mla ? c.dv : c.dk;  // MLA: q = [q_lat (kv_lora) | q_pe]
  const int64_t row_floats = c.mla ? c.dk : c.KV * (c.dk + c.dv);  // GQA rows [K heads | V heads]
  std::vector<float> cache = random_floats(size_t(rows * row_floats), 11);
  const std::vector<float> q = random_floats(size_t(c.T * c.H * dk_a), 12);
  const std::vector<float> q2 = random_floats(size_t(c.T * c.H * (c.dk - dk_a) + 1), 13);
  const std::vector<float> sinks = random_floats(size_t(c.H), 14, 2.0f);
  kernels::AttentionArgs a;
  a.n_tokens = c.T, a.start = c.start, a.window = c.window, a.n_heads = c.H, a.n_kv_heads = c.KV;
  a.dk = c.dk, a.dv = c.dv, a.scale = 1.0f / std::sqrt(float(c.dk));
  a.q = q.data(), a.q_token_stride = c.H * dk_a, a.q_head_stride = dk_a;
  if (c.mla) {
    a.q2 = q2.data(), a.dk_a = dk_a, a.q2_token_stride = c.H * (c.dk - dk_a), a.q2_head_stride = c.dk - dk_a;
    a.k = cache.data(), a.k_row_stride = row_floats, a.k_head_stride = 0;
    a.v = cache.data(), a.v_row_stride = row_floats, a.v_head_stride = 0;
  } else {
    a.k = cache.data(), a.k_row_stride = row_floats, a.k_head_stride = c.dk;
    a.v = cache.data() + c.KV * c.dk, a.v_row_stride = row_floats, a.v_head_stride = c.dv;
  }
  std::vector<uint8_t> typed;
  if (c.kv != KvType::kF32) {
    // One piece per head (GQA) or one latent piece (MLA), pieces `piece` bytes apart.
    const int64_t kp = kv_piece_bytes(c.kv, c.dk), vp = kv_piece_bytes(c.kv, c.dv);
    const int64_t row_bytes = c.mla ? kp : c.KV * (kp + vp);
    typed.resize(size_t(rows * row_bytes));
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = cache.data() + r * row_floats;
      uint8_t* dst = typed.data() + r * row_bytes;
      if (c.mla) {
        kernels::store_kv_piece(c.kv, src, c.dk, dst);
      } else {
        for (int64_t g = 0; g < c.KV; ++g) {
          kernels::store_kv_piece(c.kv, src + g * c.dk, c.dk, dst + g * kp);
          kernels::store_kv_piece(c.kv, src + c.KV * c.dk + g * c.dv, c.dv, dst + c.KV * kp + g * vp);
        }
      }
    }
    a.kv_type = c.kv;
    a.k_bytes = typed.data(), a.k_row_bytes = row_bytes, a.k_head_bytes = c.mla ? 0 : kp;
    a.v_bytes = c.mla ? typed.data() : typed.data() + c.KV * kp, a.v_row_bytes = row_bytes;
    a.v_head_bytes = c.mla ? 0 : vp;
  }
  a.ring_rows = c.ring;
  a.sinks = c.sinks ? sinks.data() : nullptr;
  std::vector<float> want(size_t(c.T * c.H * c.dv)), got(want.size());
  a.out = want.data(), a.out_token_stride = c.H * c.dv, a.out_head_stride = c.dv;
  kernels::attention_ref(a);
  const int64_t pf = cuda::attn_part_floats(c.dv);
  std::vector<float> parts(size_t(n_splits * pf)), q_buf(size_t(c.dk));
  for (int64_t t = 0; t < c.T; ++t)
    for (int64_t h = 0; h < c.H; ++h) {
      for (int64_t s = 0; s < n_splits; ++s)
        cuda::attention_partial(cuda::HostLanes{}, a, t, h, s, n_splits, q_buf.data(), parts.data() + s * pf);
      for (int64_t d = 0; d < c.dv; ++d)
        got[size_t(t * c.H * c.dv + h * c.dv + d)] =
            cuda::attention_merge(parts.data(), n_splits, pf, a.sinks ? a.sinks + h : nullptr, d);
    }
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-6f + 2e-5f * std::fabs(want[i])) << c.name << " splits " << n_splits << " at " << i;
}

TEST(CudaLaneAlgos, AttentionSplitsMatchAttentionRef) {
  const AttnCase cases[] = {
      {"gqa decode", 1, 40, 0, 4, 2, 20, 20, 0, false, false, KvType::kF32},
      {"gqa prefill", 5, 0, 0, 6, 3, 33, 17, 0, false, false, KvType::kF32},
      {"gqa window sinks", 4, 30, 8, 4, 1, 16, 16, 0, true, false, KvType::kF32},
      {"gqa ring", 3, 50, 6, 2, 2, 8, 8, 9, true, false, KvType::kF32},
      {"gqa f16", 2, 20, 0, 4, 2, 24, 24, 0, false, false, KvType::kF16},
      {"gqa q8_0 ring", 3, 60, 10, 4, 2, 40, 40, 13, true, false, KvType::kQ8_0},
      {"mla decode", 1, 70, 0, 3, 1, 40 + 8, 40, 0, false, true, KvType::kF32},
      {"mla prefill q8_0", 4, 5, 0, 2, 1, 64 + 16, 64, 0, false, true, KvType::kQ8_0},
      {"mla wide dv", 2, 9, 0, 2, 1, 40 + 8, 40, 0, false, true, KvType::kF16},
  };
  for (const AttnCase& c : cases)
    for (int64_t splits : {1, 3, 7}) check_attention(c, splits);
}

}  // namespace
}  // namespace mote::test
