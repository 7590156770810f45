#include "blocks/mla.h"

#include "blocks/cache_rows.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace mote::blocks {


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
void project_q(backend::Backend& b, const MlaDims& d, const AttentionWeights& w, const float* x, int64_t T,
               const float* cos, const float* sin, const MlaScratch& s) {
  if (d.q_lora > 0) {
    b.matmul(w.q_a, x, w.q_a.cols, T, s.q_a, w.q_a.rows);
    b.rms_norm_pieces(s.q_a, d.q_lora, T, 1, 0, w.q_a_norm, d.q_lora, d.eps, s.q_a, d.q_lora);
    b.matmul(w.q_b, s.q_a, w.q_b.cols, T, s.q, w.q_b.rows);
  } else {
    b.matmul(w.q, x, w.q.cols, T, s.q, w.q.rows);
  }
  b.rope(backend::RopeLayout::kInterleaved, s.q + d.dn, d.n_heads * d.qk(), T, d.n_heads, d.qk(), d.dr, cos, sin);
}

// Writes the cache rows of start..start+T-1: rms(c_kv) and RoPE(k_pe). An f32 full-length cache
// gets them straight; otherwise they are built in place in s.kv_a and stored (same values).
void project_kv(backend::Backend& b, const MlaDims& d, const AttentionWeights& w, const float* x, int64_t T,
                int64_t start, const float* cos, const float* sin, const LayerCache& cache, const MlaScratch& s) {
  const int64_t cd = d.cache_dim();
  const bool direct = writes_cache_directly(cache);
  float* rows = direct ? cache.f32() + start * cd : s.kv_a;
  b.matmul(w.kv_a, x, w.kv_a.cols, T, s.kv_a, w.kv_a.rows);
  b.rms_norm_pieces(s.kv_a, cd, T, 1, 0, w.kv_a_norm, d.kv_lora, d.eps, rows, cd);
  if (direct) b.copy_rows(s.kv_a + d.kv_lora, cd, T, d.dr, rows + d.kv_lora, cd);
  b.rope(backend::RopeLayout::kInterleaved, rows + d.kv_lora, cd, T, 1, 0, d.dr, cos, sin);
  if (!direct) store_cache_rows(b, cache, rows, T, start, 1, cd);
}

void attend_cache(backend::Backend& b, const MlaDims& d, const float* q, const float* q_lat, int64_t n_tokens,
                  int64_t start, const LayerCache& cache, float* work, int64_t work_floats, float* ctx);

}  // namespace

int64_t mla_workspace_floats(const MlaDims& d) {
  return kernels::attention_workspace_floats(1, d.n_heads, d.kv_lora);
}

void mla_attend(backend::Backend& b, const MlaDims& d, const float* q, const float* q_lat, int64_t n_tokens,
                int64_t start,
                const float* cache, float* work, int64_t work_floats, float* ctx) {
  const LayerCache f32_cache{reinterpret_cast<uint8_t*>(const_cast<float*>(cache)), KvType::kF32, 0,
                             d.cache_dim() * int64_t(sizeof(float))};
  attend_cache(b, d, q, q_lat, n_tokens, start, f32_cache, work, work_floats, ctx);
}

namespace {

// mla_attend over any LayerCache (typed rows: one piece per row, the value its first kv_lora).
void attend_cache(backend::Backend& b, const MlaDims& d, const float* q, const float* q_lat, int64_t n_tokens,
                  int64_t start, const LayerCache& cache, float* work, int64_t work_floats, float* ctx) {
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
  a.ring_rows = cache.ring_rows;
  if (cache.type == KvType::kF32) {
    a.k = cache.f32();
    a.k_row_stride = cd;
    a.v = cache.f32();
    a.v_row_stride = cd;
  } else {
    a.kv_type = cache.type;
    a.k_bytes = a.v_bytes = cache.rows;
    a.k_row_bytes = a.v_row_bytes = cache.row_bytes;
  }
  a.out = ctx;
  a.out_token_stride = nh * c;
  a.out_head_stride = c;
  a.work = work;
  a.work_floats = work_floats;
  b.attention(a);
}

}  // namespace

void mla_attention(backend::Backend& b, const MlaDims& d, const AttentionWeights& w, const float* x,
                   int64_t n_tokens, int64_t start, const float* cos, const float* sin, const LayerCache& cache,
                   const MlaScratch& s, float* out) {
  const int64_t nh = d.n_heads, c = d.kv_lora, qk = d.qk();
  project_q(b, d, w, x, n_tokens, cos, sin, s);
  project_kv(b, d, w, x, n_tokens, start, cos, sin, cache, s);
  // kv_b is used in place, in its stored type: head h's rows [h*(dn+dv), h*(dn+dv)+dn) are
  // W_UK[h] [dn, kv_lora] and the next dv rows are W_UV[h] [dv, kv_lora].
  const int64_t head_rows = d.dn + d.dv;
  // q_lat[t, h] = W_UK[h]^T q_nope[t, h]: one transposed product per head over all tokens.
  for (int64_t h = 0; h < nh; ++h)
    b.matmul_t(kernels::row_slice(w.kv_b, h * head_rows, d.dn), s.q + h * qk, nh * qk, n_tokens, s.q_lat + h * c,
               nh * c);
  attend_cache(b, d, s.q, s.q_lat, n_tokens, start, cache, s.work, s.work_floats, s.ctx);
  // o[t, h] = W_UV[h] ctx[t, h], then the output projection.
  for (int64_t h = 0; h < nh; ++h)
    b.matmul(kernels::row_slice(w.kv_b, h * head_rows + d.dn, d.dv), s.ctx + h * c, nh * c, n_tokens,
             s.o + h * d.dv, nh * d.dv);
  b.matmul(w.o, s.o, w.o.cols, n_tokens, out, w.o.rows);
}

}  // namespace mote::blocks
