// The fast attention driver (kernels/attention.h): the canonical decomposition of the work, its
// split over the kernel threads, the merge of partial softmax states and the dispatch by kernel
// table name. The per-ISA range kernels (attention_isa.h) do the arithmetic on keys.
//
// The canonical computation, which fixes the result bit for bit (per ISA):
//   token t's keys [lo, pos] are cut into at most kAttentionMaxRanges ranges of
//   len = ceil(segments / kAttentionMaxRanges) * kAttnSeg keys, counted from lo;
//   each range gives a softmax state (m, l, acc) per head (the range kernel, online over its
//   segments); the states are merged in range order: M' = max(M, m),
//   O = O exp(M - M') + acc exp(m - M'), L = L exp(M - M') + l exp(m - M');
//   out = O / L (with a sink: O c / (L c + exp(sink - S)), S = max(M, sink), c = exp(M - S)).
// Nothing in it depends on the thread count, the other tokens of the batch or the workspace:
//   path B: one task per (token, kv head, head block) runs its ranges in order, merging as it
//     goes (range accumulator on the stack);
//   path A (fewer than 4 such tasks per thread, e.g. decode with MLA's single kv head, and a
//     workspace given): one task per (token, kv head, head block, range) writes its state to
//     the workspace, then one task per (token, head) merges them in range order.
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/kernels/attention_isa.h"
#include "cpu/kernels/isa.h"
#include "cpu/kernels/threads.h"
#include "kernels/kernels.h"

namespace mote::cpu {
namespace {

using kernels::AttentionArgs;
using kernels::kAttentionMaxRanges;

// Below this many multiply-adds a call stays on the calling thread (a parallel dispatch costs a
// few microseconds).
constexpr int64_t kParallelMinWork = int64_t(1) << 17;
constexpr int64_t kMaxHeadBlock = kAttnScoreFloats / kAttnSeg;

// Heads processed together (they share one kv head): bounded by the score and accumulator
// stack budgets. Changes only the blocking, never a head's arithmetic.
int64_t head_block(const AttentionArgs& a) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  const int64_t hb = std::min(kMaxHeadBlock, kAttnAccFloats / std::max<int64_t>(a.dv, 1));
  return std::clamp<int64_t>(hb, 1, group);
}

// Token t's keys: range r covers [lo + r * len, min(pos + 1, lo + (r + 1) * len)).
struct Ranges {
  int64_t lo = 0, end = 0, len = 0, count = 0;
  int64_t begin(int64_t r) const { return lo + r * len; }
  int64_t stop(int64_t r) const { return std::min(end, lo + (r + 1) * len); }
};

Ranges ranges_of(const AttentionArgs& a, int64_t t) {
  Ranges r;
  const int64_t pos = a.start + t;
  r.lo = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
  r.end = pos + 1;
  const int64_t n = r.end - r.lo, segs = (n + kAttnSeg - 1) / kAttnSeg;
  r.len = (segs + kAttentionMaxRanges - 1) / kAttentionMaxRanges * kAttnSeg;
  r.count = (n + r.len - 1) / r.len;
  return r;
}

// Merges one range's state (m, l, acc [dv]) into the running state (M, L, O [dv]) of a head.
void merge_state(float m, float l, const float* acc, float* M, float* L, float* O, int64_t dv, bool first) {
  if (first) {
    *M = m;
    *L = l;
    if (O != acc) std::memcpy(O, acc, size_t(dv) * sizeof(float));
    return;
  }
  const float mn = std::max(*M, m), co = std::exp(*M - mn), cp = std::exp(m - mn);
  for (int64_t d = 0; d < dv; ++d) O[d] = O[d] * co + acc[d] * cp;
  *L = *L * co + l * cp;
  *M = mn;
}

// out = O / L, the sink (if any) adding exp(sink - M) to L, computed without overflow.
void finish_state(float M, float L, const float* sink, float* O, int64_t dv) {
  float f = 1.0f / L;
  if (sink != nullptr) {
    const float s = std::max(M, *sink), c = std::exp(M - s);
    f = c / (L * c + std::exp(*sink - s));
  }
  for (int64_t d = 0; d < dv; ++d) O[d] *= f;
}

struct Job {
  const AttentionArgs* a;
  AttnRangeFn range;
  int64_t group, hb, n_hb, max_ranges;
  float* out_row(int64_t t, int64_t h) const { return a->out + t * a->out_token_stride + h * a->out_head_stride; }
  const float* sink(int64_t h) const { return a->sinks != nullptr ? a->sinks + h : nullptr; }
  // First head and head count of item gb = kv head * n_hb + block.
  int64_t first_head(int64_t gb) const { return gb / n_hb * group + gb % n_hb * hb; }
  int64_t heads(int64_t gb) const { return std::min(hb, (gb / n_hb + 1) * group - first_head(gb)); }
  // Path A workspace: per (token, range) a block [n_heads, dv] of accumulators, then m [n_heads]
  // and l [n_heads].
  float* part(int64_t t, int64_t r) const { return a->work + (t * max_ranges + r) * a->n_heads * (a->dv + 2); }
};

// Path B: items are (token, kv head, head block).
void run_heads(void* ctx, int64_t begin, int64_t end) {
  const Job& j = *static_cast<const Job*>(ctx);
  const AttentionArgs& a = *j.a;
  alignas(64) float racc[kAttnAccFloats];
  float rm[kMaxHeadBlock], rl[kMaxHeadBlock], M[kMaxHeadBlock], L[kMaxHeadBlock];
  const int64_t per_token = a.n_kv_heads * j.n_hb;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t t = item / per_token, h0 = j.first_head(item % per_token), nh = j.heads(item % per_token);
    const Ranges rg = ranges_of(a, t);
    float* out0 = j.out_row(t, h0);
    if (rg.count == 1) {  // merging one state is a copy: compute it in place
      j.range(a, t, h0, nh, rg.begin(0), rg.stop(0), out0, a.out_head_stride, M, L);
    } else {
      for (int64_t r = 0; r < rg.count; ++r) {
        j.range(a, t, h0, nh, rg.begin(r), rg.stop(r), racc, a.dv, rm, rl);
        for (int64_t i = 0; i < nh; ++i)
          merge_state(rm[i], rl[i], racc + i * a.dv, M + i, L + i, out0 + i * a.out_head_stride, a.dv, r == 0);
      }
    }
    for (int64_t i = 0; i < nh; ++i) finish_state(M[i], L[i], j.sink(h0 + i), out0 + i * a.out_head_stride, a.dv);
  }
}

