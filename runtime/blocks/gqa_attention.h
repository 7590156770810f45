// Grouped-query attention (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, as transformers' modeling files).
// The KV cache holds, per token and layer, K (nkv*hd floats, after bias, k-norm and RoPE) then V
// (nkv*hd floats, after bias): cache_dim = 2 * nkv * hd.
//
//   q = x Wq^T (+ bq), k = x Wk^T (+ bk), v = x Wv^T (+ bv)     [T, nh*hd], [T, nkv*hd]
//   q, k: RMSNorm per head (Qwen3) or over the whole projection (OLMoE), then half-rotated RoPE
//   score = q[h] . k[h / (nh/nkv)][t] * hd^-0.5 over keys t in (pos - window, pos] (window 0 =
//           every earlier position), softmax, ctx[h] = sum_t p_t v[h / (nh/nkv)][t]
//   gpt-oss: each head's softmax also holds its sink logit (AttentionWeights::sinks), whose
//           probability is dropped; the sliding window is per layer (the caller sets
//           GqaDims::sliding_window for each layer)
//   out = ctx Wo^T (+ bo, gpt-oss)                              [T, H]
//
// Every activation and cache pointer is device memory of `b` (backend/backend.h); the block only
// computes addresses and calls backend ops.
// Functions only write caller-owned buffers; thread-safe for distinct buffers/caches.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "blocks/layer_cache.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote::blocks {

struct GqaDims {
  int64_t hidden = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t sliding_window = 0;  // 0 = full causal attention
  QkNorm qk_norm = QkNorm::kNone;
  float softmax_scale = 0;
  float eps = 1e-6f;
  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  int64_t cache_dim() const { return 2 * kv_dim(); }
  static GqaDims from_hparams(const HParams& hp);
};

// Caller-owned buffers for a batch of up to max_tokens tokens and max_context positions.
struct GqaScratch {
  float* q = nullptr;       // [max_tokens, nh * hd]
  float* ctx = nullptr;     // [max_tokens, nh * hd]
  // [max_tokens, cache_dim] the chunk's new K/V rows in f32 before they are stored into a typed
  // or ring cache (blocks/cache_rows.h); unused (may be null) for f32 full-length caches.
  float* kv_rows = nullptr;
  // Attention workspace (kernels::AttentionArgs::work): with gqa_workspace_floats(d) floats the
  // attention kernel also splits a decode token's keys over threads when there are few kv
  // heads; null/0: it does not. The result is the same either way.
  float* work = nullptr;
  int64_t work_floats = 0;
};

// Workspace floats for GqaScratch::work (split of one token's keys over threads).
int64_t gqa_workspace_floats(const GqaDims& d);

// x: [T, H] (already input-normalised) at positions start .. start+T-1. cos/sin: [T, hd/2] RoPE
// tables for those positions. cache: this layer's rows (blocks/layer_cache.h: f32/f16/q8_0,
// full length or a ring of >= window + T - 1 rows); the rows of positions start - window + 1 ..
// start - 1 (all earlier ones without a window) must hold the earlier tokens; the rows of
// start .. start+T-1 are written here.
// out: [T, H].
void gqa_attention(backend::Backend& b, const GqaDims& d, const AttentionWeights& w, const float* x,
                   int64_t n_tokens, int64_t start, const float* cos, const float* sin, const LayerCache& cache,
                   const GqaScratch& s, float* out);

}  // namespace mote::blocks
