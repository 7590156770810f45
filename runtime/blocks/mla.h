// Multi-head Latent Attention in the weight-absorbed form (DeepSeek's inference/model.py,
// attn_impl="absorb"; equal to the naive form up to rounding). The KV cache holds, per
// token and layer, only c_kv (kv_lora_rank floats, after kv_a_layernorm) followed by k_pe
// (qk_rope_head_dim floats, after RoPE): kv_cache_dim = kv_lora_rank + qk_rope_head_dim.
//
//   q      = q_b(rms(q_a x)) or q_proj(x)            [T, nh, dn + dr]; RoPE on the last dr dims
//   q_lat  = W_UK[h]^T q_nope[h]                      [T, nh, kv_lora]
//   score  = (q_lat . c_kv[t] + q_pe . k_pe[t]) * softmax_scale, causal
//   ctx    = sum_t softmax(score)_t c_kv[t]           [T, nh, kv_lora]
//   out    = o_proj(concat_h W_UV[h] ctx[h])          [T, H]
//
// W_UK[h] [dn, kv_lora] and W_UV[h] [dv, kv_lora] are row slices of kv_b_proj, read in place in
// its stored weight type (no absorbed copies): q_lat uses the transposed matmul kernel.
//
// Every activation and cache pointer is device memory of `b` (backend/backend.h); the block only
// computes addresses and calls backend ops, it never reads or writes them itself.
// Functions only write caller-owned buffers; thread-safe for distinct buffers/caches.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "blocks/layer_cache.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote::blocks {

struct MlaDims {
  int64_t hidden = 0, n_heads = 0, q_lora = 0, kv_lora = 0;
  int64_t dn = 0, dr = 0, dv = 0;  // qk_nope, qk_rope, v head dims
  float softmax_scale = 0;
  float eps = 1e-6f;
  int64_t qk() const { return dn + dr; }
  int64_t cache_dim() const { return kv_lora + dr; }
  static MlaDims from_hparams(const HParams& hp);
};

// Caller-owned buffers for a batch of up to max_tokens tokens and max_context positions.
struct MlaScratch {
  float* q_a = nullptr;     // [max_tokens, q_lora] (q-LoRA only)
  float* q = nullptr;       // [max_tokens, nh * qk]
  float* kv_a = nullptr;    // [max_tokens, kv_lora + dr]
  float* q_lat = nullptr;   // [max_tokens, nh, kv_lora]
  float* ctx = nullptr;     // [max_tokens, nh, kv_lora]
  float* o = nullptr;       // [max_tokens, nh * dv]
  // Attention workspace (kernels::AttentionArgs::work): with mla_workspace_floats(d) floats the
  // attention kernel also splits a decode token's keys over threads; null/0: it does not. The
  // result is the same either way.
  float* work = nullptr;
  int64_t work_floats = 0;
};

// Workspace floats for MlaScratch::work (split of one token's keys over threads).
int64_t mla_workspace_floats(const MlaDims& d);

// x: [T, H] (already input-normalised) at positions start .. start+T-1. cos/sin: [T, dr/2] RoPE
// tables for those positions. cache: this layer's latent rows (blocks/layer_cache.h: f32/f16/
// q8_0, full length); rows < start must hold the earlier tokens; rows start .. start+T-1 are
// written here (typed caches: built in f32 in MlaScratch::kv_a, then stored).
// out: [T, H].
void mla_attention(backend::Backend& b, const MlaDims& d, const AttentionWeights& w, const float* x,
                   int64_t n_tokens, int64_t start, const float* cos, const float* sin, const LayerCache& cache,
                   const MlaScratch& s, float* out);

// The absorbed attention core alone (exposed for tests): for each token s and head h, attends
// over cache rows 0 .. start+s with q_lat [T, nh, kv_lora] and q_pe taken from q [T, nh, qk]
// (dims dn..qk of each head); writes ctx [T, nh, kv_lora]. One kernels::attention call: one
// shared kv head whose key is the cache row [c_kv | k_pe] and whose value is c_kv.
// work: optional workspace of work_floats floats (see MlaScratch::work).
void mla_attend(backend::Backend& b, const MlaDims& d, const float* q, const float* q_lat, int64_t n_tokens,
                int64_t start,
                const float* cache, float* work, int64_t work_floats, float* ctx);

}  // namespace mote::blocks
