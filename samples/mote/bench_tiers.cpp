#include "bench_tiers.h"

#include <string>
#include <vector>

namespace mote::cli {
namespace {

const char* layer_tier_name(mote_layer_tier t) {
  switch (t) {
    case MOTE_LAYER_TIER_RESIDENT: return "resident";
    case MOTE_LAYER_TIER_UPLOAD: return "upload";
    case MOTE_LAYER_TIER_CPU: return "cpu";
    default: return "none";
  }
}

double share(int64_t part, int64_t whole) { return whole > 0 ? double(part) / double(whole) : 0.0; }

// The counters of `to` minus those of `from`, with each tier's share of the accesses.
nlohmann::ordered_json phase(const mote_stats& from, const mote_stats& to) {
  const int64_t hits = to.tier_device_hits - from.tier_device_hits;
  const int64_t up_host = to.tier_uploads_host - from.tier_uploads_host;
  const int64_t up_disk = to.tier_uploads_disk - from.tier_uploads_disk;
  const int64_t cpu_host = to.tier_cpu_host - from.tier_cpu_host;
  const int64_t cpu_disk = to.tier_cpu_disk - from.tier_cpu_disk;
  const int64_t all = hits + up_host + up_disk + cpu_host + cpu_disk;
  return {{"accesses", all},
          {"device_hits", hits},
          {"uploads_host", up_host},
          {"uploads_disk", up_disk},
          {"cpu_host", cpu_host},
          {"cpu_disk", cpu_disk},
          {"probes", to.tier_probes - from.tier_probes},
          {"share_device", share(hits, all)},
          {"share_upload", share(up_host + up_disk, all)},
          {"share_cpu", share(cpu_host + cpu_disk, all)}};
}

}  // namespace

nlohmann::ordered_json tiers_json(const mote_model* model, const mote_stats& base, const mote_stats& after_prefill,
                                  const mote_stats& end) {
  std::vector<std::string> layers;
  size_t n = 0;
  if (mote_model_get_layer_tiers(model, nullptr, 0, &n) == MOTE_ERR_BUFFER_TOO_SMALL || n == 0) {
    std::vector<mote_layer_tier> tiers(n);
    if (n > 0 && mote_model_get_layer_tiers(model, tiers.data(), n, &n) == MOTE_OK)
      for (mote_layer_tier t : tiers) layers.push_back(layer_tier_name(t));
  }
  return {{"vram_budget_bytes", end.vram_budget_bytes},
          {"device_dense_bytes", end.device_dense_bytes},
          {"device_session_bytes", end.device_session_bytes},
          {"device_cache_bytes", end.device_cache_bytes},
          {"device_expert_slots", end.device_expert_slots},
          {"experts_total", end.device_experts_total},
          {"upload_gbs", end.tier_upload_gbs},
          {"cpu_us_per_expert_token", end.tier_cpu_us_per_token},
          {"layers_upload", end.tier_layers_upload},
          {"layers_cpu", end.tier_layers_cpu},
          {"layer_choice", layers},
          {"prefill", phase(base, after_prefill)},
          {"decode", phase(after_prefill, end)}};
}

}  // namespace mote::cli
