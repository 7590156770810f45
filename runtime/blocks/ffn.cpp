#include "blocks/ffn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/norm.h"
#include "kernels/kernels.h"

namespace mote::blocks {

using kernels::route;
using kernels::rms_norm_rows;

void swiglu_mlp(const ExpertWeights& w, const float* x, int64_t n_tokens, float* gate, float* up, float* out,
                const uint8_t* x_q) {
  kernels::swiglu(w.gate, w.up, x, n_tokens, gate, up, x_q);
  kernels::matmul(w.down, gate, n_tokens, out);
}

namespace {

void add_bias_rows(float* rows, int64_t n_rows, int64_t width, const float* bias) {
  if (bias == nullptr) return;
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t i = 0; i < width; ++i) rows[r * width + i] += bias[i];
}

}  // namespace

void clamped_swiglu_mlp(const ExpertWeights& w, float alpha, float limit, const float* x, int64_t n_tokens,
                        float* gate, float* up, float* out) {
  const int64_t I = w.gate.rows, H = w.down.rows;
  kernels::matmul(w.gate, x, n_tokens, gate);
  kernels::matmul(w.up, x, n_tokens, up);
  add_bias_rows(gate, n_tokens, I, w.gate_bias);
  add_bias_rows(up, n_tokens, I, w.up_bias);
  for (int64_t i = 0; i < n_tokens * I; ++i) {
    const float g = std::fmin(gate[i], limit);
    const float u = std::clamp(up[i], -limit, limit);
    gate[i] = (u + 1.0f) * (g / (1.0f + std::exp(-alpha * g)));
  }
  kernels::matmul(w.down, gate, n_tokens, out);
  add_bias_rows(out, n_tokens, H, w.down_bias);
}

namespace {

// Routes every token and sorts the (token, weight) slots by expert (counting sort, stable in
// token order). Afterwards expert e owns slots [e == 0 ? 0 : expert_end[e-1], expert_end[e]).
void route_and_group(const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens,
                     const FfnScratch& s) {
  const int64_t E = router.n_experts, K = router.top_k;
  // Router and top-k fused per chunk of kRouteChunk tokens: the chunk's logits are selected from
  // while still in L1, and the logits buffer is [kRouteChunk, E] whatever the batch.
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kRouteChunk) {
    const int64_t nt = std::min(kRouteChunk, n_tokens - t0);
    kernels::matmul(w.router, x + t0 * w.router.cols, nt, s.router_logits);
    for (int64_t t = t0; t < t0 + nt; ++t)
      route(router, s.router_logits + (t - t0) * E, w.router_bias, s.route_scratch, s.sel_idx + t * K,
            s.sel_weight + t * K);
  }
  int32_t* start = s.expert_end;  // counts, then starts, then ends
  std::memset(start, 0, size_t(E + 1) * sizeof(int32_t));
  for (int64_t i = 0; i < n_tokens * K; ++i) ++start[s.sel_idx[i] + 1];
  for (int64_t e = 0; e < E; ++e) start[e + 1] += start[e];
  for (int64_t i = 0; i < n_tokens * K; ++i) {
    const int32_t slot = start[s.sel_idx[i]]++;
    s.slot_token[slot] = int32_t(i / K);
    s.slot_weight[slot] = s.sel_weight[i];
  }
}

// Runs expert weights `ew` on the tokens of slots [begin, end) and accumulates into out.
// swiglu_limit > 0: gpt-oss's clamped SwiGLU with biases (FfnWeights::swiglu_limit).
void run_expert(const ExpertWeights& ew, float swiglu_limit, const float* x, int32_t begin, int32_t end,
                int64_t hidden, const FfnScratch& s, float* out) {
  const int64_t n = end - begin;
  for (int64_t j = 0; j < n; ++j)
    std::memcpy(s.gathered + j * hidden, x + int64_t(s.slot_token[begin + j]) * hidden,
                size_t(hidden) * sizeof(float));
  const uint8_t* gathered_q = nullptr;
  if (s.x_quantized != nullptr && s.gathered_q != nullptr) {
    const int64_t q_row = kernels::quantized_row_bytes(hidden);
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(s.gathered_q + j * q_row, s.x_quantized + int64_t(s.slot_token[begin + j]) * q_row, size_t(q_row));
    gathered_q = s.gathered_q;
  }
  if (swiglu_limit > 0.0f)
    clamped_swiglu_mlp(ew, kGptOssSwigluAlpha, swiglu_limit, s.gathered, n, s.gate, s.up, s.expert_out);
  else
    swiglu_mlp(ew, s.gathered, n, s.gate, s.up, s.expert_out, gathered_q);
  for (int64_t j = 0; j < n; ++j)
    kernels::axpy(s.slot_weight[begin + j], s.expert_out + j * hidden,
                  out + int64_t(s.slot_token[begin + j]) * hidden, hidden);
}

int64_t slots_of(const FfnScratch& s, int32_t id) { return s.expert_end[id] - (id == 0 ? 0 : s.expert_end[id - 1]); }

