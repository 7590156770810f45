// Internal interface between the ISA-independent attention driver (attention.cpp: work split,
// threads, merging of partial softmax states) and the per-ISA range kernels
// (attention_avx2.cpp, attention_avx512.cpp, attention_neon.cpp, all instantiating
// attention_impl.h). Tests reach the kernels only through kernels::find_attention.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace mote::cpu {

// Keys are processed in segments of kAttnSeg positions (counted from the range's first key):
// scores for a segment and a block of heads, their max, then one rescale of the accumulators.
inline constexpr int64_t kAttnSeg = 128;
// Stack budgets of one range call: scores [heads, kAttnSeg] and (in the driver) a range
// accumulator [heads, dv]. They bound the heads processed together (head_block in attention.cpp).
inline constexpr int64_t kAttnScoreFloats = 4096;
inline constexpr int64_t kAttnAccFloats = kernels::kAttentionMaxDv;

// The softmax state of one range of keys for a block of heads, before normalisation:
// m[i] = max score, l[i] = sum exp(s - m[i]), acc[i * acc_stride + j] = sum exp(s - m[i]) V[j].
// One range call: token t, query heads [h0, h0 + nh) (all in one kv head), keys [k0, k1) with
// k1 > k0, walked in segments of kAttnSeg from k0. Overwrites acc, m and l.
// Thread-safe, allocation-free (a [nh, kAttnSeg] score buffer on the stack; nh * kAttnSeg <=
// kAttnScoreFloats).
using AttnRangeFn = void (*)(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0,
                             int64_t k1, float* acc, int64_t acc_stride, float* m, float* l);

#if defined(__x86_64__)
void attn_range_avx2(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                     float* acc, int64_t acc_stride, float* m, float* l);
void attn_range_avx512(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                       float* acc, int64_t acc_stride, float* m, float* l);
#endif
#if defined(__aarch64__)
void attn_range_neon(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                     float* acc, int64_t acc_stride, float* m, float* l);
#endif

}  // namespace mote::cpu
