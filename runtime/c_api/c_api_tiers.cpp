// The C API of the routed expert tiers on a backend with device memory (API version 7):
// mote_stats' tier fields and mote_model_get_layer_tiers (mote.h). Reads the Model's
// DevicePlacement and DeviceExpertCache (thread-safe; counters are the model's since open).
#include "c_api_internal.h"

#include "experts/device_expert_cache.h"

namespace mote::capi {

void fill_tier_stats(const Model& model, mote_stats* out) {
  const DevicePlacement& p = model.placement();
  if (!p.separate) return;
  out->vram_budget_bytes = p.budget_bytes;
  out->device_dense_bytes = p.dense_bytes;
  out->device_session_bytes = p.session_bytes;
  out->device_cache_bytes = p.cache_bytes;
  const DeviceExpertCache* cache = model.device_experts();
  if (cache == nullptr) return;
  out->device_expert_slots = cache->slot_count();
  out->device_experts_total = cache->total_experts();
  const TierStats t = cache->stats();
  out->tier_device_hits = int64_t(t.device_hits);
  out->tier_uploads_host = int64_t(t.uploads_host);
  out->tier_uploads_disk = int64_t(t.uploads_disk);
  out->tier_cpu_host = int64_t(t.cpu_host);
  out->tier_cpu_disk = int64_t(t.cpu_disk);
  out->tier_probes = int64_t(t.probes);
  const double spb = cache->upload_seconds_per_byte();
  out->tier_upload_gbs = spb > 0 ? 1e-9 / spb : 0;
  out->tier_cpu_us_per_token = cache->cpu_seconds_per_token() * 1e6;
  for (int64_t l = 0; l < cache->n_layers(); ++l) {
    const LayerTier tier = cache->layer_tier(l);
    out->tier_layers_upload += tier == LayerTier::kUpload ? 1 : 0;
    out->tier_layers_cpu += tier == LayerTier::kCpu ? 1 : 0;
  }
}

}  // namespace mote::capi

using mote::capi::fail;
using mote::capi::guarded;

MOTE_EXPORT mote_status mote_model_get_layer_tiers(const mote_model* model, mote_layer_tier* tiers, size_t capacity,
                                                   size_t* out_count) {
  return guarded("mote_model_get_layer_tiers", [&]() -> mote_status {
    if (model == nullptr || out_count == nullptr || (tiers == nullptr && capacity > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_layer_tiers: NULL argument");
    const mote::Model& m = model->model();
    const size_t n = size_t(m.hparams().n_layers) + m.weights().mtp.size();
    *out_count = n;
    if (capacity < n)
      return fail(MOTE_ERR_BUFFER_TOO_SMALL, "mote_model_get_layer_tiers: room for " + std::to_string(capacity) +
                                                 " layers, " + std::to_string(n) + " needed");
    const mote::DeviceExpertCache* cache = m.device_experts();
    for (size_t l = 0; l < n; ++l) {
      const mote::LayerTier t = cache != nullptr ? cache->layer_tier(int64_t(l)) : mote::LayerTier::kNone;
      tiers[l] = t == mote::LayerTier::kResident ? MOTE_LAYER_TIER_RESIDENT
                 : t == mote::LayerTier::kUpload ? MOTE_LAYER_TIER_UPLOAD
                 : t == mote::LayerTier::kCpu    ? MOTE_LAYER_TIER_CPU
                                                 : MOTE_LAYER_TIER_NONE;
    }
    return MOTE_OK;
  });
}
