#include "blocks/mla.h"

#include <cstring>

#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace mote::blocks {

using kernels::rms_norm;
using kernels::rms_norm_rows;
using kernels::rope_interleaved;

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

int64_t mla_workspace_floats(const MlaDims& d) {
  return kernels::attention_workspace_floats(1, d.n_heads, d.kv_lora);
}

void mla_attend(const MlaDims& d, const float* q, const float* q_lat, int64_t n_tokens, int64_t start,
                const float* cache, float* work, int64_t work_floats, float* ctx) {
  const int64_t nh = d.n_heads, c = d.kv_lora, cd = d.cache_dim();
  kernels::AttentionArgs a;
  a.n_tokens = n_tokens;
  a.start = start;
  a.n_heads = nh;
  a.n_kv_heads = 1;  // every head attends to the same latent rows
  a.dk = cd;         // key: [c_kv | k_pe]
  a.dv = c;          // value: c_kv
  a.scale = d.softmax_scale;
  a.q = q_lat;  // dims [0, kv_lora): q_lat
  a.q_token_stride = nh * c;
  a.q_head_stride = c;
  a.q2 = q + d.dn;  // dims [kv_lora, kv_lora + dr): q_pe, the last dr dims of each head of q
  a.dk_a = c;
  a.q2_token_stride = nh * d.qk();
  a.q2_head_stride = d.qk();
  a.k = cache;
  a.k_row_stride = cd;
  a.v = cache;
  a.v_row_stride = cd;
  a.out = ctx;
  a.out_token_stride = nh * c;
  a.out_head_stride = c;
  a.work = work;
  a.work_floats = work_floats;
  kernels::attention(a);
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
  mla_attend(d, s.q, s.q_lat, n_tokens, start, cache, s.work, s.work_floats, s.ctx);
  // o[t, h] = W_UV[h] ctx[t, h], then the output projection.
  for (int64_t h = 0; h < nh; ++h)
    kernels::matmul_strided(kernels::row_slice(w.kv_b, h * head_rows + d.dn, d.dv), s.ctx + h * c, nh * c, n_tokens,
                            s.o + h * d.dv, nh * d.dv);
  kernels::matmul(w.o, s.o, n_tokens, out);
}

}  // namespace mote::blocks
