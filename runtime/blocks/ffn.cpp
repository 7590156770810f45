#include "blocks/ffn.h"

#include <algorithm>
#include <cstring>

#include "blocks/ffn_internal.h"
#include "kernels/kernels.h"

namespace mote::blocks {

void swiglu_mlp(backend::Backend& b, const ExpertWeights& w, const float* x, int64_t n_tokens, float* gate, float* up,
                float* out, const uint8_t* x_q) {
  b.swiglu(w.gate, w.up, x, w.gate.cols, n_tokens, x_q, gate, w.gate.rows, up);
  b.matmul(w.down, gate, w.down.cols, n_tokens, out, w.down.rows);
}

void clamped_swiglu_mlp(backend::Backend& b, const ExpertWeights& w, float alpha, float limit, const float* x,
                        int64_t n_tokens, float* gate, float* up, float* out) {
  const int64_t I = w.gate.rows, H = w.down.rows;
  b.matmul(w.gate, x, w.gate.cols, n_tokens, gate, I);
  b.matmul(w.up, x, w.up.cols, n_tokens, up, w.up.rows);
  if (w.gate_bias != nullptr) b.add_bias(gate, n_tokens, I, w.gate_bias, I);
  if (w.up_bias != nullptr) b.add_bias(up, n_tokens, I, w.up_bias, I);
  b.clamped_swiglu_combine(gate, up, n_tokens * I, alpha, limit);
  b.matmul(w.down, gate, w.down.cols, n_tokens, out, H);
  if (w.down_bias != nullptr) b.add_bias(out, n_tokens, H, w.down_bias, H);
}

namespace detail {

// Routes every token (on the device), downloads the choices and sorts the (token, weight) slots
// by expert on the host (counting sort, stable in token order). Afterwards expert e owns slots
// [e == 0 ? 0 : expert_end[e-1], expert_end[e]).
void route_and_group(backend::Backend& b, const RouterParams& router, const FfnWeights& w, const float* x,
                     int64_t n_tokens, const FfnScratch& s) {
  const int64_t E = router.n_experts, K = router.top_k;
  // Router and top-k fused per chunk of kRouteChunk tokens: the chunk's logits are selected from
  // while still in L1, and the logits buffer is [kRouteChunk, E] whatever the batch.
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kRouteChunk) {
    const int64_t nt = std::min(kRouteChunk, n_tokens - t0);
    b.matmul(w.router, x + t0 * w.router.cols, w.router.cols, nt, s.router_logits, w.router.rows);
    b.route(router, s.router_logits, w.router_bias, s.route_scratch, nt, s.sel_idx + t0 * K, s.sel_weight + t0 * K);
  }
  b.download(s.sel_idx_host, s.sel_idx, uint64_t(n_tokens * K) * sizeof(int32_t));
  b.download(s.sel_weight_host, s.sel_weight, uint64_t(n_tokens * K) * sizeof(float));
  int32_t* start = s.expert_end;  // counts, then starts, then ends
  std::memset(start, 0, size_t(E + 1) * sizeof(int32_t));
  for (int64_t i = 0; i < n_tokens * K; ++i) ++start[s.sel_idx_host[i] + 1];
  for (int64_t e = 0; e < E; ++e) start[e + 1] += start[e];
  for (int64_t i = 0; i < n_tokens * K; ++i) {
    const int32_t slot = start[s.sel_idx_host[i]]++;
    s.slot_token[slot] = int32_t(i / K);
    s.slot_weight[slot] = s.sel_weight_host[i];
  }
}

// Runs expert weights `ew` (device views) on the tokens of slots [begin, end) and accumulates
// into out. swiglu_limit > 0: gpt-oss's clamped SwiGLU with biases (FfnWeights::swiglu_limit).
void run_expert(backend::Backend& b, const ExpertWeights& ew, float swiglu_limit, const float* x, int32_t begin,
                int32_t end, int64_t hidden, const FfnScratch& s, float* out) {
  const int64_t n = end - begin;
  b.gather_rows(x, hidden * int64_t(sizeof(float)), s.slot_token + begin, n, s.gathered);
  const uint8_t* gathered_q = nullptr;
  if (s.x_quantized != nullptr && s.gathered_q != nullptr) {
    b.gather_rows(s.x_quantized, kernels::quantized_row_bytes(hidden), s.slot_token + begin, n, s.gathered_q);
    gathered_q = s.gathered_q;
  }
  if (swiglu_limit > 0.0f)
    clamped_swiglu_mlp(b, ew, kGptOssSwigluAlpha, swiglu_limit, s.gathered, n, s.gate, s.up, s.expert_out);
  else
    swiglu_mlp(b, ew, s.gathered, n, s.gate, s.up, s.expert_out, gathered_q);
  b.scatter_add_scaled(s.expert_out, s.slot_token + begin, s.slot_weight + begin, n, hidden, out);
}

int64_t slots_of(const FfnScratch& s, int32_t id) { return s.expert_end[id] - (id == 0 ? 0 : s.expert_end[id - 1]); }

// Whether a group's experts can run as one Backend::expert_ffns call (decode-sized groups of
// plain SwiGLU experts; gpt-oss's clamped SwiGLU with biases runs one by one).
bool run_together(const FfnScratch& s, const ExpertWeights* views, const int32_t* ids, int64_t n, float swiglu_limit) {
  if (s.job_x == nullptr || n < 2 || swiglu_limit > 0.0f) return false;
  int64_t slots = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (views[i].gate_bias || views[i].up_bias || views[i].down_bias) return false;
    slots += slots_of(s, ids[i]);
  }
  return slots <= kJobSlots;
}

