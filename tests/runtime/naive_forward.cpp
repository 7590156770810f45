#include "runtime/naive_forward.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/quant.h"

namespace mote::test {
namespace {

using Vec = std::vector<double>;

struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  explicit Mat(const WeightView& w) : rows(w.rows), cols(w.cols), v(size_t(w.rows * w.cols)) {
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_view_piece(w, r, 0, cols, row.data());  // row-major or row groups
      for (int64_t c = 0; c < cols; ++c) v[size_t(r * cols + c)] = row[size_t(c)];
    }
  }
  Vec apply(const Vec& x) const {
    Vec y(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) y[size_t(r)] += v[size_t(r * cols + c)] * x[size_t(c)];
    return y;
  }
};

Vec rms(const Vec& x, const float* w, double eps) {
  double ss = 0;
  for (double a : x) ss += a * a;
  const double r = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = double(w[i]) * x[i] * r;
  return y;
}

void rope(double* x, int64_t dim, int64_t pos, const NaiveRope& r) {
  for (int64_t j = 0; j < dim / 2; ++j) {
    const double th = double(pos) * r.inv_freq[size_t(j)];
    const double c = std::cos(th) * r.multiplier, s = std::sin(th) * r.multiplier;
    const double a = x[2 * j], b = x[2 * j + 1];
    x[2 * j] = a * c - b * s;
    x[2 * j + 1] = a * s + b * c;
  }
}

}  // namespace

Vec naive_swiglu(const ExpertWeights& w, const Vec& x) {
  Vec g = Mat(w.gate).apply(x), u = Mat(w.up).apply(x);
  for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
  return Mat(w.down).apply(g);
}

std::vector<Vec> naive_attention(const HParams& hp, const NaiveRope& r, const AttentionWeights& w,
                                 const std::vector<Vec>& x) {
  const int64_t T = int64_t(x.size()), nh = hp.n_heads, dn = hp.qk_nope_head_dim, dr = hp.qk_rope_head_dim,
                dv = hp.v_head_dim, qk = dn + dr, c = hp.kv_lora_rank;
  std::vector<Vec> q(static_cast<size_t>(T)), k(static_cast<size_t>(T)), v(static_cast<size_t>(T));
  const Mat kv_a(w.kv_a), kv_b(w.kv_b);
  for (int64_t t = 0; t < T; ++t) {
    q[size_t(t)] = hp.q_lora_rank > 0
                       ? Mat(w.q_b).apply(rms(Mat(w.q_a).apply(x[size_t(t)]), w.q_a_norm, hp.rms_norm_eps))
                       : Mat(w.q).apply(x[size_t(t)]);
    for (int64_t h = 0; h < nh; ++h) rope(&q[size_t(t)][size_t(h * qk + dn)], dr, t, r);
    const Vec kva = kv_a.apply(x[size_t(t)]);
    const Vec ckv = rms(Vec(kva.begin(), kva.begin() + c), w.kv_a_norm, hp.rms_norm_eps);
    Vec kpe(kva.begin() + c, kva.end());
    rope(kpe.data(), dr, t, r);
    const Vec kvb = kv_b.apply(ckv);  // [nh][dn + dv]
    k[size_t(t)].resize(size_t(nh * qk));
    v[size_t(t)].resize(size_t(nh * dv));
    for (int64_t h = 0; h < nh; ++h) {
      for (int64_t d = 0; d < dn; ++d) k[size_t(t)][size_t(h * qk + d)] = kvb[size_t(h * (dn + dv) + d)];
      for (int64_t d = 0; d < dr; ++d) k[size_t(t)][size_t(h * qk + dn + d)] = kpe[size_t(d)];
      for (int64_t d = 0; d < dv; ++d) v[size_t(t)][size_t(h * dv + d)] = kvb[size_t(h * (dn + dv) + dn + d)];
    }
  }
  const Mat o(w.o);
  std::vector<Vec> out(static_cast<size_t>(T));
  for (int64_t s = 0; s < T; ++s) {
    Vec concat(static_cast<size_t>(nh * dv), 0.0);
    for (int64_t h = 0; h < nh; ++h) {
      Vec p(static_cast<size_t>(s + 1));
      for (int64_t t = 0; t <= s; ++t) {
        double dotp = 0;
        for (int64_t d = 0; d < qk; ++d) dotp += q[size_t(s)][size_t(h * qk + d)] * k[size_t(t)][size_t(h * qk + d)];
        p[size_t(t)] = dotp * r.softmax_scale;
      }
      const double m = *std::max_element(p.begin(), p.end());
      double sum = 0;
      for (double& a : p) sum += (a = std::exp(a - m));
      for (int64_t t = 0; t <= s; ++t)
        for (int64_t d = 0; d < dv; ++d) concat[size_t(h * dv + d)] += p[size_t(t)] / sum * v[size_t(t)][size_t(h * dv + d)];
    }
    out[size_t(s)] = o.apply(concat);
  }
  return out;
}

Vec naive_moe(const HParams& hp, const FfnWeights& w, const Vec& x, std::vector<int>* route) {
  const Vec logits = Mat(w.router).apply(x);
  std::vector<double> weights;
  naive_route(hp, logits, w.router_bias, route, &weights);
  Vec out(x.size(), 0.0);
  for (size_t i = 0; i < route->size(); ++i) {
    const Vec y = naive_swiglu(w.experts[size_t((*route)[i])], x);
    for (size_t j = 0; j < out.size(); ++j) out[j] += weights[i] * y[j];
  }
  if (!w.shared.gate.empty()) {
    const Vec y = naive_swiglu(w.shared, x);
    for (size_t j = 0; j < out.size(); ++j) out[j] += y[j];
  }
  return out;
}

