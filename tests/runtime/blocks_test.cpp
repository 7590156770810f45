// Blocks against direct implementations: RMSNorm, interleaved RoPE, SwiGLU, MoE, and the
// weight-absorbed MLA against the naive materialised-K/V attention.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "blocks/ffn.h"
#include "blocks/mla.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/kernels.h"
#include "runtime/test_backend.h"
#include "kernels/quant.h"
#include "runtime/naive_forward.h"

namespace mote::blocks {
namespace {

using kernels::rms_norm;
using kernels::rms_norm_rows;
using kernels::rope_tables;
using kernels::rope_interleaved;
using kernels::rope_half;

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  std::vector<float> vec(size_t n, float scale = 1.0f) {
    std::vector<float> v(n);
    for (float& x : v) x = dist_(gen_) * scale;
    return v;
  }

 private:
  std::mt19937 gen_;
  std::uniform_real_distribution<float> dist_{-1.0f, 1.0f};
};

// A random f32 matrix [rows, cols] that owns its data.
struct Matrix {
  std::vector<float> data;
  WeightView view;
  Matrix(Random& r, int64_t rows, int64_t cols, float gain = 1.0f)
      : data(r.vec(size_t(rows * cols), gain * std::sqrt(3.0f / float(cols)))),
        view(kernels::f32_view(data.data(), rows, cols)) {}
};

TEST(Blocks, RmsNormHandValues) {
  const float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f};
  float y[4];
  rms_norm(x, w, 4, 0.0f, y);
  const float r = 1.0f / std::sqrt(30.0f / 4.0f);
  EXPECT_FLOAT_EQ(y[0], r);
  EXPECT_FLOAT_EQ(y[2], 6 * r);
  EXPECT_FLOAT_EQ(y[3], 2 * r);
  float z[4] = {1, 2, 3, 4};  // in place
  rms_norm(z, w, 4, 1e-6f, z);
  EXPECT_NEAR(z[1], 2 / std::sqrt(7.5 + 1e-6), 1e-6);
}

TEST(Blocks, RopeInterleavedIsAComplexRotationOfPairs) {
  RopeParams rope;
  rope.dim = 8;
  rope.inv_freq = {1.0f, 0.3f, 0.05f, 0.001f};
  rope.attention_factor = 1.25f;
  std::vector<float> cos(2 * 4), sin(2 * 4);
  rope_tables(rope, 7, 2, cos.data(), sin.data());  // positions 7 and 8
  Random r(5);
  std::vector<float> x = r.vec(8), orig = x;
  rope_interleaved(x.data(), 8, cos.data() + 4, sin.data() + 4);  // position 8
  for (int j = 0; j < 4; ++j) {
    const std::complex<double> z(orig[size_t(2 * j)], orig[size_t(2 * j + 1)]);
    const std::complex<double> want = z * std::polar(1.25, 8.0 * double(rope.inv_freq[size_t(j)]));
    EXPECT_NEAR(x[size_t(2 * j)], want.real(), 1e-5);
    EXPECT_NEAR(x[size_t(2 * j + 1)], want.imag(), 1e-5);
  }
}

// HF applies DeepSeek RoPE by permuting [evens, odds] and rotate_half; q.k must be the same.
TEST(Blocks, RopeInterleavedMatchesHfPermutedRotateHalfDotProducts) {
  RopeParams rope;
  rope.dim = 6;
  rope.inv_freq = {1.0f, 0.1f, 0.01f};
  std::vector<float> cq(3), sq(3), ck(3), sk(3);
  rope_tables(rope, 5, 1, cq.data(), sq.data());
  rope_tables(rope, 2, 1, ck.data(), sk.data());
  Random r(9);
  std::vector<float> q = r.vec(6), k = r.vec(6);
  auto hf = [&](const std::vector<float>& v, const std::vector<float>& c, const std::vector<float>& s) {
    std::vector<double> p(6), out(6);
    for (int j = 0; j < 3; ++j) { p[size_t(j)] = v[size_t(2 * j)]; p[size_t(j + 3)] = v[size_t(2 * j + 1)]; }
    for (int j = 0; j < 3; ++j) {
      out[size_t(j)] = p[size_t(j)] * c[size_t(j)] - p[size_t(j + 3)] * s[size_t(j)];
      out[size_t(j + 3)] = p[size_t(j + 3)] * c[size_t(j)] + p[size_t(j)] * s[size_t(j)];
    }
    return out;
  };
  const auto hq = hf(q, cq, sq), hk = hf(k, ck, sk);
  rope_interleaved(q.data(), 6, cq.data(), sq.data());
  rope_interleaved(k.data(), 6, ck.data(), sk.data());
  double ours = 0, theirs = 0;
  for (int i = 0; i < 6; ++i) {
    ours += double(q[size_t(i)]) * k[size_t(i)];
    theirs += hq[size_t(i)] * hk[size_t(i)];
  }
  EXPECT_NEAR(ours, theirs, 1e-5);
}

