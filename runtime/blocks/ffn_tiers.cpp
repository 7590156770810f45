#include "blocks/ffn_tiers.h"

#include <algorithm>
#include <chrono>

#include "blocks/ffn_internal.h"
#include "kernels/kernels.h"

namespace mote::blocks {
namespace {

using detail::slots_of;

// One group's experts (at most kMaxExpertGroup), on the stack: the forward allocates nothing.
struct Group {
  int64_t n = 0;
  int32_t ids[kMaxExpertGroup];
  int32_t tokens[kMaxExpertGroup];     // tokens routed to each
  ExpertTier tier[kMaxExpertGroup];
  int32_t slot[kMaxExpertGroup];       // pinned device slot, or -1
  ExpertWeights views[kMaxExpertGroup];  // device views (kDevice, kUpload)
  bool from_disk[kMaxExpertGroup];     // a miss the store had to read first
  bool no_slot[kMaxExpertGroup];       // meant for upload, but every slot was pinned
  int64_t n_miss = 0;
  int32_t miss_ids[kMaxExpertGroup];   // the misses, in id order (what the store pins)
  ExpertWeights host[kMaxExpertGroup];   // the store's host views of the misses
  int64_t miss_at[kMaxExpertGroup];    // group index -> index in miss_ids, or -1
};

int32_t begin_of(const FfnScratch& s, int32_t id) { return id == 0 ? 0 : s.expert_end[id - 1]; }

// The next group of routed experts from id *e on (ascending ids, at most group_max); g.n = 0 when
// none is left.
void next_group(const FfnScratch& s, int64_t n_experts, int64_t group_max, int64_t* e, Group& g) {
  g.n = 0;
  for (; *e < n_experts && g.n < group_max; ++*e)
    if (begin_of(s, int32_t(*e)) != s.expert_end[*e]) g.ids[g.n++] = int32_t(*e);
  for (int64_t i = 0; i < g.n; ++i) g.tokens[i] = int32_t(slots_of(s, g.ids[i]));
}

// Pins the group's misses in the store (host RAM; disk reads under an expert budget) and uploads
// those the cache chose to upload. A miss that finds no free slot is computed on the CPU.
Status fetch_misses(ExpertStore& store, DeviceExpertCache& cache, int64_t layer, Group& g) {
  g.n_miss = 0;
  for (int64_t i = 0; i < g.n; ++i) {
    g.miss_at[i] = -1;
    g.from_disk[i] = g.no_slot[i] = false;
    if (g.tier[i] == ExpertTier::kDevice) continue;
    // Priced before acquire: bytes the store would read, so > 0 means disk (miss path only).
    g.from_disk[i] = !store.resident() && store.missing_bytes(layer, &g.ids[i], 1) > 0;
    g.miss_at[i] = g.n_miss;
    g.miss_ids[g.n_miss++] = g.ids[i];
  }
  if (g.n_miss == 0) return Status::ok();
  MOTE_RETURN_IF_ERROR(store.acquire(layer, g.miss_ids, g.n_miss, g.host));
  for (int64_t i = 0; i < g.n; ++i) {
    if (g.tier[i] != ExpertTier::kUpload) continue;
    const ExpertWeights& host = g.host[g.miss_at[i]];
    if (!cache.upload(layer, g.ids[i], host, store.segment_bytes(layer, g.ids[i]), g.from_disk[i], &g.views[i],
                      &g.slot[i])) {
      g.tier[i] = ExpertTier::kCpu;
      g.no_slot[i] = true;
    }
  }
  return Status::ok();
}

// Expert `hw` (host views) on the host for the tokens of slots [begin, end): the gathered rows
// (and their int8 rows, as the device path uses) go down, the CPU kernels run, the output rows
// come back into s.expert_out and are scatter-added into out on the device.
void run_expert_on_host(backend::Backend& b, backend::Backend& cpu, const ExpertWeights& hw, float swiglu_limit,
                        const float* x, int32_t begin, int32_t end, int64_t hidden, const FfnScratch& s, float* out) {
  const int64_t n = end - begin;
  const uint64_t row_bytes = uint64_t(hidden) * sizeof(float);
  b.gather_rows(x, int64_t(row_bytes), s.slot_token + begin, n, s.gathered);
  b.download(s.host_x, s.gathered, uint64_t(n) * row_bytes);
  const uint8_t* host_q = nullptr;
  if (s.x_quantized != nullptr && s.gathered_q != nullptr) {
    const int64_t q_row = kernels::quantized_row_bytes(hidden);
    b.gather_rows(s.x_quantized, q_row, s.slot_token + begin, n, s.gathered_q);
    b.download(s.host_q, s.gathered_q, uint64_t(n * q_row));
    host_q = s.host_q;
  }
  if (swiglu_limit > 0.0f)
    clamped_swiglu_mlp(cpu, hw, kGptOssSwigluAlpha, swiglu_limit, s.host_x, n, s.host_gate, s.host_up, s.host_out);
  else
    swiglu_mlp(cpu, hw, s.host_x, n, s.host_gate, s.host_up, s.host_out, host_q);
  b.upload(s.expert_out, s.host_out, uint64_t(n) * row_bytes);
  b.scatter_add_scaled(s.expert_out, s.slot_token + begin, s.slot_weight + begin, n, hidden, out);
}

// Runs the group's experts, each on its tier, accumulating in expert-id order.
void run_group(backend::Backend& b, DeviceExpertCache& cache, const FfnWeights& w, int64_t layer, const float* x,
               int64_t hidden, const FfnScratch& s, float* out, const Group& g) {
  bool on_device = true;
  for (int64_t i = 0; i < g.n; ++i) on_device = on_device && g.tier[i] != ExpertTier::kCpu;
  if (on_device && detail::run_together(s, g.views, g.ids, g.n, w.swiglu_limit)) {
    detail::run_experts_together(b, g.views, g.ids, g.n, x, hidden, s, out);
    return;
  }
  for (int64_t i = 0; i < g.n; ++i) {
    const int32_t begin = begin_of(s, g.ids[i]), end = s.expert_end[g.ids[i]];
    if (g.tier[i] != ExpertTier::kCpu) {
      detail::run_expert(b, g.views[i], w.swiglu_limit, x, begin, end, hidden, s, out);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    run_expert_on_host(b, cache.host_backend(), g.host[g.miss_at[i]], w.swiglu_limit, x, begin, end, hidden, s, out);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
    cache.record_cpu(layer, end - begin, uint64_t(ns.count()), g.from_disk[i], g.no_slot[i]);
  }
}

}  // namespace

Status moe_ffn_tiered(backend::Backend& b, const RouterParams& router, const FfnWeights& w, ExpertStore& store,
                      DeviceExpertCache& cache, int64_t layer, const float* x, int64_t n_tokens, int64_t hidden,
                      const FfnScratch& s, float* out, const ExpertHint* next) {
  detail::route_and_group(b, router, w, x, n_tokens, s);
  b.zero(out, uint64_t(n_tokens * hidden) * sizeof(float));
  // Groups no larger than the device slots, so that one forward's hits and uploads of a group
  // can all be pinned at once (only concurrent forwards can then find every slot pinned).
  int64_t group_max = std::min<int64_t>(kMaxExpertGroup, std::max<int64_t>(store.max_group(), 1));
  if (cache.slot_count() > 0) group_max = std::min(group_max, cache.slot_count());
  Group g;
  for (int64_t e = 0; e < router.n_experts;) {
    next_group(s, router.n_experts, group_max, &e, g);
    if (g.n == 0) break;
    store.count_routed_tokens(layer, g.ids, g.tokens, g.n);
    cache.lookup(layer, g.ids, g.tokens, g.n, g.views, g.tier, g.slot);
    if (Status st = fetch_misses(store, cache, layer, g); !st) {
      cache.unpin(g.slot, g.n);
      return st;
    }
    bool last_group = true;
    for (int64_t f = e; f < router.n_experts && last_group; ++f) last_group = slots_of(s, int32_t(f)) == 0;
    if (last_group && next != nullptr && next->n > 0) store.prefetch(next->layer, next->ids, next->n);
    run_group(b, cache, w, layer, x, hidden, s, out, g);
    if (g.n_miss > 0) store.release(layer, g.miss_ids, g.n_miss);
    cache.unpin(g.slot, g.n);
  }
  detail::add_shared_experts(b, w, x, n_tokens, hidden, s, out);
  return Status::ok();
}

}  // namespace mote::blocks
