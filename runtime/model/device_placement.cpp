// Model::place_expert_tiers: the VRAM budget's split on a backend with separate device memory
// (model/model.h, ModelOptions::vram_budget_bytes). Order of the claims, as the design asks:
//   1. the dense weights (already placed by place_weights: the device bytes in use now),
//   2. the sessions' KV caches and scratch (ModelOptions::vram_session_bytes, else the one
//      session plan_session sizes),
//   3. what remains: the device expert cache, in whole slots (experts/device_expert_cache.h).
// With no budget and no device capacity every expert gets a slot (resident mode).
#include <limits>
#include <string>

#include "model/model.h"

namespace mote {
namespace {

std::string mib(uint64_t bytes) { return std::to_string(bytes) + " bytes (" + std::to_string(bytes >> 20) + " MiB)"; }

}  // namespace

Status Model::place_expert_tiers(const ModelOptions& options, double place_seconds) {
  backend::Backend& b = *backend_;
  if (b.unified_memory()) return Status::ok();
  DevicePlacement& p = placement_;
  p.separate = true;
  p.place_seconds = place_seconds;
  const uint64_t capacity = b.device_capacity();
  if (options.vram_budget_bytes > 0 && capacity > 0 && options.vram_budget_bytes > capacity)
    return invalid_argument("vram_budget " + mib(options.vram_budget_bytes) + " exceeds the device's capacity " +
                            mib(capacity));
  p.budget_bytes = options.vram_budget_bytes > 0 ? options.vram_budget_bytes : capacity;
  p.dense_bytes = b.device_bytes_in_use();
  p.session_bytes = options.vram_session_bytes;
  if (p.session_bytes == 0 && memory_plan_.computed && memory_plan_.status)
    p.session_bytes = memory_plan_.inputs.kv_bytes + memory_plan_.inputs.scratch_bytes;
  if (p.budget_bytes > 0 && p.dense_bytes + p.session_bytes > p.budget_bytes)
    return Status(StatusCode::kOutOfMemory,
                  "vram_budget " + mib(p.budget_bytes) + " is below the dense weights' " + mib(p.dense_bytes) +
                      " plus the sessions' KV cache and scratch " + mib(p.session_bytes) +
                      " on the device; raise vram_budget (0 = all the device holds)");
  if (hparams_.n_routed_experts <= 0) return Status::ok();
  DeviceCacheOptions o;
  o.cache_bytes = p.budget_bytes > 0 ? p.budget_bytes - p.dense_bytes - p.session_bytes
                                     : std::numeric_limits<uint64_t>::max();
  o.policy = options.expert_policy;
  o.mode = options.expert_tier_mode;
  if (p.dense_bytes > 0 && place_seconds > 0) o.initial_upload_seconds_per_byte = place_seconds / double(p.dense_bytes);
  auto cache = DeviceExpertCache::create(b, hparams_, weights_, *experts_, o);
  if (!cache) {
    const Status& st = cache.status();
    return Status(st.code(), st.message() + " (vram_budget " + mib(p.budget_bytes) + ")");
  }
  device_experts_ = std::move(cache).value();
  p.cache_bytes = uint64_t(device_experts_->slot_count()) * device_experts_->slot_bytes();
  return Status::ok();
}

}  // namespace mote
