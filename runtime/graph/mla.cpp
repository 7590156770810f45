#include "graph/mla.h"

#include <cmath>
#include <cstring>

#include "graph/norm.h"
#include "graph/rope.h"
#include "kernels/kernels.h"

namespace mote::graph {

MlaDims MlaDims::from_hparams(const HParams& hp) {
  MlaDims d;
  d.hidden = hp.hidden_size;
  d.n_heads = hp.n_heads;
  d.q_lora = hp.q_lora_rank;
  d.kv_lora = hp.kv_lora_rank;
  d.dn = hp.qk_nope_head_dim;
  d.dr = hp.qk_rope_head_dim;
  d.dv = hp.v_head_dim;
  d.softmax_scale = hp.softmax_scale;
  d.eps = hp.rms_norm_eps;
  return d;
}

namespace {

// q [T, nh*qk] with RoPE applied to each head's q_pe.
void project_q(const MlaDims& d, const AttentionWeights& w, const float* x, int64_t T, const float* cos,
               const float* sin, const MlaScratch& s) {
  if (d.q_lora > 0) {
    kernels::matmul(w.q_a, x, T, s.q_a);
    rms_norm_rows(s.q_a, d.q_lora, T, w.q_a_norm, d.q_lora, d.eps, s.q_a, d.q_lora);
    kernels::matmul(w.q_b, s.q_a, T, s.q);
  } else {
    kernels::matmul(w.q, x, T, s.q);
  }
  const int64_t half = d.dr / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < d.n_heads; ++h)
      rope_interleaved(s.q + (t * d.n_heads + h) * d.qk() + d.dn, d.dr, cos + t * half, sin + t * half);
}

// Writes cache rows start..start+T-1: rms(c_kv) and RoPE(k_pe).
void project_kv(const MlaDims& d, const AttentionWeights& w, const float* x, int64_t T, int64_t start,
                const float* cos, const float* sin, float* cache, const MlaScratch& s) {
  const int64_t cd = d.cache_dim(), half = d.dr / 2;
  kernels::matmul(w.kv_a, x, T, s.kv_a);
  for (int64_t t = 0; t < T; ++t) {
    float* row = cache + (start + t) * cd;
    rms_norm(s.kv_a + t * cd, w.kv_a_norm, d.kv_lora, d.eps, row);
    std::memcpy(row + d.kv_lora, s.kv_a + t * cd + d.kv_lora, size_t(d.dr) * sizeof(float));
    rope_interleaved(row + d.kv_lora, d.dr, cos + t * half, sin + t * half);
  }
}

}  // namespace

void mla_attend(const MlaDims& d, const float* q, const float* q_lat, int64_t n_tokens, int64_t start,
                const float* cache, float* scores, float* ctx) {
  const int64_t nh = d.n_heads, c = d.kv_lora, cd = d.cache_dim();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t n_keys = start + t + 1;  // causal: positions 0 .. start+t
    for (int64_t h = 0; h < nh; ++h) {
      const float* ql = q_lat + (t * nh + h) * c;
      const float* qpe = q + (t * nh + h) * d.qk() + d.dn;
      float max = -INFINITY;
      for (int64_t k = 0; k < n_keys; ++k) {
        const float* row = cache + k * cd;
        scores[k] = (kernels::dot(ql, row, c) + kernels::dot(qpe, row + c, d.dr)) * d.softmax_scale;
        max = std::fmax(max, scores[k]);
      }
      float sum = 0.0f;
      for (int64_t k = 0; k < n_keys; ++k) {
        scores[k] = std::exp(scores[k] - max);
        sum += scores[k];
      }
      float* out = ctx + (t * nh + h) * c;
      std::memset(out, 0, size_t(c) * sizeof(float));
      for (int64_t k = 0; k < n_keys; ++k) kernels::axpy(scores[k] / sum, cache + k * cd, out, c);
    }
  }
}

void mla_attention(const MlaDims& d, const AttentionWeights& w, const float* x, int64_t n_tokens, int64_t start,
                   const float* cos, const float* sin, float* cache, const MlaScratch& s, float* out) {
  const int64_t nh = d.n_heads, c = d.kv_lora, qk = d.qk();
  project_q(d, w, x, n_tokens, cos, sin, s);
  project_kv(d, w, x, n_tokens, start, cos, sin, cache, s);
  // kv_b is used in place, in its stored type: head h's rows [h*(dn+dv), h*(dn+dv)+dn) are
  // W_UK[h] [dn, kv_lora] and the next dv rows are W_UV[h] [dv, kv_lora].
  const int64_t head_rows = d.dn + d.dv;
  // q_lat[t, h] = W_UK[h]^T q_nope[t, h]: one transposed product per head over all tokens.
  for (int64_t h = 0; h < nh; ++h)
    kernels::matmul_transposed(kernels::row_slice(w.kv_b, h * head_rows, d.dn), s.q + h * qk, nh * qk, n_tokens,
                               s.q_lat + h * c, nh * c);
  mla_attend(d, s.q, s.q_lat, n_tokens, start, cache, s.scores, s.ctx);
  // o[t, h] = W_UV[h] ctx[t, h], then the output projection.
  for (int64_t h = 0; h < nh; ++h)
    kernels::matmul_strided(kernels::row_slice(w.kv_b, h * head_rows + d.dn, d.dv), s.ctx + h * c, nh * c, n_tokens,
                            s.o + h * d.dv, nh * d.dv);
  kernels::matmul(w.o, s.o, n_tokens, out);
}

}  // namespace mote::graph