// The experts ids[0..n) of a group on their tokens, scheduled together, then accumulated into
// out in the same order (expert, then slot) as run_expert does, so the sums are identical.
void run_experts_together(backend::Backend& b, const ExpertWeights* views, const int32_t* ids, int64_t n,
                          const float* x, int64_t hidden, const FfnScratch& s, float* out) {
  kernels::ExpertJob jobs[kMaxExpertGroup];
  const int64_t q_row = kernels::quantized_row_bytes(hidden);
  int64_t slot = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t begin = ids[i] == 0 ? 0 : s.expert_end[ids[i] - 1];
    const int64_t count = s.expert_end[ids[i]] - begin, width = views[i].gate.rows;
    b.gather_rows(x, hidden * int64_t(sizeof(float)), s.slot_token + begin, count, s.job_x + slot * hidden);
    if (s.x_quantized) b.gather_rows(s.x_quantized, q_row, s.slot_token + begin, count, s.job_q + slot * q_row);
    kernels::ExpertJob& e = jobs[i];
    e.gate = views[i].gate, e.up = views[i].up, e.down = views[i].down;
    e.x = s.job_x + slot * hidden;
    e.x_q = s.x_quantized ? s.job_q + slot * q_row : nullptr;
    e.n_tokens = count;
    e.hidden = s.job_hidden + slot * width;
    e.scratch = s.job_scratch + slot * width;
    e.out = s.job_out + slot * hidden;
    slot += count;
  }
  b.expert_ffns(jobs, n);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t begin = ids[i] == 0 ? 0 : s.expert_end[ids[i] - 1];
    b.scatter_add_scaled(jobs[i].out, s.slot_token + begin, s.slot_weight + begin, jobs[i].n_tokens, hidden, out);
  }
}

}  // namespace detail

namespace {

// Views of a layer's resident experts.
class ResidentExperts final : public ExpertProvider {
 public:
  explicit ResidentExperts(const FfnWeights& w) : w_(w) {}
  Status acquire(int64_t, const int32_t* ids, int64_t n, ExpertWeights* out) override {
    for (int64_t i = 0; i < n; ++i) out[i] = w_.experts[size_t(ids[i])];
    return Status::ok();
  }
  void release(int64_t, const int32_t*, int64_t) override {}
  int64_t max_group() const override { return kMaxExpertGroup; }

 private:
  const FfnWeights& w_;
};

}  // namespace

namespace detail {

// The shared experts of w (unscaled, and Qwen2-MoE's gated one) added to out.
void add_shared_experts(backend::Backend& b, const FfnWeights& w, const float* x, int64_t n_tokens, int64_t hidden,
                        const FfnScratch& s, float* out) {
  if (!w.shared.gate.empty()) {
    swiglu_mlp(b, w.shared, x, n_tokens, s.gate, s.up, s.expert_out, s.x_quantized);
    b.add(out, s.expert_out, n_tokens * hidden);
  }
  if (!w.gated_shared.gate.empty()) {  // Qwen2-MoE: + sigmoid(shared_expert_gate . x) * shared(x)
    b.matmul(w.shared_gate, x, w.shared_gate.cols, n_tokens, s.shared_gate, w.shared_gate.rows);  // [T, 1]
    swiglu_mlp(b, w.gated_shared, x, n_tokens, s.gate, s.up, s.expert_out, s.x_quantized);
    b.add_sigmoid_gated(out, s.expert_out, s.shared_gate, n_tokens, hidden);
  }
}

}  // namespace detail