// Path A, step 1: items are (token, kv head, range, head block), head block fastest so that the
// blocks reading one range's K/V rows (at most kAttentionMaxRanges-th of the keys) run in a row,
// mostly on one thread, and find them in its cache.
void run_ranges(void* ctx, int64_t begin, int64_t end) {
  const Job& j = *static_cast<const Job*>(ctx);
  const AttentionArgs& a = *j.a;
  const int64_t ms = a.n_heads * a.dv;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item % j.n_hb, r = item / j.n_hb % j.max_ranges, tg = item / j.n_hb / j.max_ranges;
    const int64_t t = tg / a.n_kv_heads, gb = tg % a.n_kv_heads * j.n_hb + b;
    const int64_t h0 = j.first_head(gb), nh = j.heads(gb);
    const Ranges rg = ranges_of(a, t);
    if (r >= rg.count) continue;
    float* p = j.part(t, r);
    j.range(a, t, h0, nh, rg.begin(r), rg.stop(r), p + h0 * a.dv, a.dv, p + ms + h0, p + ms + a.n_heads + h0);
  }
}

// Path A, step 2: items are (token, head).
void run_merges(void* ctx, int64_t begin, int64_t end) {
  const Job& j = *static_cast<const Job*>(ctx);
  const AttentionArgs& a = *j.a;
  const int64_t ms = a.n_heads * a.dv;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t t = item / a.n_heads, h = item % a.n_heads;
    const Ranges rg = ranges_of(a, t);
    float* out = j.out_row(t, h);
    float M = 0, L = 0;
    for (int64_t r = 0; r < rg.count; ++r) {
      const float* p = j.part(t, r);
      merge_state(p[ms + h], p[ms + a.n_heads + h], p + h * a.dv, &M, &L, out, a.dv, r == 0);
    }
    finish_state(M, L, j.sink(h), out, a.dv);
  }
}

