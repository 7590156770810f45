#include "blocks/gqa_attention.h"

#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace mote::blocks {

using kernels::rms_norm;
using kernels::rope_half;

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
            const GqaScratch& s) {
  const int64_t hd = d.head_dim, cd = d.cache_dim();
  kernels::AttentionArgs a;
  a.n_tokens = T;
  a.start = start;
  a.window = d.sliding_window;
  a.n_heads = d.n_heads;
  a.n_kv_heads = d.n_kv_heads;
  a.dk = hd;
  a.dv = hd;
  a.scale = d.softmax_scale;
  a.q = q;
  a.q_token_stride = d.q_dim();
  a.q_head_stride = hd;
  a.k = cache;  // row [K heads | V heads]
  a.k_row_stride = cd;
  a.k_head_stride = hd;
  a.v = cache + d.kv_dim();
  a.v_row_stride = cd;
  a.v_head_stride = hd;
  a.sinks = sinks;
  a.out = s.ctx;
  a.out_token_stride = d.q_dim();
  a.out_head_stride = hd;
  a.work = s.work;
  a.work_floats = s.work_floats;
  kernels::attention(a);
}

}  // namespace

int64_t gqa_workspace_floats(const GqaDims& d) {
  return kernels::attention_workspace_floats(1, d.n_heads, d.head_dim);
}

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
  attend(d, s.q, n_tokens, start, cache, w.sinks, s);
  kernels::matmul(w.o, s.ctx, n_tokens, out);
  add_bias(out, n_tokens, d.hidden, w.o_bias, d.hidden);
}

}  // namespace mote::blocks
