// The gpt-oss pieces of the shared blocks (openai/gpt-oss) against direct double
// implementations: YaRN without truncation ("concentration"), the router's softmax over the
// selected logits, attention sinks with the o_proj bias, and the clamped SwiGLU expert with biases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "blocks/ffn.h"
#include "blocks/gqa_attention.h"
#include "kernels/router.h"
#include "kernels/kernels.h"
#include "runtime/test_backend.h"
#include "model/hparams.h"

namespace mote::blocks {
namespace {

using kernels::route;
using kernels::RouterParams;

std::vector<float> random_vec(std::mt19937& g, size_t n, float scale) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

// gpt-oss-20b/120b rope: head_dim 64, theta 150000, YaRN factor 32, beta 32/1, L0 4096,
// truncate false. Reference constants: low 8.092779, high 17.398025, concentration 1.3465736.
TEST(GptOssBlocks, YarnWithoutTruncationMatchesTheSpecConstants) {
  HParams hp;
  hp.arch = Arch::kMixtral;  // any GQA arch: rope over the whole head_dim
  hp.head_dim = 64;
  hp.rope_theta = 150000.0;
  hp.yarn = true;
  hp.rope_factor = 32.0;
  hp.beta_fast = 32.0;
  hp.beta_slow = 1.0;
  hp.rope_original_max_position = 4096;
  hp.mscale = 1.0;
  hp.mscale_all_dim = 0.0;
  hp.yarn_truncate = false;
  compute_rope_params(&hp);
  EXPECT_NEAR(hp.rope.yarn_low, 8.092779, 1e-5);
  EXPECT_NEAR(hp.rope.yarn_high, 17.398025, 1e-5);
  EXPECT_NEAR(hp.rope.attention_factor, 1.3465736, 1e-6);
  EXPECT_FLOAT_EQ(hp.softmax_scale, 0.125f);
  const double d = 64, base = 150000, low = 8.092779469, high = 17.398025;
  for (int j = 0; j < 32; ++j) {
    const double ramp = std::clamp((j - low) / (high - low), 0.0, 1.0), mask = 1.0 - ramp;
    const double f = std::pow(base, -2.0 * j / d);
    const double want = f / 32.0 * (1.0 - mask) + f * mask;
    EXPECT_NEAR(hp.rope.inv_freq[size_t(j)], want, 2e-6 * want) << j;
  }
  // The same config truncated (every other family) rounds the range to [8, 18].
  hp.yarn_truncate = true;
  compute_rope_params(&hp);
  EXPECT_EQ(hp.rope.yarn_low, 8.0);
  EXPECT_EQ(hp.rope.yarn_high, 18.0);
}

// The tiny gpt-oss fixture's rope (tests/fixtures/gpt_oss.py: head_dim 16, theta 150000, factor
// 32, original max position 64, truncate false): range [0, 1.558], so pairs 0 and 1 are blended
// with the unrounded bound. Values printed by transformers 5.23 GptOssRotaryEmbedding.inv_freq.
TEST(GptOssBlocks, YarnWithoutTruncationMatchesTransformersOnTheTinyConfig) {
  HParams hp;
  hp.arch = Arch::kMixtral;
  hp.head_dim = 16;
  hp.rope_theta = 150000.0;
  hp.yarn = true;
  hp.rope_factor = 32.0;
  hp.rope_original_max_position = 64;
  hp.mscale_all_dim = 0.0;
  hp.yarn_truncate = false;
  compute_rope_params(&hp);
  const double hf[8] = {1.0, 0.08524909615516663, 0.0015879147686064243, 0.0003579445765353739,
                        8.068715396802872e-05, 1.818833698052913e-05, 4.099978468730114e-06, 9.242089618055616e-07};
  for (int j = 0; j < 8; ++j) EXPECT_NEAR(hp.rope.inv_freq[size_t(j)], hf[j], 1e-6 * hf[j]) << j;
  EXPECT_NEAR(hp.rope.attention_factor, 1.3465735902799727, 1e-6);
  EXPECT_FLOAT_EQ(hp.softmax_scale, 0.25f);
}

TEST(GptOssBlocks, RouterSoftmaxOverTheSelectedBiasedLogits) {
  RouterParams p;
  p.scoring = ScoringFunc::kSoftmaxTopk;
  p.n_experts = 6;
  p.top_k = 3;
  const float logits[6] = {0.5f, 2.0f, -1.0f, 1.0f, 0.9f, 3.0f};
  const float bias[6] = {0.0f, 0.0f, 4.0f, 0.0f, 0.3f, -2.5f};  // biased: 0.5 2 3 1 1.2 0.5
  std::vector<float> scratch(static_cast<size_t>(p.scratch_size()));
  int32_t idx[3];
  float w[3];
  route(p, logits, bias, scratch.data(), idx, w);
  EXPECT_EQ(idx[0], 2);
  EXPECT_EQ(idx[1], 1);
  EXPECT_EQ(idx[2], 4);
  const double e0 = std::exp(3.0), e1 = std::exp(2.0), e2 = std::exp(1.2), sum = e0 + e1 + e2;
  EXPECT_NEAR(w[0], e0 / sum, 1e-6);
  EXPECT_NEAR(w[1], e1 / sum, 1e-6);
  EXPECT_NEAR(w[2], e2 / sum, 1e-6);
}

// H = 4, 2 query heads sharing 1 KV head of width 2; Wq = I, Wk = the first 2 inputs, Wv = the
// last 2, Wo random with a bias; RoPE tables of angle 0 (cos 1, sin 0), so only the sinks, the
// window and the bias are under test. Prefill of 5 tokens and decode one at a time must agree
// with a double reference that appends the sink logit to every softmax.
TEST(GptOssBlocks, AttentionSinksDropProbabilityAndOutputBiasIsAdded) {
  std::mt19937 gen(11);
  const int64_t H = 4, T = 5;
  GqaDims d;
  d.hidden = H;
  d.n_heads = 2;
  d.n_kv_heads = 1;
  d.head_dim = 2;
  d.softmax_scale = 0.7f;
  const std::vector<float> wq = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  const std::vector<float> wk = {1, 0, 0, 0, 0, 1, 0, 0};
  const std::vector<float> wv = {0, 0, 1, 0, 0, 0, 0, 1};
  const std::vector<float> wo = random_vec(gen, 16, 1.0f), bo = random_vec(gen, 4, 1.0f);
  const float sinks[2] = {0.8f, -1.5f};
  AttentionWeights w;
  w.q = kernels::f32_view(wq.data(), 4, 4);
  w.k = kernels::f32_view(wk.data(), 2, 4);
  w.v = kernels::f32_view(wv.data(), 2, 4);
  w.o = kernels::f32_view(wo.data(), 4, 4);
  w.o_bias = bo.data();
  w.sinks = sinks;
  const std::vector<float> x = random_vec(gen, size_t(T * H), 2.0f);
  for (int64_t window : {int64_t(0), int64_t(2)}) {
    d.sliding_window = window;
    std::vector<double> want(static_cast<size_t>(T * H));
    for (int64_t t = 0; t < T; ++t) {
      const int64_t first = window > 0 ? std::max<int64_t>(0, t - window + 1) : 0;
      double ctx[4] = {0, 0, 0, 0};
      for (int64_t h = 0; h < 2; ++h) {
        std::vector<double> s;
        for (int64_t j = first; j <= t; ++j)
          s.push_back((double(x[size_t(t * H + 2 * h)]) * x[size_t(j * H)] +
                       double(x[size_t(t * H + 2 * h + 1)]) * x[size_t(j * H + 1)]) * d.softmax_scale);
        double sum = std::exp(double(sinks[h]));
        for (double v : s) sum += std::exp(v);
        for (int64_t j = first; j <= t; ++j)
          for (int i = 0; i < 2; ++i) ctx[2 * h + i] += std::exp(s[size_t(j - first)]) / sum * x[size_t(j * H + 2 + i)];
      }
      for (int64_t r = 0; r < H; ++r) {
        double acc = bo[size_t(r)];
        for (int64_t c = 0; c < H; ++c) acc += double(wo[size_t(r * H + c)]) * ctx[c];
        want[size_t(t * H + r)] = acc;
      }
    }
    const std::vector<float> cos(size_t(T), 1.0f), sin(size_t(T), 0.0f);
    std::vector<float> cache(static_cast<size_t>(T * d.cache_dim())), q(static_cast<size_t>(T * 4));
    std::vector<float> ctx(static_cast<size_t>(T * 4)), scores(static_cast<size_t>(T));
    const GqaScratch s{q.data(), ctx.data(), scores.data()};
    std::vector<float> prefill(static_cast<size_t>(T * H)), decode(static_cast<size_t>(T * H));
    backend::Backend& b = test::reference_backend();
    const blocks::LayerCache lc = test::f32_cache(cache.data(), d.cache_dim());
    gqa_attention(b, d, w, x.data(), T, 0, cos.data(), sin.data(), lc, s, prefill.data());
    for (int64_t t = 0; t < T; ++t)
      gqa_attention(b, d, w, x.data() + t * H, 1, t, cos.data(), sin.data(), lc, s, decode.data() + t * H);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(prefill[i], want[i], 1e-5) << "window " << window << " i " << i;
      EXPECT_NEAR(decode[i], want[i], 1e-5) << "window " << window << " i " << i;
    }
  }
}

TEST(GptOssBlocks, ClampedSwigluExpertWithBiases) {
  std::mt19937 gen(5);
  const int64_t H = 6, I = 5, T = 3;
  const float limit = 1.5f, alpha = kGptOssSwigluAlpha;
  const std::vector<float> wg = random_vec(gen, size_t(I * H), 1.5f), wu = random_vec(gen, size_t(I * H), 1.5f);
  const std::vector<float> wd = random_vec(gen, size_t(H * I), 1.0f);
  const std::vector<float> bg = random_vec(gen, size_t(I), 1.0f), bu = random_vec(gen, size_t(I), 1.0f);
  const std::vector<float> bd = random_vec(gen, size_t(H), 1.0f), x = random_vec(gen, size_t(T * H), 2.0f);
  ExpertWeights w;
  w.gate = kernels::f32_view(wg.data(), I, H);
  w.up = kernels::f32_view(wu.data(), I, H);
  w.down = kernels::f32_view(wd.data(), H, I);
  w.gate_bias = bg.data();
  w.up_bias = bu.data();
  w.down_bias = bd.data();
  std::vector<float> gate(static_cast<size_t>(T * I)), up(static_cast<size_t>(T * I));
  std::vector<float> out(static_cast<size_t>(T * H));
  clamped_swiglu_mlp(test::reference_backend(), w, alpha, limit, x.data(), T, gate.data(), up.data(), out.data());
  bool clamped_low = false, clamped_high = false;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> hdn(static_cast<size_t>(I));
    for (int64_t i = 0; i < I; ++i) {
      double g = bg[size_t(i)], u = bu[size_t(i)];
      for (int64_t c = 0; c < H; ++c) {
        g += double(wg[size_t(i * H + c)]) * x[size_t(t * H + c)];
        u += double(wu[size_t(i * H + c)]) * x[size_t(t * H + c)];
      }
      clamped_high |= g > limit || u > limit;
      clamped_low |= u < -limit;
      g = std::min<double>(g, limit);
      u = std::clamp<double>(u, -limit, limit);
      hdn[size_t(i)] = (u + 1.0) * g / (1.0 + std::exp(-alpha * g));
    }
    for (int64_t r = 0; r < H; ++r) {
      double acc = bd[size_t(r)];
      for (int64_t i = 0; i < I; ++i) acc += double(wd[size_t(r * I + i)]) * hdn[size_t(i)];
      EXPECT_NEAR(out[size_t(t * H + r)], acc, 1e-5) << "t " << t << " r " << r;
    }
  }
  EXPECT_TRUE(clamped_low && clamped_high) << "the data should exercise both clamps";
}

}  // namespace
}  // namespace mote::blocks