void drive(const AttentionArgs& a, AttnRangeFn range) {
  if (a.n_tokens <= 0 || a.n_heads <= 0) return;
  if (a.dv > kernels::kAttentionMaxDv) return kernels::attention_ref(a);  // wider than the stack buffers
  if (a.kv_type != KvType::kF32 && std::max(a.dk, a.dv) > kernels::kAttentionMaxTypedWidth)
    return kernels::attention_ref(a);  // wider than the typed decode buffers
  Job job{&a, range, a.n_heads / a.n_kv_heads, head_block(a), 0, 1};
  job.n_hb = (job.group + job.hb - 1) / job.hb;
  int64_t keys = 0;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const Ranges rg = ranges_of(a, t);
    keys += rg.end - rg.lo;
    job.max_ranges = std::max(job.max_ranges, rg.count);
  }
  const int threads = kernel_thread_count();
  const bool parallel = threads > 1 && keys * a.n_heads * (a.dk + a.dv) >= kParallelMinWork;
  const int64_t tasks = a.n_tokens * a.n_kv_heads * job.n_hb;
  // Fewer than about 4 tasks per thread balance poorly (tasks differ in length, a core may be
  // busy elsewhere): split the keys too when the workspace allows.
  const bool split = parallel && tasks < 4 * int64_t(threads) && job.max_ranges > 1 &&
                     a.work_floats >= kernels::attention_workspace_floats(a.n_tokens, a.n_heads, a.dv);
  if (split) {
    parallel_ranges(tasks * job.max_ranges, 1, run_ranges, &job);
    parallel_ranges(a.n_tokens * a.n_heads, 1, run_merges, &job);
  } else if (parallel) {
    parallel_ranges(tasks, 1, run_heads, &job);
  } else {
    run_heads(&job, 0, tasks);
  }
}

template <AttnRangeFn R>
void attention_with(const AttentionArgs& a) {
  drive(a, R);
}

#if defined(__x86_64__)
// CPUID leaf 1, ECX bit 29 (<cpuid.h>'s bit_F16C). Read directly: clang's
// __builtin_cpu_supports does not know "f16c".
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

// The avx2 table needs only AVX2 + FMA; its f16 row decoding also uses F16C (present on every
// AVX2 CPU we know of, but not implied): without it f16 rows take the reference.
void attention_avx2(const AttentionArgs& a) {
  static const bool f16c = cpu_has_f16c();
  if (a.kv_type == KvType::kF16 && !f16c) return kernels::attention_ref(a);
  drive(a, attn_range_avx2);
}
#endif

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

}  // namespace
}  // namespace mote::cpu

namespace mote::kernels {

AttentionFn find_attention(const char* name) {
  if (std::strcmp(name, "reference") == 0) return attention_ref;
  if (!cpu::cpu_supports(name)) return nullptr;
#if defined(__x86_64__)
  if (std::strcmp(name, "avx2") == 0) return cpu::attention_avx2;
  // avx512-amx: the AVX-512 table with AMX matrix loops; attention is AVX-512's.
  if (std::strcmp(name, "avx512") == 0 || std::strcmp(name, "avx512-amx") == 0)
    return cpu::attention_with<cpu::attn_range_avx512>;
#endif
#if defined(__aarch64__)
  if (std::strcmp(name, "neon") == 0) return cpu::attention_with<cpu::attn_range_neon>;
#endif
  return nullptr;
}

void attention(const AttentionArgs& a) {
  // Tables are named after their ISA ("avx512", "neon", or a variant starting with it); any
  // other name (the reference, a test's table) gets the reference attention.
  const char* name = active_kernels().name;
  AttentionFn fn = nullptr;
  for (const char* isa : {"avx512", "avx2", "neon"})
    if (cpu::starts_with(name, isa)) fn = find_attention(isa);
  (fn != nullptr ? fn : attention_ref)(a);
}

}  // namespace mote::kernels