TEST(Blocks, SwigluMatchesNaive) {
  Random r(1);
  const int64_t H = 13, I = 7, T = 3;
  Matrix g(r, I, H), u(r, I, H), d(r, H, I);
  const ExpertWeights w{g.view, u.view, d.view};
  const std::vector<float> x = r.vec(size_t(T * H));
  std::vector<float> gate(size_t(T * I)), up(size_t(T * I)), out(size_t(T * H));
  swiglu_mlp(test::reference_backend(), w, x.data(), T, gate.data(), up.data(), out.data());
  for (int64_t t = 0; t < T; ++t) {
    const auto want = test::naive_swiglu(w, std::vector<double>(x.begin() + t * H, x.begin() + (t + 1) * H));
    for (int64_t i = 0; i < H; ++i) EXPECT_NEAR(out[size_t(t * H + i)], want[size_t(i)], 1e-5);
  }
}

TEST(Blocks, MoeFfnGroupsTokensPerExpertAndMatchesNaive) {
  Random r(2);
  HParams hp;
  hp.hidden_size = 10;
  hp.n_routed_experts = 8;
  hp.n_experts_per_tok = 3;
  hp.n_group = 4;
  hp.topk_group = 2;
  hp.topk_method = TopkMethod::kNoauxTc;
  hp.scoring_func = ScoringFunc::kSigmoid;
  hp.norm_topk_prob = true;
  hp.routed_scaling_factor = 2.5f;
  const int64_t H = 10, I = 6, Is = 12, E = 8, K = 3, T = 7;
  std::vector<Matrix> mats;
  mats.reserve(3 * E + 4);
  FfnWeights w;
  w.moe = true;
  w.router = mats.emplace_back(r, E, H, 3.0f).view;
  const std::vector<float> bias = r.vec(size_t(E), 0.2f);
  w.router_bias = bias.data();
  for (int64_t e = 0; e < E; ++e) {
    ExpertWeights x;
    x.gate = mats.emplace_back(r, I, H).view;
    x.up = mats.emplace_back(r, I, H).view;
    x.down = mats.emplace_back(r, H, I).view;
    w.experts.push_back(x);
  }
  w.shared.gate = mats.emplace_back(r, Is, H).view;
  w.shared.up = mats.emplace_back(r, Is, H).view;
  w.shared.down = mats.emplace_back(r, H, Is).view;

  const RouterParams rp = router_params(hp);
  std::vector<float> gate(size_t(T * Is)), up(size_t(T * Is)), gathered(size_t(T * H)), eo(size_t(T * H)),
      logits(size_t(T * E)), rs(size_t(rp.scratch_size())), sw(size_t(T * K)), slw(size_t(T * K));
  std::vector<int32_t> si(size_t(T * K)), ee(size_t(E + 1)), st(size_t(T * K));
  std::vector<int32_t> si_host(si.size());
  std::vector<float> sw_host(sw.size());
  FfnScratch s;
  s.gate = gate.data(), s.up = up.data(), s.gathered = gathered.data(), s.expert_out = eo.data();
  s.router_logits = logits.data(), s.route_scratch = rs.data(), s.sel_idx = si.data(), s.sel_weight = sw.data();
  s.sel_idx_host = si_host.data(), s.sel_weight_host = sw_host.data();
  s.expert_end = ee.data(), s.slot_token = st.data(), s.slot_weight = slw.data();
  const std::vector<float> x = r.vec(size_t(T * H));
  std::vector<float> out(size_t(T * H));
  moe_ffn(test::reference_backend(), rp, w, x.data(), T, H, s, out.data());
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int> route;
    const auto want = test::naive_moe(hp, w, std::vector<double>(x.begin() + t * H, x.begin() + (t + 1) * H), &route);
    for (int64_t i = 0; i < H; ++i) EXPECT_NEAR(out[size_t(t * H + i)], want[size_t(i)], 2e-5) << "token " << t;
  }
}

// Random MLA weights as f32 views; kv_b optionally stored as `kv_b_type` (quantised in place, as
// a converted file holds it: the attention reads W_UK/W_UV as row slices of it).
struct MlaFixture {
  HParams hp;
  std::vector<Matrix> mats;
  std::vector<float> q_a_norm, kv_a_norm;
  std::vector<uint8_t> kv_b_bytes;
  AttentionWeights w;

