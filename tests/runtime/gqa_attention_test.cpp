// Grouped-query attention (blocks/gqa_attention.h) and half-rotated RoPE against direct double
// implementations: KV-head sharing, per-head and whole-projection q/k norms, biases, the sliding
// window, and batch (prefill) == one token at a time (decode) through the cache.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "blocks/gqa_attention.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/kernels.h"
#include "runtime/test_backend.h"

namespace mote::blocks {
namespace {

using kernels::rope_half;
using kernels::rope_tables;
using kernels::rms_norm;

std::vector<float> random_vec(std::mt19937& g, size_t n, float scale) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

TEST(Rope, HalfRotatesPairsJAndJPlusHalf) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6};  // dim 6: pairs (0,3), (1,4), (2,5)
  const float c[3] = {0.5f, 1.0f, 0.0f}, s[3] = {0.25f, 0.0f, 1.0f};
  rope_half(x.data(), 6, c, s);
  EXPECT_FLOAT_EQ(x[0], 1 * 0.5f - 4 * 0.25f);
  EXPECT_FLOAT_EQ(x[3], 4 * 0.5f + 1 * 0.25f);
  EXPECT_FLOAT_EQ(x[1], 2);
  EXPECT_FLOAT_EQ(x[4], 5);
  EXPECT_FLOAT_EQ(x[2], -6);
  EXPECT_FLOAT_EQ(x[5], 3);
}

struct Case {
  QkNorm qk_norm;
  bool bias;
  int64_t window;
};

// Direct double attention for token t over keys in (t - window, t] (all when window == 0).
std::vector<double> naive(const GqaDims& d, const std::vector<std::vector<double>>& q,
                          const std::vector<std::vector<double>>& k, const std::vector<std::vector<double>>& v,
                          int64_t t) {
  const int64_t hd = d.head_dim, group = d.n_heads / d.n_kv_heads;
  std::vector<double> ctx(size_t(d.q_dim()), 0.0);
  const int64_t first = d.sliding_window > 0 ? std::max<int64_t>(0, t - d.sliding_window + 1) : 0;
  for (int64_t h = 0; h < d.n_heads; ++h) {
    const int64_t kh = h / group;
    std::vector<double> sc;
    double max = -INFINITY, sum = 0;
    for (int64_t j = first; j <= t; ++j) {
      double dot = 0;
      for (int64_t i = 0; i < hd; ++i) dot += q[size_t(t)][size_t(h * hd + i)] * k[size_t(j)][size_t(kh * hd + i)];
      sc.push_back(dot * d.softmax_scale);
      max = std::max(max, sc.back());
    }
    for (double& x : sc) sum += (x = std::exp(x - max));
    for (int64_t j = first; j <= t; ++j)
      for (int64_t i = 0; i < hd; ++i)
        ctx[size_t(h * hd + i)] += sc[size_t(j - first)] / sum * v[size_t(j)][size_t(kh * hd + i)];
  }
  return ctx;
}

// Projection + bias + norm + RoPE of one row, in double, for the reference.
std::vector<double> project(const std::vector<float>& w, const float* x, int64_t rows, int64_t cols,
                            const float* bias, const float* norm, QkNorm kind, int64_t heads, int64_t hd,
                            const float* cos, const float* sin, float eps) {
  std::vector<double> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double acc = bias ? bias[r] : 0.0;
    for (int64_t c = 0; c < cols; ++c) acc += double(w[size_t(r * cols + c)]) * x[c];
    y[size_t(r)] = acc;
  }
  auto rms = [&](int64_t off, int64_t n, const float* wt) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += y[size_t(off + i)] * y[size_t(off + i)];
    const double r = 1.0 / std::sqrt(ss / double(n) + eps);
    for (int64_t i = 0; i < n; ++i) y[size_t(off + i)] *= r * wt[i];
  };
  if (kind == QkNorm::kFull) rms(0, rows, norm);
  for (int64_t h = 0; h < heads && cos != nullptr; ++h) {
    if (kind == QkNorm::kPerHead) rms(h * hd, hd, norm);
    for (int64_t j = 0; j < hd / 2; ++j) {
      const double a = y[size_t(h * hd + j)], b = y[size_t(h * hd + j + hd / 2)];
      y[size_t(h * hd + j)] = a * cos[j] - b * sin[j];
      y[size_t(h * hd + j + hd / 2)] = b * cos[j] + a * sin[j];
    }
  }
  return y;
}

class GqaAttention : public ::testing::TestWithParam<Case> {};

