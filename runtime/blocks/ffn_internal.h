// The MoE steps blocks/ffn.cpp's moe_ffn is made of, shared with the tiered MoE of
// blocks/ffn_tiers.cpp (a device expert cache, experts/device_expert_cache.h), so that both run
// the same routing, the same per-expert FFN and the same scatter order (expert id, then slot):
// the sums, hence the logits, are bit-identical whichever tier served an expert. Buffers and
// thread-safety as moe_ffn (blocks/ffn.h). Not part of the blocks' interface.
#pragma once

#include <cstdint>

#include "blocks/ffn.h"

namespace mote::blocks::detail {

// Routes every token on the device, downloads the choices and sorts the (token, weight) slots by
// expert on the host: expert e owns slots [e == 0 ? 0 : s.expert_end[e-1], s.expert_end[e]).
void route_and_group(backend::Backend& b, const RouterParams& router, const FfnWeights& w, const float* x,
                     int64_t n_tokens, const FfnScratch& s);
// Expert `ew` (views of b's memory) on the tokens of slots [begin, end), accumulated into out.
void run_expert(backend::Backend& b, const ExpertWeights& ew, float swiglu_limit, const float* x, int32_t begin,
                int32_t end, int64_t hidden, const FfnScratch& s, float* out);
// Tokens routed to expert `id` (slots of the sort).
int64_t slots_of(const FfnScratch& s, int32_t id);
// Whether a group's experts can run as one Backend::expert_ffns call.
bool run_together(const FfnScratch& s, const ExpertWeights* views, const int32_t* ids, int64_t n, float swiglu_limit);
// A group's experts through one expert_ffns call, then scattered in (expert, slot) order.
void run_experts_together(backend::Backend& b, const ExpertWeights* views, const int32_t* ids, int64_t n,
                          const float* x, int64_t hidden, const FfnScratch& s, float* out);
// The shared experts of w added to out.
void add_shared_experts(backend::Backend& b, const FfnWeights& w, const float* x, int64_t n_tokens, int64_t hidden,
                        const FfnScratch& s, float* out);

}  // namespace mote::blocks::detail
