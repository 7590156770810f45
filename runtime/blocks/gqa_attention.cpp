#include "blocks/gqa_attention.h"

#include "blocks/cache_rows.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace mote::blocks {


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

// q or k rows [T, heads*hd] (row stride `stride`): bias, RMSNorm (per head or whole), RoPE.
void finish_qk(backend::Backend& b, const GqaDims& d, float* rows, int64_t T, int64_t stride, int64_t heads,
               const float* bias, const float* norm, const float* cos, const float* sin) {
  const int64_t hd = d.head_dim, width = heads * hd;
  if (bias != nullptr) b.add_bias(rows, T, stride, bias, width);
  if (d.qk_norm == QkNorm::kFull) b.rms_norm_pieces(rows, stride, T, 1, 0, norm, width, d.eps, rows, stride);
  if (d.qk_norm == QkNorm::kPerHead) b.rms_norm_pieces(rows, stride, T, heads, hd, norm, hd, d.eps, rows, stride);
  b.rope(backend::RopeLayout::kHalf, rows, stride, T, heads, hd, hd, cos, sin);
}

// ctx [T, nh*hd] from q [T, nh*hd] and the cache rows of positions 0 .. start+T-1 (causal,
// windowed; typed and ring caches as blocks/layer_cache.h).
// sinks (gpt-oss, [nh] or null): head h's softmax gets one more logit sinks[h] (not scaled) whose
// probability is dropped, so that head's weights sum to less than 1.
void attend(backend::Backend& b, const GqaDims& d, const float* q, int64_t T, int64_t start,
            const LayerCache& cache, const float* sinks, const GqaScratch& s) {
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
  a.ring_rows = cache.ring_rows;
  if (cache.type == KvType::kF32) {
    a.k = cache.f32();  // row [K heads | V heads]
    a.k_row_stride = cd;
    a.k_head_stride = hd;
    a.v = cache.f32() + d.kv_dim();
    a.v_row_stride = cd;
    a.v_head_stride = hd;
  } else {  // the same layout in pieces of kv_piece_bytes(type, hd) bytes
    const int64_t piece = kv_piece_bytes(cache.type, hd);
    a.kv_type = cache.type;
    a.k_bytes = cache.rows;
    a.k_row_bytes = cache.row_bytes;
    a.k_head_bytes = piece;
    a.v_bytes = cache.rows + d.n_kv_heads * piece;
    a.v_row_bytes = cache.row_bytes;
    a.v_head_bytes = piece;
  }
  a.sinks = sinks;
  a.out = s.ctx;
  a.out_token_stride = d.q_dim();
  a.out_head_stride = hd;
  a.work = s.work;
  a.work_floats = s.work_floats;
  b.attention(a);
}

}  // namespace

int64_t gqa_workspace_floats(const GqaDims& d) {
  return kernels::attention_workspace_floats(1, d.n_heads, d.head_dim);
}

void gqa_attention(backend::Backend& b, const GqaDims& d, const AttentionWeights& w, const float* x,
                   int64_t n_tokens, int64_t start, const float* cos, const float* sin, const LayerCache& cache,
                   const GqaScratch& s, float* out) {
  const int64_t cd = d.cache_dim(), kv = d.kv_dim();
  // This call's new rows, K at [0, kv), V at [kv, 2 kv): straight in an f32 full-length cache,
  // else in f32 scratch, stored into the cache below.
  const bool direct = writes_cache_directly(cache);
  float* rows = direct ? cache.f32() + start * cd : s.kv_rows;
  b.matmul(w.q, x, w.q.cols, n_tokens, s.q, w.q.rows);
  b.matmul(w.k, x, d.hidden, n_tokens, rows, cd);
  b.matmul(w.v, x, d.hidden, n_tokens, rows + kv, cd);
  finish_qk(b, d, s.q, n_tokens, d.q_dim(), d.n_heads, w.q_bias, w.q_norm, cos, sin);
  finish_qk(b, d, rows, n_tokens, cd, d.n_kv_heads, w.k_bias, w.k_norm, cos, sin);
  if (w.v_bias != nullptr) b.add_bias(rows + kv, n_tokens, cd, w.v_bias, kv);
  if (!direct) store_cache_rows(b, cache, rows, n_tokens, start, 2 * d.n_kv_heads, d.head_dim);
  attend(b, d, s.q, n_tokens, start, cache, w.sinks, s);
  b.matmul(w.o, s.ctx, w.o.cols, n_tokens, out, w.o.rows);
  if (w.o_bias != nullptr) b.add_bias(out, n_tokens, d.hidden, w.o_bias, d.hidden);
}

}  // namespace mote::blocks