// Whether a group's experts can run as one kernels::expert_ffns call (decode-sized groups of
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
void run_experts_together(const ExpertWeights* views, const int32_t* ids, int64_t n, const float* x, int64_t hidden,
                          const FfnScratch& s, float* out) {
  kernels::ExpertJob jobs[kMaxExpertGroup];
  const int64_t q_row = kernels::quantized_row_bytes(hidden);
  int64_t slot = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t begin = ids[i] == 0 ? 0 : s.expert_end[ids[i] - 1];
    const int64_t count = s.expert_end[ids[i]] - begin, width = views[i].gate.rows;
    for (int64_t j = 0; j < count; ++j) {
      const int64_t token = s.slot_token[begin + j];
      std::memcpy(s.job_x + (slot + j) * hidden, x + token * hidden, size_t(hidden) * sizeof(float));
      if (s.x_quantized) std::memcpy(s.job_q + (slot + j) * q_row, s.x_quantized + token * q_row, size_t(q_row));
    }
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
  kernels::expert_ffns(jobs, n);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t begin = ids[i] == 0 ? 0 : s.expert_end[ids[i] - 1];
    for (int64_t j = 0; j < jobs[i].n_tokens; ++j)
      kernels::axpy(s.slot_weight[begin + j], jobs[i].out + j * hidden, out + int64_t(s.slot_token[begin + j]) * hidden,
                    hidden);
  }
}

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

Status moe_ffn(const RouterParams& router, const FfnWeights& w, ExpertProvider& experts, int64_t layer,
               const float* x, int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* out,
               const ExpertHint* next) {
  route_and_group(router, w, x, n_tokens, s);
  std::memset(out, 0, size_t(n_tokens * hidden) * sizeof(float));
  const int64_t group_max = std::min<int64_t>(kMaxExpertGroup, std::max<int64_t>(experts.max_group(), 1));
  int32_t ids[kMaxExpertGroup];
  ExpertWeights views[kMaxExpertGroup];
  for (int64_t e = 0; e < router.n_experts;) {
    int64_t n = 0;
    for (; e < router.n_experts && n < group_max; ++e)
      if ((e == 0 ? 0 : s.expert_end[e - 1]) != s.expert_end[e]) ids[n++] = int32_t(e);
    if (n == 0) break;
    MOTE_RETURN_IF_ERROR(experts.acquire(layer, ids, n, views));
    bool last_group = true;
    for (int64_t f = e; f < router.n_experts && last_group; ++f)
      last_group = (f == 0 ? 0 : s.expert_end[f - 1]) == s.expert_end[f];
    if (last_group && next != nullptr && next->n > 0) experts.prefetch(next->layer, next->ids, next->n);
    if (run_together(s, views, ids, n, w.swiglu_limit)) {
      run_experts_together(views, ids, n, x, hidden, s, out);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const int32_t id = ids[i];
        run_expert(views[i], w.swiglu_limit, x, id == 0 ? 0 : s.expert_end[id - 1], s.expert_end[id], hidden, s, out);
      }
    }
    experts.release(layer, ids, n);
  }
  if (!w.shared.gate.empty()) {
    swiglu_mlp(w.shared, x, n_tokens, s.gate, s.up, s.expert_out, s.x_quantized);
    for (int64_t i = 0; i < n_tokens * hidden; ++i) out[i] += s.expert_out[i];
  }
  if (!w.gated_shared.gate.empty()) {  // Qwen2-MoE: + sigmoid(shared_expert_gate . x) * shared(x)
    kernels::matmul(w.shared_gate, x, n_tokens, s.shared_gate);  // [T, 1] gate logits
    swiglu_mlp(w.gated_shared, x, n_tokens, s.gate, s.up, s.expert_out, s.x_quantized);
    for (int64_t t = 0; t < n_tokens; ++t)
      kernels::axpy(1.0f / (1.0f + std::exp(-s.shared_gate[t])), s.expert_out + t * hidden, out + t * hidden, hidden);
  }
  return Status::ok();
}

int64_t predict_experts(const RouterParams& router, const FfnWeights& next, float rms_eps, const float* h,
                        int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* normed) {
  if (s.predicted == nullptr || !next.moe) return 0;
  const int64_t E = router.n_experts, K = router.top_k;
  rms_norm_rows(h, hidden, n_tokens, next.norm, hidden, rms_eps, normed, hidden);
  int32_t* votes = s.expert_end;  // [E + 1]
  std::memset(votes, 0, size_t(E + 1) * sizeof(int32_t));
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kRouteChunk) {
    const int64_t nt = std::min(kRouteChunk, n_tokens - t0);
    kernels::matmul(next.router, normed + t0 * hidden, nt, s.router_logits);
    for (int64_t t = 0; t < nt; ++t) {
      route(router, s.router_logits + t * E, next.router_bias, s.route_scratch, s.sel_idx, s.sel_weight);
      for (int64_t k = 0; k < K; ++k) ++votes[s.sel_idx[k]];
    }
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

void moe_ffn(const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens, int64_t hidden,
             const FfnScratch& s, float* out) {
  ResidentExperts resident(w);
  (void)moe_ffn(router, w, resident, -1, x, n_tokens, hidden, s, out);
}

}  // namespace mote::blocks
