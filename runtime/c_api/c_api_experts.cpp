// mote_model_get_expert_map: the per-expert view of the expert store (use counts, residency, hot
// pinning) for every routed expert of the main MoE layers; the memory plan and the expert read speed.
#include <cstdio>
#include <string>
#include <vector>

#include "c_api_internal.h"
#include "experts/expert_store.h"
#include "experts/memory_plan.h"

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
    const mote::ExpertLearning* learning = model->model().expert_learning();
    const std::vector<float>* shares = learning != nullptr && !learning->loaded_shares().empty()
                                           ? &learning->loaded_shares() : nullptr;
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
        if (shares != nullptr) e.learned = (*shares)[size_t(l * E + id)];
        entries[at++] = e;
      }
    }
    return MOTE_OK;
  });
}

// The memory plan made at open (ModelOptions::plan_session is set by every C API open).
MOTE_EXPORT mote_status mote_model_get_memory_plan(const mote_model* model, mote_memory_plan* out_plan) {
  return guarded("mote_model_get_memory_plan", [&]() -> mote_status {
    if (model == nullptr || out_plan == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_memory_plan: model or out_plan is NULL");
    const mote::ModelMemoryPlan& mp = model->model().memory_plan();
    if (!mp.computed) return fail(MOTE_ERR_INTERNAL, "mote_model_get_memory_plan: no plan was made at open");
    if (!mp.status) return fail(static_cast<mote_status>(mp.status.code()), mp.status.message());
    mote_memory_plan p{};
    p.available_bytes = mp.inputs.available;
    std::snprintf(p.source, sizeof p.source, "%s", mp.probe.source.c_str());
    p.mem_available_bytes = mp.probe.mem_available;
    p.cgroup_limit_bytes = mp.probe.cgroup_limit;
    p.cgroup_usage_bytes = mp.probe.cgroup_usage;
    p.dense_bytes = mp.inputs.dense_bytes;
    p.kv_bytes = mp.inputs.kv_bytes;
    p.scratch_bytes = mp.inputs.scratch_bytes;
    p.margin_bytes = mp.plan.margin_bytes;
    p.plan_context = model->params.plan_context;
    p.all_resident = mp.plan.all_resident ? 1 : 0;
    p.fits = mp.plan.fits ? 1 : 0;
    const mote::ExpertStore& store = model->model().expert_store();
    for (int64_t l = 0; l < model->model().hparams().n_layers; ++l) p.n_moe_layers += store.is_moe_layer(l) ? 1 : 0;
    p.expert_budget_bytes = mp.plan.fits ? mp.plan.budget_bytes : 0;
    p.expert_total_bytes = mp.inputs.expert_total_bytes;
    p.slot_bytes = mp.inputs.slot_bytes;
    p.slots = mp.plan.fits ? mp.plan.slots : 0;
    p.n_experts = mp.inputs.n_experts;
    *out_plan = p;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_model_measure_expert_reads(const mote_model* model, double max_seconds,
                                                        double* out_bytes_per_s, int32_t* out_direct_io) {
  return guarded("mote_model_measure_expert_reads", [&]() -> mote_status {
    if (model == nullptr || out_bytes_per_s == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_measure_expert_reads: model or out_bytes_per_s is NULL");
    if (!(max_seconds > 0) || max_seconds > 3600)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_measure_expert_reads: max_seconds must be in (0, 3600]");
    auto speed = mote::measure_expert_reads(model->model().file(), max_seconds);
    if (!speed) return mote::capi::from_status(speed.status());
    *out_bytes_per_s = speed->bytes_per_s;
    if (out_direct_io != nullptr) *out_direct_io = speed->direct_io ? 1 : 0;
    return MOTE_OK;
  });
}

MOTE_EXPORT double mote_expected_hit_rate(const double* counts, size_t n_experts, int64_t slots) {
  if (counts == nullptr || n_experts == 0) return 0.0;
  try {
    return mote::expected_hit_rate(std::vector<double>(counts, counts + n_experts), slots);
  } catch (...) {  // allocation failure: no exception crosses the C API
    return 0.0;
  }
}
