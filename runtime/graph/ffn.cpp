#include "graph/ffn.h"

#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace mote::graph {

void swiglu_mlp(const ExpertWeights& w, const float* x, int64_t n_tokens, float* gate, float* up, float* out) {
  const int64_t I = w.gate.rows;
  kernels::matmul(w.gate, x, n_tokens, gate);
  kernels::matmul(w.up, x, n_tokens, up);
  for (int64_t i = 0; i < n_tokens * I; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  kernels::matmul(w.down, gate, n_tokens, out);
}

namespace {

// Routes every token and sorts the (token, weight) slots by expert (counting sort, stable in
// token order). Afterwards expert e owns slots [e == 0 ? 0 : expert_end[e-1], expert_end[e]).
void route_and_group(const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens,
                     const FfnScratch& s) {
  const int64_t E = router.n_experts, K = router.top_k;
  kernels::matmul(w.router, x, n_tokens, s.router_logits);
  for (int64_t t = 0; t < n_tokens; ++t)
    route(router, s.router_logits + t * E, w.router_bias, s.route_scratch, s.sel_idx + t * K, s.sel_weight + t * K);
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

}  // namespace

void moe_ffn(const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens, int64_t hidden,
             const FfnScratch& s, float* out) {
  route_and_group(router, w, x, n_tokens, s);
  std::memset(out, 0, size_t(n_tokens * hidden) * sizeof(float));
  for (int64_t e = 0; e < router.n_experts; ++e) {
    const int32_t begin = e == 0 ? 0 : s.expert_end[e - 1], end = s.expert_end[e];
    if (begin == end) continue;
    const int64_t n = end - begin;
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(s.gathered + j * hidden, x + int64_t(s.slot_token[begin + j]) * hidden,
                  size_t(hidden) * sizeof(float));
    swiglu_mlp(w.experts[size_t(e)], s.gathered, n, s.gate, s.up, s.expert_out);
    for (int64_t j = 0; j < n; ++j)
      kernels::axpy(s.slot_weight[begin + j], s.expert_out + j * hidden,
                    out + int64_t(s.slot_token[begin + j]) * hidden, hidden);
  }
  if (!w.shared.gate.empty()) {
    swiglu_mlp(w.shared, x, n_tokens, s.gate, s.up, s.expert_out);
    for (int64_t i = 0; i < n_tokens * hidden; ++i) out[i] += s.expert_out[i];
  }
}

}  // namespace mote::graph