using detail::add_shared_experts;
using detail::route_and_group;
using detail::run_expert;
using detail::run_experts_together;
using detail::run_together;

Status moe_ffn(backend::Backend& b, const RouterParams& router, const FfnWeights& w, ExpertProvider& experts,
               int64_t layer, const float* x, int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* out,
               const ExpertHint* next) {
  route_and_group(b, router, w, x, n_tokens, s);
  b.zero(out, uint64_t(n_tokens * hidden) * sizeof(float));
  const int64_t group_max = std::min<int64_t>(kMaxExpertGroup, std::max<int64_t>(experts.max_group(), 1));
  int32_t ids[kMaxExpertGroup];
  ExpertWeights host_views[kMaxExpertGroup];
  ExpertWeights views[kMaxExpertGroup];
  for (int64_t e = 0; e < router.n_experts;) {
    int64_t n = 0;
    for (; e < router.n_experts && n < group_max; ++e)
      if ((e == 0 ? 0 : s.expert_end[e - 1]) != s.expert_end[e]) ids[n++] = int32_t(e);
    if (n == 0) break;
    int32_t tokens[kMaxExpertGroup];
    for (int64_t i = 0; i < n; ++i) tokens[i] = s.expert_end[ids[i]] - (ids[i] == 0 ? 0 : s.expert_end[ids[i] - 1]);
    experts.count_routed_tokens(layer, ids, tokens, n);
    MOTE_RETURN_IF_ERROR(experts.acquire(layer, ids, n, host_views));
    b.stage_experts(host_views, n, s.expert_slots, views);
    bool last_group = true;
    for (int64_t f = e; f < router.n_experts && last_group; ++f)
      last_group = (f == 0 ? 0 : s.expert_end[f - 1]) == s.expert_end[f];
    if (last_group && next != nullptr && next->n > 0) experts.prefetch(next->layer, next->ids, next->n);
    if (run_together(s, views, ids, n, w.swiglu_limit)) {
      run_experts_together(b, views, ids, n, x, hidden, s, out);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const int32_t id = ids[i];
        run_expert(b, views[i], w.swiglu_limit, x, id == 0 ? 0 : s.expert_end[id - 1], s.expert_end[id], hidden, s,
                   out);
      }
    }
    experts.release(layer, ids, n);
  }
  add_shared_experts(b, w, x, n_tokens, hidden, s, out);
  return Status::ok();
}

int64_t predict_experts(backend::Backend& b, const RouterParams& router, const FfnWeights& next, float rms_eps,
                        const float* h, int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* normed) {
  if (s.predicted == nullptr || !next.moe) return 0;
  const int64_t E = router.n_experts, K = router.top_k;
  b.rms_norm_pieces(h, hidden, n_tokens, 1, 0, next.norm, hidden, rms_eps, normed, hidden);
  int32_t* votes = s.expert_end;  // [E + 1]
  std::memset(votes, 0, size_t(E + 1) * sizeof(int32_t));
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kRouteChunk) {
    const int64_t nt = std::min(kRouteChunk, n_tokens - t0);
    b.matmul(next.router, normed + t0 * hidden, next.router.cols, nt, s.router_logits, next.router.rows);
    b.route(router, s.router_logits, next.router_bias, s.route_scratch, nt, s.sel_idx, s.sel_weight);
    b.download(s.sel_idx_host, s.sel_idx, uint64_t(nt * K) * sizeof(int32_t));
    for (int64_t i = 0; i < nt * K; ++i) ++votes[s.sel_idx_host[i]];
  }
  int64_t n = 0;
  for (int64_t e = 0; e < E; ++e)
    if (votes[e] > 0) s.predicted[n++] = int32_t(e);
  // Most voted first (lower id first on ties), so a short budget keeps the best guesses.
  // Insertion sort: n <= E, and std::stable_sort could allocate.
  for (int64_t i = 1; i < n; ++i) {
    const int32_t id = s.predicted[i];
    int64_t j = i;
    for (; j > 0 && votes[s.predicted[j - 1]] < votes[id]; --j) s.predicted[j] = s.predicted[j - 1];
    s.predicted[j] = id;
  }
  return n;
}

void moe_ffn(backend::Backend& b, const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens,
             int64_t hidden, const FfnScratch& s, float* out) {
  ResidentExperts resident(w);
  (void)moe_ffn(b, router, w, resident, -1, x, n_tokens, hidden, s, out);
}

}  // namespace mote::blocks
