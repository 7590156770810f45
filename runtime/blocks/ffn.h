// Feed-forward blocks: the dense SwiGLU MLP (down(silu(gate x) * up x)) and the routed MoE layer.
// In a batch (prefill), the MoE groups tokens per expert, so each selected expert's weights are
// read once per batch. Accumulation is fp32. Activations are device memory of the backend `b`
// (backend/backend.h): the blocks compute addresses and call backend ops; only the routed ids
// and weights (downloaded) and the slot sort are touched on the host. Functions only write caller-owned buffers and are
// thread-safe for distinct buffers.
#pragma once

#include <cstdint>

#include "kernels/router.h"
#include "backend/backend.h"
#include "core/status.h"
#include "experts/expert_provider.h"
#include "model/weights.h"

namespace mote::blocks {

using kernels::RouterParams;

// Tokens whose router logits are computed and routed together (keeps the logits in L1).
inline constexpr int64_t kRouteChunk = 16;
// Most (token, expert) slots of one expert group that run as scheduled-together jobs.
inline constexpr int64_t kJobSlots = 16;

// Caller-owned buffers for a batch of up to max_tokens tokens. Device memory of the backend
// (backend/backend.h) unless marked HOST: the host-side arrays are the routed ids and weights
// downloaded from the device and the counting sort of (token, expert) slots over them.
struct FfnScratch {
  float* gate = nullptr;           // [max_tokens, max FFN width]
  float* up = nullptr;             // [max_tokens, max FFN width]
  float* gathered = nullptr;       // [max_tokens, H]: the tokens routed to one expert
  float* expert_out = nullptr;     // [max_tokens, H]: one expert's (or the shared experts') output
  float* router_logits = nullptr;  // [min(max_tokens, kRouteChunk), E]
  float* route_scratch = nullptr;  // [RouterParams::scratch_size()]
  int32_t* sel_idx = nullptr;      // [max_tokens, top_k] the router's choices
  float* sel_weight = nullptr;     // [max_tokens, top_k]
  float* shared_gate = nullptr;    // [max_tokens]: Qwen2-MoE's shared-expert gate (null if unused)
  // Int8 rows of the normalised input (kernels::QuantizedRows), quantised once by the FFN's
  // RMSNorm and reused by the shared expert and every routed expert instead of each
  // re-quantising its copy: [max_tokens, kernels::quantized_row_bytes(H)] each.
  uint8_t* quantized = nullptr;    // storage rms_norm_rows fills
  const uint8_t* x_quantized = nullptr;  // = quantized when valid for this call, else null
  uint8_t* gathered_q = nullptr;   // the rows of the tokens routed to one expert
  // Experts scheduled together (Backend::expert_ffns) when a group of experts has at most
  // kJobSlots (token, expert) slots in all, as in decode: each slot's input, quantised input,
  // hidden, scratch and output rows. Null: experts always run one after another.
  float* job_x = nullptr;          // [kJobSlots, H]
  uint8_t* job_q = nullptr;        // [kJobSlots, quantized_row_bytes(H)]
  float* job_hidden = nullptr;     // [kJobSlots, max FFN width]
  float* job_scratch = nullptr;    // [kJobSlots, max FFN width]
  float* job_out = nullptr;        // [kJobSlots, H]
  // Where moe_ffn's Backend::stage_experts puts a group's routed experts: kMaxExpertGroup slots
  // of Backend::expert_slot_bytes(). Null on the CPU (unified memory). The decoder's scratch
  // leaves it null on every backend: with separate memory it runs moe_ffn_tiered
  // (blocks/ffn_tiers.h) over the model's device expert cache instead; a caller of moe_ffn on
  // such a backend must set it.
  void* expert_slots = nullptr;
  // --- HOST ---
  int32_t* sel_idx_host = nullptr;    // [max_tokens, top_k] sel_idx downloaded
  float* sel_weight_host = nullptr;   // [max_tokens, top_k]
  int32_t* expert_end = nullptr;      // [E + 1]
  int32_t* slot_token = nullptr;      // [max_tokens * top_k]
  float* slot_weight = nullptr;       // [max_tokens * top_k]
  int32_t* predicted = nullptr;       // [E]: predict_experts' output (null: no prediction)
  // Rows of the routed experts computed on the host (blocks/ffn_tiers.h, a backend without
  // unified memory only; else null): the gathered input downloaded, its quantised rows, the
  // hidden and scratch rows of the CPU kernels, the output before its upload.
  float* host_x = nullptr;            // [max_tokens, H]
  uint8_t* host_q = nullptr;          // [max_tokens, kernels::quantized_row_bytes(H)]
  float* host_gate = nullptr;         // [max_tokens, max FFN width]
  float* host_up = nullptr;           // [max_tokens, max FFN width]
  float* host_out = nullptr;          // [max_tokens, H]
};

// out[T, H] = down(silu(gate x) * up x) for x [T, H]. gate/up buffers: [T, I] each. x_q: null
// or x's rows quantised (FfnScratch::x_quantized), used by the fused gate/up kernel.
void swiglu_mlp(backend::Backend& b, const ExpertWeights& w, const float* x, int64_t n_tokens, float* gate, float* up,
                float* out, const uint8_t* x_q = nullptr);

// gpt-oss's expert (as openai/gpt-oss's torch/model.py swiglu), with the expert's biases (null
// ones are skipped):
//   g = min(x Wg^T + bg, limit); u = clamp(x Wu^T + bu, -limit, limit)
//   out[T, H] = ((u + 1) * g * sigmoid(alpha * g)) Wd^T + bd.     gate/up buffers: [T, I] each.
inline constexpr float kGptOssSwigluAlpha = 1.702f;
void clamped_swiglu_mlp(backend::Backend& b, const ExpertWeights& w, float alpha, float limit, const float* x,
                        int64_t n_tokens, float* gate, float* up, float* out);

// out[T, H] = sum_i w_i Expert_{idx_i}(x) + SharedExperts(x) for x [T, H] (normalised input);
// Qwen2-MoE's gated shared expert adds sigmoid(shared_gate . x_t) * SharedExpert(x_t) per token
// (needs s.shared_gate).
// Experts come from `experts` (host views) in ascending id order, staged to the device with
// b.stage_experts, in groups of up to max_group(): each needed
// expert is acquired once per call (per batch). `next` (optional) is passed to
// experts.prefetch right after the last group is pinned, so those reads overlap with this
// layer's expert compute and the next attention, and cannot evict this layer's experts.
// Errors: those of experts.acquire (out undefined).
Status moe_ffn(backend::Backend& b, const RouterParams& router, const FfnWeights& w, ExpertProvider& experts,
               int64_t layer, const float* x, int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* out,
               const ExpertHint* next = nullptr);

// Pre-gating (as in mixtral-offloading and Pre-gated MoE): applies the router of a later MoE
// layer (`next`, with its post-attention norm) to the residual stream h [T, H] of the current
// layer, and writes the distinct predicted experts, most selected first, to s.predicted.
// Uses s.router_logits, s.route_scratch, s.sel_idx(_host), s.sel_weight, s.expert_end and `normed`
// [T, H] as scratch (all free before moe_ffn). Returns how many ids it wrote (<= E).
int64_t predict_experts(backend::Backend& b, const RouterParams& router, const FfnWeights& next, float rms_eps,
                        const float* h, int64_t n_tokens, int64_t hidden, const FfnScratch& s, float* normed);
// The same with every expert resident (views of w.experts).
void moe_ffn(backend::Backend& b, const RouterParams& router, const FfnWeights& w, const float* x, int64_t n_tokens,
             int64_t hidden, const FfnScratch& s, float* out);

}  // namespace mote::blocks
