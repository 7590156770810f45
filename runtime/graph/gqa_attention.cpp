#include "graph/gqa_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "graph/norm.h"
#include "graph/rope.h"
#include "kernels/kernels.h"

namespace mote::graph {

GqaDims GqaDims::from_hparams(const HParams& hp) {
  GqaDims d;
  d.hidden = hp.hidden_size;
  d.n_heads = hp.n_heads;
  d.n_kv_heads = hp.n_kv_heads;
  d.head_dim = hp.head_dim;
  d.sliding_window = hp.sliding_window;
  d.qk_norm = hp.qk_norm;
  d.softmax_scale = hp.softmax_scale;
  d.eps = hp.rms_norm_eps;
  return d;
}

namespace {

void add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) {
  if (bias == nullptr) return;
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t i = 0; i < n; ++i) rows[r * stride + i] += bias[i];
}

// q or k rows [T, heads*hd] (row stride `stride`): bias, RMSNorm (per head or whole), RoPE.
void finish_qk(const GqaDims& d, float* rows, int64_t T, int64_t stride, int64_t heads, const float* bias,
               const float* norm, const float* cos, const float* sin) {
  const int64_t hd = d.head_dim, width = heads * hd, half = hd / 2;
  add_bias(rows, T, stride, bias, width);
  for (int64_t t = 0; t < T; ++t) {
    float* row = rows + t * stride;
    if (d.qk_norm == QkNorm::kFull) rms_norm(row, norm, width, d.eps, row);
    for (int64_t h = 0; h < heads; ++h) {
      if (d.qk_norm == QkNorm::kPerHead) rms_norm(row + h * hd, norm, hd, d.eps, row + h * hd);
      rope_half(row + h * hd, hd, cos + t * half, sin + t * half);
    }
  }
}

// ctx [T, nh*hd] from q [T, nh*hd] and the cache rows 0 .. start+T-1 (causal, windowed).
// sinks (gpt-oss, [nh] or null): head h's softmax gets one more logit sinks[h] (not scaled) whose
// probability is dropped, so that head's weights sum to less than 1.
void attend(const GqaDims& d, const float* q, int64_t T, int64_t start, const float* cache, const float* sinks,
            float* scores, float* ctx) {
  const int64_t hd = d.head_dim, cd = d.cache_dim(), kv = d.kv_dim(), group = d.n_heads / d.n_kv_heads;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t pos = start + t;
    const int64_t first = d.sliding_window > 0 ? std::max<int64_t>(0, pos - d.sliding_window + 1) : 0;
    for (int64_t h = 0; h < d.n_heads; ++h) {
      const float* qh = q + (t * d.n_heads + h) * hd;
      const int64_t k_off = (h / group) * hd, v_off = kv + k_off;
      float max = -INFINITY;
      for (int64_t k = first; k <= pos; ++k) {
        scores[k] = kernels::dot(qh, cache + k * cd + k_off, hd) * d.softmax_scale;
        max = std::fmax(max, scores[k]);
      }
      if (sinks != nullptr) max = std::fmax(max, sinks[h]);
      float sum = sinks != nullptr ? std::exp(sinks[h] - max) : 0.0f;
      for (int64_t k = first; k <= pos; ++k) {
        scores[k] = std::exp(scores[k] - max);
        sum += scores[k];
      }
      float* out = ctx + (t * d.n_heads + h) * hd;
      std::memset(out, 0, size_t(hd) * sizeof(float));
      for (int64_t k = first; k <= pos; ++k) kernels::axpy(scores[k] / sum, cache + k * cd + v_off, out, hd);
    }
  }
}

}  // namespace

void gqa_attention(const GqaDims& d, const AttentionWeights& w, const float* x, int64_t n_tokens, int64_t start,
                   const float* cos, const float* sin, float* cache, const GqaScratch& s, float* out) {
  const int64_t cd = d.cache_dim(), kv = d.kv_dim();
  float* rows = cache + start * cd;  // this call's cache rows: K at [0, kv), V at [kv, 2 kv)
  kernels::matmul(w.q, x, n_tokens, s.q);
  kernels::matmul_strided(w.k, x, d.hidden, n_tokens, rows, cd);
  kernels::matmul_strided(w.v, x, d.hidden, n_tokens, rows + kv, cd);
  finish_qk(d, s.q, n_tokens, d.q_dim(), d.n_heads, w.q_bias, w.q_norm, cos, sin);
  finish_qk(d, rows, n_tokens, cd, d.n_kv_heads, w.k_bias, w.k_norm, cos, sin);
  add_bias(rows + kv, n_tokens, cd, w.v_bias, kv);
  attend(d, s.q, n_tokens, start, cache, w.sinks, s.scores, s.ctx);
  kernels::matmul(w.o, s.ctx, n_tokens, out);
  add_bias(out, n_tokens, d.hidden, w.o_bias, d.hidden);
}

}  // namespace mote::graph
