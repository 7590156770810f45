#include "experts/device_expert_cache.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

namespace mote {
namespace {

// Weight of a new measurement in the exponential averages of the speeds and tokens per miss:
// a few misses move the estimate, one outlier (a page fault, a busy machine) does not own it.
constexpr double kNewWeight = 0.25;

double blend(double old_value, double sample) {
  return old_value <= 0 ? sample : old_value + kNewWeight * (sample - old_value);
}

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

const char* tier_mode_name(TierMode mode) {
  switch (mode) {
    case TierMode::kAuto: return "auto";
    case TierMode::kUpload: return "upload";
    case TierMode::kCpu: return "cpu";
  }
  return "?";
}

const char* layer_tier_name(LayerTier tier) {
  switch (tier) {
    case LayerTier::kNone: return "none";
    case LayerTier::kResident: return "resident";
    case LayerTier::kUpload: return "upload";
    case LayerTier::kCpu: return "cpu";
  }
  return "?";
}

LayerTier choose_tier(double upload_seconds_per_byte, double cpu_seconds_per_token, double tokens_per_miss,
                      uint64_t expert_bytes) {
  if (upload_seconds_per_byte <= 0) return LayerTier::kUpload;
  if (cpu_seconds_per_token <= 0) return LayerTier::kCpu;
  const double upload = double(expert_bytes) * upload_seconds_per_byte;
  const double cpu = tokens_per_miss * cpu_seconds_per_token;
  return cpu < upload ? LayerTier::kCpu : LayerTier::kUpload;
}

Result<std::unique_ptr<DeviceExpertCache>> DeviceExpertCache::create(backend::Backend& b, const HParams& hp,
                                                                     const ModelWeights& host, ExpertStore& store,
                                                                     const DeviceCacheOptions& options) {
  std::unique_ptr<DeviceExpertCache> c(new DeviceExpertCache(b, hp, store, options));
  backend::BackendOptions cpu;
  cpu.kind = backend::BackendKind::kCpu;
  cpu.n_threads = b.n_threads();
  cpu.kernels = b.kernels_name();
  MOTE_ASSIGN_OR_RETURN(c->host_, backend::create_backend(cpu));
  const int64_t E = hp.n_routed_experts;
  c->n_layers_ = hp.n_layers + int64_t(host.mtp.size());
  c->layers_.resize(size_t(c->n_layers_));
  for (int64_t l = 0; l < c->n_layers_; ++l) {
    const FfnWeights& f = l < hp.n_layers ? host.layers[size_t(l)].ffn : host.mtp[size_t(l - hp.n_layers)].block.ffn;
    if (!f.moe || E <= 0) continue;
    Layer& layer = c->layers_[size_t(l)];
    layer.tier = options.mode == TierMode::kCpu ? LayerTier::kCpu : LayerTier::kUpload;
    for (int64_t id = 0; id < E; ++id) layer.expert_bytes = std::max(layer.expert_bytes, store.segment_bytes(l, id));
    c->total_experts_ += E;
  }
  c->slot_of_.assign(size_t(c->n_layers_ * std::max<int64_t>(E, 0)), -1);
  c->slot_bytes_ = b.expert_slot_bytes(hp);
  c->upload_spb_ = options.initial_upload_seconds_per_byte;
  if (c->total_experts_ == 0 || c->slot_bytes_ == 0) return c;
  c->n_slots_ = int64_t(std::min<uint64_t>(options.cache_bytes / c->slot_bytes_, uint64_t(c->total_experts_)));
  if (c->n_slots_ == 0) return c;  // no room: every miss is computed on the CPU
  const uint64_t bytes = uint64_t(c->n_slots_) * c->slot_bytes_;
  c->slots_ = b.alloc(bytes);
  if (c->slots_ == nullptr)
    return Status(StatusCode::kOutOfMemory,
                  "device expert cache: " + std::to_string(bytes) + " bytes for " + std::to_string(c->n_slots_) +
                      " slots do not fit on the device (" + std::to_string(b.device_bytes_in_use()) + " bytes in use" +
                      (b.device_capacity() > 0 ? ", capacity " + std::to_string(b.device_capacity()) : std::string()) +
                      "); lower vram_budget");
  c->slots_info_.resize(size_t(c->n_slots_));
  c->pins_.assign(size_t(c->n_slots_), 0);
  c->policy_ = make_eviction_policy(options.policy, int32_t(c->n_slots_));
  if (c->n_slots_ == c->total_experts_) MOTE_RETURN_IF_ERROR(c->make_resident(host));
  return c;
}

DeviceExpertCache::~DeviceExpertCache() {
  if (slots_ != nullptr) b_.free(slots_);
}

// Uploads every routed expert, one slot each, through the store (host RAM, or disk under an
// expert budget); afterwards the mapping is fixed and lookup takes no lock.
Status DeviceExpertCache::make_resident(const ModelWeights& /*host*/) {
  const int64_t E = hp_.n_routed_experts;
  int32_t next = 0;
  for (int64_t l = 0; l < n_layers_; ++l) {
    if (layers_[size_t(l)].tier == LayerTier::kNone) continue;
    for (int32_t id = 0; id < int32_t(E); ++id) {
      ExpertWeights hv;
      MOTE_RETURN_IF_ERROR(store_.acquire(l, &id, 1, &hv));
      Slot& s = slots_info_[size_t(next)];
      b_.stage_experts(&hv, 1, slot_address(next), &s.view);
      store_.release(l, &id, 1);
      s.key = l * E + id;
      slot_of_[size_t(s.key)] = next++;
    }
    layers_[size_t(l)].tier = LayerTier::kResident;
  }
  resident_ = true;
  return Status::ok();
}

LayerTier DeviceExpertCache::layer_tier(int64_t layer) const {
  if (layer < 0 || layer >= n_layers_) return LayerTier::kNone;
  std::lock_guard<std::mutex> lock(mu_);
  return layers_[size_t(layer)].tier;
}

double DeviceExpertCache::upload_seconds_per_byte() const {
  std::lock_guard<std::mutex> lock(mu_);
  return upload_spb_;
}

double DeviceExpertCache::cpu_seconds_per_token() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cpu_spt_;
}

TierStats DeviceExpertCache::stats() const {
  const auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  TierStats s;
  s.device_hits = r(hits_), s.uploads_host = r(up_host_), s.uploads_disk = r(up_disk_);
  s.cpu_host = r(cpu_host_), s.cpu_disk = r(cpu_disk_), s.no_slot = r(no_slot_), s.probes = r(probes_);
  s.evictions = r(evictions_), s.upload_bytes = r(up_bytes_), s.upload_ns = r(up_ns_);
  s.cpu_tokens = r(cpu_tokens_), s.cpu_ns = r(cpu_ns_);
  return s;
}

void DeviceExpertCache::update_choice(Layer& layer) {
  if (layer.tier == LayerTier::kNone || layer.tier == LayerTier::kResident || options_.mode != TierMode::kAuto) return;
  layer.tier = choose_tier(upload_spb_, cpu_spt_, layer.tokens_per_miss, layer.expert_bytes);
}

ExpertTier DeviceExpertCache::choose_miss(Layer& layer, int64_t tokens) {
  if (n_slots_ == 0 || options_.mode == TierMode::kCpu) return ExpertTier::kCpu;
  if (options_.mode == TierMode::kUpload) return ExpertTier::kUpload;
  layer.tokens_per_miss = blend(layer.misses == 0 ? 0 : layer.tokens_per_miss, double(tokens));
  ++layer.misses;
  update_choice(layer);
  if (cpu_spt_ <= 0) return ExpertTier::kCpu;  // measure the CPU once before trusting the rule
  const bool upload = layer.tier == LayerTier::kUpload;
  if (layer.misses % kProbePeriod == 0) {  // the way not chosen, to keep its speed measured
    probes_.fetch_add(1, std::memory_order_relaxed);
    return upload ? ExpertTier::kCpu : ExpertTier::kUpload;
  }
  return upload ? ExpertTier::kUpload : ExpertTier::kCpu;
}

void DeviceExpertCache::lookup(int64_t layer, const int32_t* ids, const int32_t* tokens, int64_t n,
                               ExpertWeights* out, ExpertTier* tier, int32_t* slot) {
  const int64_t E = hp_.n_routed_experts;
  if (resident_) {  // fixed mapping: no lock, no pins needed (no slot is ever reused)
    for (int64_t i = 0; i < n; ++i) {
      out[i] = slots_info_[size_t(slot_of_[size_t(layer * E + ids[i])])].view;
      tier[i] = ExpertTier::kDevice;
      slot[i] = -1;
    }
    hits_.fetch_add(uint64_t(n), std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  Layer& L = layers_[size_t(layer)];
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = n_slots_ > 0 ? slot_of_[size_t(layer * E + ids[i])] : -1;
    if (s >= 0) {
      ++pins_[size_t(s)];
      policy_->on_access(s);
      out[i] = slots_info_[size_t(s)].view;
      tier[i] = ExpertTier::kDevice;
      slot[i] = s;
      hits_.fetch_add(1, std::memory_order_relaxed);
    } else {
      tier[i] = choose_miss(L, tokens[i]);
      slot[i] = -1;
    }
  }
}

bool DeviceExpertCache::upload(int64_t layer, int32_t id, const ExpertWeights& host, uint64_t bytes, bool from_disk,
                               ExpertWeights* out, int32_t* slot) {
  const int64_t key = layer * hp_.n_routed_experts + id;
  int32_t s = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = n_slots_ > 0 ? policy_->pick_victim(pins_.data()) : -1;
    if (s < 0) return false;
    Slot& victim = slots_info_[size_t(s)];
    if (victim.key >= 0) {
      slot_of_[size_t(victim.key)] = -1;
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
    victim.key = -1;  // empty while the copy runs; pinned so that no one else takes it
    ++pins_[size_t(s)];
  }
  const uint64_t t0 = now_ns();
  ExpertWeights view;
  b_.stage_experts(&host, 1, slot_address(s), &view);
  const uint64_t ns = std::max<uint64_t>(now_ns() - t0, 1);
  std::lock_guard<std::mutex> lock(mu_);
  Slot& mine = slots_info_[size_t(s)];
  mine.view = view;
  if (slot_of_[size_t(key)] < 0) {  // else another forward uploaded it meanwhile: ours stays unlisted
    mine.key = key;
    slot_of_[size_t(key)] = s;
    policy_->on_insert(s);
  }
  upload_spb_ = blend(upload_spb_, double(ns) * 1e-9 / double(std::max<uint64_t>(bytes, 1)));
  update_choice(layers_[size_t(layer)]);
  (from_disk ? up_disk_ : up_host_).fetch_add(1, std::memory_order_relaxed);
  up_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  up_ns_.fetch_add(ns, std::memory_order_relaxed);
  *out = view;
  *slot = s;
  return true;
}

void DeviceExpertCache::unpin(const int32_t* slot, int64_t n) {
  if (resident_ || n_slots_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t i = 0; i < n; ++i)
    if (slot[i] >= 0) --pins_[size_t(slot[i])];
}

void DeviceExpertCache::record_cpu(int64_t layer, int64_t tokens, uint64_t ns, bool from_disk, bool no_slot) {
  (from_disk ? cpu_disk_ : cpu_host_).fetch_add(1, std::memory_order_relaxed);
  if (no_slot) no_slot_.fetch_add(1, std::memory_order_relaxed);
  cpu_tokens_.fetch_add(uint64_t(tokens), std::memory_order_relaxed);
  cpu_ns_.fetch_add(ns, std::memory_order_relaxed);
  if (resident_) return;
  std::lock_guard<std::mutex> lock(mu_);
  cpu_spt_ = blend(cpu_spt_, double(std::max<uint64_t>(ns, 1)) * 1e-9 / double(std::max<int64_t>(tokens, 1)));
  update_choice(layers_[size_t(layer)]);
}

}  // namespace mote
