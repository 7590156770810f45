// The routed MoE layer over a device expert cache (experts/device_expert_cache.h), for a backend
// whose memory is separate from the host's. Per group of experts (as moe_ffn, blocks/ffn.h):
//   hits (on the device)        -> run in place;
//   misses, layer's way kUpload -> the store's host views (RAM, or disk through its reads) are
//                                  uploaded into a device slot the policy frees, then run there;
//   misses, layer's way kCpu    -> the expert's gathered rows are downloaded, its FFN runs on
//                                  the host weights with the cache's CPU kernels, the output rows
//                                  are uploaded and scatter-added on the device.
// Every expert's output rows are those of the CPU backend's moe_ffn (the kernels' results do not
// depend on which experts run together) and are accumulated in the same order (expert id, then
// slot), so the logits equal the CPU backend's bit for bit whichever tier served each expert.
// The store sees only the device misses (acquire/release), so its accesses, hits and use counts
// are those of the host tiers; count_routed_tokens (learning) still sees every routed expert.
// No allocation; the cache's mutex is taken per group unless every expert is on the device.
// Thread-safety: as moe_ffn (concurrent calls need distinct scratch and outputs).
#pragma once

#include <cstdint>

#include "blocks/ffn.h"
#include "experts/device_expert_cache.h"
#include "experts/expert_store.h"

namespace mote::blocks {

// moe_ffn with routed experts from `cache` first, then `store` (see above). Errors: the store's
// reads (out undefined; nothing stays pinned).
Status moe_ffn_tiered(backend::Backend& b, const RouterParams& router, const FfnWeights& w, ExpertStore& store,
                      DeviceExpertCache& cache, int64_t layer, const float* x, int64_t n_tokens, int64_t hidden,
                      const FfnScratch& s, float* out, const ExpertHint* next = nullptr);

}  // namespace mote::blocks