TEST_P(GqaAttention, MatchesDirectAttentionInBatchAndOneByOne) {
  const Case c = GetParam();
  std::mt19937 g(7);
  GqaDims d;
  d.hidden = 12, d.n_heads = 4, d.n_kv_heads = 2, d.head_dim = 6, d.sliding_window = c.window;
  d.qk_norm = c.qk_norm, d.softmax_scale = 1.0f / std::sqrt(6.0f), d.eps = 1e-6f;
  const int64_t T = 7, H = d.hidden, Q = d.q_dim(), KV = d.kv_dim(), half = d.head_dim / 2;
  const auto wq = random_vec(g, size_t(Q * H), 0.5f), wk = random_vec(g, size_t(KV * H), 0.5f);
  const auto wv = random_vec(g, size_t(KV * H), 0.5f), wo = random_vec(g, size_t(H * Q), 0.5f);
  const auto bq = random_vec(g, size_t(Q), 0.3f), bk = random_vec(g, size_t(KV), 0.3f);
  const auto bv = random_vec(g, size_t(KV), 0.3f);
  const int64_t qn = c.qk_norm == QkNorm::kPerHead ? d.head_dim : Q, kn = c.qk_norm == QkNorm::kPerHead ? d.head_dim : KV;
  const auto nq = random_vec(g, size_t(qn), 0.2f), nk = random_vec(g, size_t(kn), 0.2f);
  AttentionWeights w;
  w.q = kernels::f32_view(wq.data(), Q, H), w.k = kernels::f32_view(wk.data(), KV, H);
  w.v = kernels::f32_view(wv.data(), KV, H), w.o = kernels::f32_view(wo.data(), H, Q);
  if (c.bias) w.q_bias = bq.data(), w.k_bias = bk.data(), w.v_bias = bv.data();
  std::vector<float> nq1(nq), nk1(nk);
  for (float& x : nq1) x += 1.0f;
  for (float& x : nk1) x += 1.0f;
  if (c.qk_norm != QkNorm::kNone) w.q_norm = nq1.data(), w.k_norm = nk1.data();
  const auto x = random_vec(g, size_t(T * H), 1.0f);
  RopeParams rope;
  rope.dim = d.head_dim;
  for (int64_t j = 0; j < half; ++j) rope.inv_freq.push_back(std::pow(100.0f, -float(2 * j) / float(d.head_dim)));
  std::vector<float> cos(size_t(T * half)), sin(size_t(T * half));
  rope_tables(rope, 0, T, cos.data(), sin.data());

  // Reference: q/k/v per token in double, attention, output projection.
  std::vector<std::vector<double>> q, k, v;
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x.data() + t * H;
    q.push_back(project(wq, xt, Q, H, w.q_bias, w.q_norm, c.qk_norm, d.n_heads, d.head_dim, &cos[t * half],
                        &sin[t * half], d.eps));
    k.push_back(project(wk, xt, KV, H, w.k_bias, w.k_norm, c.qk_norm, d.n_kv_heads, d.head_dim, &cos[t * half],
                        &sin[t * half], d.eps));
    v.push_back(project(wv, xt, KV, H, w.v_bias, nullptr, QkNorm::kNone, d.n_kv_heads, d.head_dim, nullptr, nullptr,
                        d.eps));
  }
  std::vector<float> q_buf(size_t(T * Q)), ctx(size_t(T * Q)), scores(static_cast<size_t>(T));
  const GqaScratch s{q_buf.data(), ctx.data(), scores.data()};
  std::vector<float> batch(size_t(T * H)), single(size_t(T * H));
  std::vector<float> cache_a(size_t(T * d.cache_dim())), cache_b(size_t(T * d.cache_dim()));
  backend::Backend& b = test::reference_backend();
  gqa_attention(b, d, w, x.data(), T, 0, cos.data(), sin.data(), test::f32_cache(cache_a.data(), d.cache_dim()), s,
                batch.data());
  for (int64_t t = 0; t < T; ++t)
    gqa_attention(b, d, w, x.data() + t * H, 1, t, cos.data() + t * half, sin.data() + t * half,
                  test::f32_cache(cache_b.data(), d.cache_dim()), s,
                  single.data() + t * H);
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> ctx_ref = naive(d, q, k, v, t);
    for (int64_t r = 0; r < H; ++r) {
      double want = 0;
      for (int64_t i = 0; i < Q; ++i) want += double(wo[size_t(r * Q + i)]) * ctx_ref[size_t(i)];
      EXPECT_NEAR(batch[size_t(t * H + r)], want, 1e-4) << "token " << t << " row " << r;
      EXPECT_NEAR(single[size_t(t * H + r)], batch[size_t(t * H + r)], 1e-5) << "token " << t << " row " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, GqaAttention,
                         ::testing::Values(Case{QkNorm::kNone, false, 0}, Case{QkNorm::kPerHead, false, 0},
                                           Case{QkNorm::kFull, false, 3}, Case{QkNorm::kNone, true, 2},
                                           Case{QkNorm::kPerHead, true, 1}));

}  // namespace
}  // namespace mote::blocks
