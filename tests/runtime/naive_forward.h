// Test oracle: a straightforward float64 DeepSeek-V2/V3 forward written directly from DeepSeek's
// inference/model.py and the transformers modeling code, independent of the runtime's blocks:
// dequantises every matrix in full, materialises per-head K and V from kv_b_proj (no absorption, no
// KV cache), recomputes the YaRN tables itself, and routes with sorts. Slow; for tiny models only.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace mote::test {

struct NaiveResult {
  std::vector<std::vector<double>> logits;          // [T][vocab]
  std::vector<std::vector<std::vector<int>>> routes;  // [layer][T] selected experts (MoE layers only)
};

NaiveResult naive_forward(const Model& model, const std::vector<int32_t>& ids);

// The naive YaRN numbers (HF _compute_yarn_parameters + DeepSeek attention scaling).
struct NaiveRope {
  std::vector<double> inv_freq;
  double multiplier = 1.0;
  double softmax_scale = 0.0;
};
NaiveRope naive_rope(const HParams& hp);

// Naive router for one token: returns the selected experts (sorted best first) and weights.
void naive_route(const HParams& hp, const std::vector<double>& logits, const float* bias, std::vector<int>* idx,
                 std::vector<double>* weights);

// Blocks of the naive forward, for block-level tests. Vectors are float64.
using NaiveVec = std::vector<double>;
NaiveVec naive_swiglu(const ExpertWeights& w, const NaiveVec& x);
// x: [T][H] normalised inputs at positions 0..T-1 -> attention outputs [T][H].
std::vector<NaiveVec> naive_attention(const HParams& hp, const NaiveRope& rope, const AttentionWeights& w,
                                      const std::vector<NaiveVec>& x);
// One token's MoE output (routed + shared); `route` receives the selected experts.
NaiveVec naive_moe(const HParams& hp, const FfnWeights& w, const NaiveVec& x, std::vector<int>* route);

}  // namespace mote::test