namespace {
double get_mscale(double s, double m) { return s <= 1 ? 1.0 : 0.1 * m * std::log(s) + 1.0; }
}  // namespace

NaiveRope naive_rope(const HParams& hp) {
  NaiveRope r;
  const int64_t d = hp.qk_rope_head_dim;
  const double base = hp.rope_theta, s = hp.rope_factor;
  r.softmax_scale = 1.0 / std::sqrt(double(hp.qk_nope_head_dim + d));
  for (int64_t j = 0; j < d / 2; ++j) r.inv_freq.push_back(1.0 / std::pow(base, double(2 * j) / double(d)));
  if (!hp.yarn) return r;
  auto corr = [&](double rot) {
    return double(d) * std::log(double(hp.rope_original_max_position) / (rot * 2 * M_PI)) / (2 * std::log(base));
  };
  double low = std::max(std::floor(corr(hp.beta_fast)), 0.0);
  double high = std::min(std::ceil(corr(hp.beta_slow)), double(d - 1));
  if (low == high) high += 0.001;
  for (int64_t j = 0; j < d / 2; ++j) {
    const double extrapolation_factor = 1.0 - std::clamp((double(j) - low) / (high - low), 0.0, 1.0);
    const double e = r.inv_freq[size_t(j)];
    r.inv_freq[size_t(j)] = e / s * (1 - extrapolation_factor) + e * extrapolation_factor;
  }
  r.multiplier = (hp.mscale != 0 && hp.mscale_all_dim != 0)
                     ? get_mscale(s, hp.mscale) / get_mscale(s, hp.mscale_all_dim)
                     : get_mscale(s, 1.0);
  if (hp.mscale_all_dim != 0) r.softmax_scale *= std::pow(get_mscale(s, hp.mscale_all_dim), 2);
  return r;
}

void naive_route(const HParams& hp, const std::vector<double>& logits, const float* bias, std::vector<int>* idx,
                 std::vector<double>* weights) {
  const int E = int(hp.n_routed_experts);
  Vec score(static_cast<size_t>(E));
  if (hp.scoring_func == ScoringFunc::kSigmoid) {
    for (int e = 0; e < E; ++e) score[size_t(e)] = 1.0 / (1.0 + std::exp(-logits[size_t(e)]));
  } else {
    const double m = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (int e = 0; e < E; ++e) sum += (score[size_t(e)] = std::exp(logits[size_t(e)] - m));
    for (double& a : score) a /= sum;
  }
  Vec choice(score);
  if (bias)
    for (int e = 0; e < E; ++e) choice[size_t(e)] += bias[e];
  std::vector<int> order(static_cast<size_t>(E));
  if (hp.topk_method != TopkMethod::kGreedy) {
    const int G = int(hp.n_group), per = E / G;
    Vec group(static_cast<size_t>(G));
    for (int g = 0; g < G; ++g) {
      Vec members(choice.begin() + g * per, choice.begin() + (g + 1) * per);
      std::sort(members.rbegin(), members.rend());
      group[size_t(g)] = hp.topk_method == TopkMethod::kNoauxTc ? members[0] + members[1] : members[0];
    }
    std::vector<int> gorder(static_cast<size_t>(G));
    std::iota(gorder.begin(), gorder.end(), 0);
    std::stable_sort(gorder.begin(), gorder.end(), [&](int a, int b) { return group[size_t(a)] > group[size_t(b)]; });
    for (int i = int(hp.topk_group); i < G; ++i)
      for (int e = 0; e < per; ++e) choice[size_t(gorder[size_t(i)] * per + e)] = -std::numeric_limits<double>::infinity();
  }
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return choice[size_t(a)] > choice[size_t(b)]; });
  idx->assign(order.begin(), order.begin() + hp.n_experts_per_tok);
  weights->clear();
  double sum = 0;
  for (int e : *idx) sum += score[size_t(e)];
  for (int e : *idx) {
    double wgt = score[size_t(e)];
    if (hp.norm_topk_prob) wgt /= sum + 1e-20;
    weights->push_back(wgt * hp.routed_scaling_factor);
  }
}

NaiveResult naive_forward(const Model& model, const std::vector<int32_t>& ids) {
  const HParams& hp = model.hparams();
  const ModelWeights& w = model.weights();
  const NaiveRope r = naive_rope(hp);
  const size_t T = ids.size();
  const int64_t H = hp.hidden_size;
  std::vector<Vec> h(T);
  const Mat embed(w.embedding);
  for (size_t t = 0; t < T; ++t) h[t] = Vec(embed.v.begin() + ids[t] * H, embed.v.begin() + (ids[t] + 1) * H);
  NaiveResult result;
  for (const LayerWeights& lw : w.layers) {
    std::vector<Vec> x(T);
    for (size_t t = 0; t < T; ++t) x[t] = rms(h[t], lw.attn.norm, hp.rms_norm_eps);
    const std::vector<Vec> a = naive_attention(hp, r, lw.attn, x);
    std::vector<std::vector<int>> routes(T);
    for (size_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < H; ++i) h[t][size_t(i)] += a[t][size_t(i)];
      const Vec y = rms(h[t], lw.ffn.norm, hp.rms_norm_eps);
      const Vec f = lw.ffn.moe ? naive_moe(hp, lw.ffn, y, &routes[t]) : naive_swiglu(lw.ffn.dense, y);
      for (int64_t i = 0; i < H; ++i) h[t][size_t(i)] += f[size_t(i)];
    }
    if (lw.ffn.moe) result.routes.push_back(routes);
  }
  const Mat head(w.output);
  for (size_t t = 0; t < T; ++t) result.logits.push_back(head.apply(rms(h[t], w.output_norm, hp.rms_norm_eps)));
  return result;
}

}  // namespace mote::test
