// mote_model_get_expert_map: the per-expert view of the expert store (use counts, residency, hot
// pinning) for every routed expert of the main MoE layers.
#include <string>
#include <vector>

#include "c_api_internal.h"
#include "experts/expert_store.h"

using mote::capi::fail;
using mote::capi::guarded;

MOTE_EXPORT mote_status mote_model_get_expert_map(const mote_model* model, int32_t* out_n_layers,
                                                  int32_t* out_n_experts, mote_expert_entry* entries,
                                                  size_t capacity, size_t* out_count) {
  return guarded("mote_model_get_expert_map", [&]() -> mote_status {
    if (model == nullptr || out_count == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_expert_map: model or out_count is NULL");
    const mote::ExpertStore& store = model->model().expert_store();
    const int64_t n_layers = model->model().hparams().n_layers;
    const int64_t E = model->model().hparams().n_routed_experts;
    std::vector<int32_t> moe_layers;
    for (int64_t l = 0; l < n_layers; ++l)
      if (store.is_moe_layer(l)) moe_layers.push_back(int32_t(l));
    const int64_t n_experts = moe_layers.empty() ? 0 : E;
    const size_t count = moe_layers.size() * size_t(n_experts);
    *out_count = count;
    if (out_n_layers != nullptr) *out_n_layers = int32_t(moe_layers.size());
    if (out_n_experts != nullptr) *out_n_experts = int32_t(n_experts);
    if (count == 0) return MOTE_OK;
    if (entries == nullptr || capacity < count)
      return fail(MOTE_ERR_BUFFER_TOO_SMALL,
                  "mote_model_get_expert_map: needs room for " + std::to_string(count) + " entries");
    std::vector<mote::ExpertState> row(static_cast<size_t>(n_experts));
    size_t at = 0;
    for (int32_t l : moe_layers) {
      if (!store.snapshot(l, row.data()))
        return fail(MOTE_ERR_INTERNAL, "mote_model_get_expert_map: no experts in layer " + std::to_string(l));
      for (int64_t id = 0; id < n_experts; ++id) {
        mote_expert_entry e{};
        e.uses = row[size_t(id)].uses;
        e.layer = l;
        e.expert = int32_t(id);
        e.resident = row[size_t(id)].resident ? 1 : 0;
        e.pinned = row[size_t(id)].hot ? 1 : 0;
        e.loading = row[size_t(id)].loading ? 1 : 0;
        entries[at++] = e;
      }
    }
    return MOTE_OK;
  });
}