  MlaFixture(int64_t q_lora, uint32_t seed, WeightType kv_b_type = WeightType::F32) {
    Random r(seed);
    hp.hidden_size = 11;
    hp.n_heads = 3;
    hp.q_lora_rank = q_lora;
    hp.kv_lora_rank = 7;
    hp.qk_nope_head_dim = 5;
    hp.qk_rope_head_dim = 4;
    hp.v_head_dim = 6;
    hp.rms_norm_eps = 1e-6f;
    hp.yarn = true;
    hp.rope_factor = 4;
    hp.rope_original_max_position = 16;
    hp.mscale = 1.0;
    hp.mscale_all_dim = 0.8;
    hp.kv_cache_dim = hp.kv_lora_rank + hp.qk_rope_head_dim;
    compute_rope_params(&hp);
    const int64_t H = 11, nh = 3, dn = 5, dr = 4, dv = 6, c = 7, qk = dn + dr;
    mats.reserve(8);
    if (q_lora > 0) {
      w.q_a = mats.emplace_back(r, q_lora, H).view;
      w.q_b = mats.emplace_back(r, nh * qk, q_lora).view;
      q_a_norm = r.vec(size_t(q_lora));
      for (float& v : q_a_norm) v += 1.5f;
      w.q_a_norm = q_a_norm.data();
    } else {
      w.q = mats.emplace_back(r, nh * qk, H).view;
    }
    w.kv_a = mats.emplace_back(r, c + dr, H).view;
    kv_a_norm = r.vec(size_t(c));
    for (float& v : kv_a_norm) v += 1.5f;
    w.kv_a_norm = kv_a_norm.data();
    const Matrix& kv_b = mats.emplace_back(r, nh * (dn + dv), c, 2.0f);
    w.kv_b = kv_b.view;
    w.o = mats.emplace_back(r, H, nh * dv).view;
    if (kv_b_type != WeightType::F32) {
      const uint64_t stride = weight_row_bytes(kv_b_type, c);
      kv_b_bytes.resize(size_t(nh * (dn + dv)) * stride);
      for (int64_t i = 0; i < nh * (dn + dv); ++i)
        quantize_row(kv_b_type, kv_b.data.data() + i * c, c, kv_b_bytes.data() + i * stride);
      w.kv_b = {kv_b_type, nh * (dn + dv), c, stride, kv_b_bytes.data()};
    }
  }
};

void check_mla_against_naive(int64_t q_lora, WeightType kv_b_type = WeightType::F32) {
  MlaFixture f(q_lora, uint32_t(10 + q_lora), kv_b_type);
  const HParams& hp = f.hp;
  const MlaDims d = MlaDims::from_hparams(hp);
  const int64_t H = 11, maxT = 3, ctx = 8, nh = 3;
  std::vector<float> q_a(size_t(maxT * std::max<int64_t>(q_lora, 1))), q(size_t(maxT * nh * d.qk())),
      kv_a(size_t(maxT * d.cache_dim())), q_lat(size_t(maxT * nh * d.kv_lora)), cx(size_t(maxT * nh * d.kv_lora)),
      o(size_t(maxT * nh * d.dv)), scores(static_cast<size_t>(ctx)), cache(size_t(ctx * d.cache_dim()));
  const MlaScratch s{q_a.data(), q.data(), kv_a.data(), q_lat.data(), cx.data(), o.data(), scores.data()};
  Random r(99);
  const int64_t T = 6;
  const std::vector<float> x = r.vec(size_t(T * H));
  std::vector<float> out(size_t(T * H)), cos(size_t(maxT * 2)), sin(size_t(maxT * 2));
  // Three calls: a prefill of 3 tokens, one of 2, then a single decode step.
  const int64_t splits[][2] = {{0, 3}, {3, 2}, {5, 1}};
  for (const auto& sp : splits) {
    rope_tables(hp.rope, sp[0], sp[1], cos.data(), sin.data());
    mla_attention(test::reference_backend(), d, f.w, x.data() + sp[0] * H, sp[1], sp[0], cos.data(), sin.data(),
                  test::f32_cache(cache.data(), d.cache_dim()), s,
                  out.data() + sp[0] * H);
  }
  std::vector<std::vector<double>> xs;
  for (int64_t t = 0; t < T; ++t) xs.emplace_back(x.begin() + t * H, x.begin() + (t + 1) * H);
  const auto want = test::naive_attention(hp, test::naive_rope(hp), f.w, xs);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < H; ++i)
      EXPECT_NEAR(out[size_t(t * H + i)], want[size_t(t)][size_t(i)], 1e-5)
          << "q_lora " << q_lora << " kv_b " << weight_type_name(kv_b_type) << " t " << t;
}

TEST(Blocks, AbsorbedMlaMatchesNaiveWithQLora) { check_mla_against_naive(9); }
TEST(Blocks, AbsorbedMlaMatchesNaiveWithoutQLora) { check_mla_against_naive(0); }
// The naive reference dequantises the same kv_b bytes, so the results agree to f32 rounding.
TEST(Blocks, AbsorbedMlaReadsKvBInPlaceInEveryType) {
  for (WeightType type : {WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0})
    check_mla_against_naive(9, type);
}

}  // namespace
}  // namespace mote::blocks
