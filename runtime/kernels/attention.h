// The attention kernel interface: softmax(q . k * scale) v over a KV cache, for a batch of query
// tokens, every query head, causal with an optional sliding window and optional per-head sink
// logits. The blocks (blocks/gqa_attention.cpp, blocks/mla.cpp) describe their cache layout
// with strides and call attention(); they hold no loop over keys themselves.
//
//   token t (0 <= t < n_tokens) sits at position pos = start + t and attends to the keys at
//   positions lo .. pos, lo = window > 0 ? max(0, pos - window + 1) : 0
//   query head h uses kv head g = h / (n_heads / n_kv_heads)
//   s_p    = scale * (q[t, h] . K[p, g])                      (dk floats)
//   out    = sum_p exp(s_p - M) V[p, g] / (sum_p exp(s_p - M) + (sinks ? exp(sinks[h] - M) : 0))
//            with M = max(max_p s_p, sinks[h])                  (dv floats)
//
// GQA: K and V are interleaved in one cache row [K heads | V heads]; MLA (absorbed): one shared
// kv head (n_kv_heads = 1) whose key is the whole cache row [c_kv | k_pe] (dk = kv_lora + dr) and
// whose value is its first kv_lora floats, with a query given in two pieces (q_lat, q_pe).
//
// Implementations: attention_ref (runtime/kernels/attention_ref.cpp), the scalar oracle, computes
// exactly what the blocks computed before this interface existed (per head: every score,
// their max, the exp sum, then p / sum times V, in key order). The fast CPU kernels
// (platforms/cpu/kernels/attention*.cpp) read each K/V row once per group of query heads sharing
// it, use a streaming (online) softmax over fixed segments of keys, and split the work over the
// kernel threads; their result is a fixed function of the arguments: it does not depend on the
// thread count, the thread timing, the batch the token is in, or whether a workspace is given.
// Typed rows (kv_type f16 / q8_0) and rings change only where the key and value floats come
// from: every implementation decodes them exactly and then computes as for f32 rows, so a call
// on typed rows equals, bit for bit, the same implementation's call on the decoded f32 rows, and
// a ring equals the unwrapped cache.
//
// Thread-safety: the functions only write `out` and `work`; concurrent calls with distinct
// outputs are safe. None allocates (bounded stack buffers, at most about 48 KiB per thread, 66 KiB
// with typed rows).
#pragma once

#include <cstdint>

#include "core/kv_type.h"

namespace mote::kernels {

struct AttentionArgs {
  int64_t n_tokens = 0;    // T, query tokens in the batch
  int64_t start = 0;       // position of token 0
  int64_t window = 0;      // sliding window in positions; 0 = full causal attention
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // kv heads, divides n_heads
  int64_t dk = 0;          // query and key width (floats)
  int64_t dv = 0;          // value and output width (floats); wider than kAttentionMaxDv: reference
  float scale = 1.0f;      // softmax scale applied to q . k

  // Query of token t, head h, dims [0, dk): q[t * q_token_stride + h * q_head_stride + i] for
  // i < dk_a, then q2[t * q2_token_stride + h * q2_head_stride + i - dk_a] for dk_a <= i < dk.
  // q2 null: the whole query is in q (dk_a is ignored).
  const float* q = nullptr;
  int64_t q_token_stride = 0, q_head_stride = 0;
  const float* q2 = nullptr;
  int64_t dk_a = 0;
  int64_t q2_token_stride = 0, q2_head_stride = 0;

  // Key of position p, kv head g: k[p * k_row_stride + g * k_head_stride + i], i < dk.
  // Value: v[p * v_row_stride + g * v_head_stride + i], i < dv. Rows lo .. start+T-1 must be
  // written (the causal rule never reads later rows).
  const float* k = nullptr;
  int64_t k_row_stride = 0, k_head_stride = 0;
  const float* v = nullptr;
  int64_t v_row_stride = 0, v_head_stride = 0;

  // Typed rows (kernels/kv_rows.h). kv_type == kF32 (the default): k and v above, byte fields
  // ignored. Otherwise k and v are ignored and the key of position p, kv head g, is the dk values
  // of the piece stored as kv_type at k_bytes + row * k_row_bytes + g * k_head_bytes; the value
  // is the first dv values of the piece at v_bytes + row * v_row_bytes + g * v_head_bytes
  // (GQA: one piece per head; MLA: the key is the whole latent row [c_kv | k_pe], ONE piece of
  // kv_lora + dr values, and the value its first kv_lora values: v_bytes == k_bytes).
  // Each key and value is decoded exactly (kv_value) and then used as the f32 path uses it.
  KvType kv_type = KvType::kF32;
  const uint8_t* k_bytes = nullptr;
  int64_t k_row_bytes = 0, k_head_bytes = 0;
  const uint8_t* v_bytes = nullptr;
  int64_t v_row_bytes = 0, v_head_bytes = 0;

  // Ring buffer (every kv_type): > 0: position p lives in row p % ring_rows (in the formulas
  // above, row = p % ring_rows instead of p). The caller guarantees that the rows of positions
  // lo .. start + T - 1 of every token are present: ring_rows >= window + n_tokens - 1 (a ring
  // needs a window). 0: row = p.
  int64_t ring_rows = 0;

  // gpt-oss: [n_heads] sink logits (not scaled), or null.
  const float* sinks = nullptr;

  // Output of token t, head h: out[t * out_token_stride + h * out_head_stride + i], i < dv.
  // Must not overlap q, k, v.
  float* out = nullptr;
  int64_t out_token_stride = 0, out_head_stride = 0;

  // Optional workspace (caller-owned, not read before being written): with at least
  // attention_workspace_floats(n_tokens, n_heads, dv) floats, the fast kernels also split one
  // token's keys over threads (decode with few kv heads, e.g. MLA's single one). Without it
  // they split over (token, kv head, head block) only. The reference uses it as a score buffer
  // when it holds one token's keys. The result is the same either way.
  float* work = nullptr;
  int64_t work_floats = 0;
};

// The fast kernels' widest value (their stack buffers); wider calls run the reference.
inline constexpr int64_t kAttentionMaxDv = 8192;
// With typed rows (kv_type != kF32) the fast kernels decode 4 keys or values at a time into a
// stack buffer: dk and dv up to this; wider calls run the reference.
inline constexpr int64_t kAttentionMaxTypedWidth = 1024;

// The fast kernels split one token's keys into at most this many ranges.
inline constexpr int64_t kAttentionMaxRanges = 32;

// Workspace floats that let the fast kernels split the keys of batches of up to n_tokens tokens
// over threads: partial (max, sum, [dv] accumulator) per token, head and key range.
constexpr int64_t attention_workspace_floats(int64_t n_tokens, int64_t n_heads, int64_t dv) {
  return n_tokens * n_heads * kAttentionMaxRanges * (dv + 2);
}

// The scalar reference (the oracle).
void attention_ref(const AttentionArgs& a);

// An implementation by kernel-table name ("reference", "avx2", "avx512", "neon"), or null when
// this build or CPU has none of that name.
using AttentionFn = void (*)(const AttentionArgs& a);
AttentionFn find_attention(const char* name);

// The implementation that goes with active_kernels(): its name's fast attention if there is one,
// else the reference (so a process pinned to the reference kernels stays exact).
void attention(const AttentionArgs& a);

}  // namespace mote::kernels
