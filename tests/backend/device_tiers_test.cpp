// Placement and tiering on the staging backend (the GPU test double: separate, protected device
// memory, here with a bounded capacity): a VRAM budget whose device expert cache holds 25% of the
// routed experts, misses served by uploads only, by the CPU only, or by the measured per-layer
// choice (experts/device_expert_cache.h, blocks/ffn_tiers.h). The logits must equal the CPU
// backend's bit for bit in every mode, the tier counters must add up to the routed accesses the
// CPU backend's expert store counted, and the device memory must stay within the capacity.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "backend/staging_backend.h"
#include "common/session_logits.h"
#include "common/test_util.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote::test {
namespace {

const std::vector<int32_t> kIds = {1, 17, 5, 200, 42, 42, 7, 99, 250, 3, 11, 128, 64, 2, 19, 23, 31, 8, 77};

uint64_t accesses(const TierStats& t) { return t.device_hits + t.uploads_host + t.uploads_disk + t.cpu_host + t.cpu_disk; }

class DeviceTiers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = fresh_temp_dir("backend_device_tiers"); }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string convert(const std::string& name, const char* weights = "q8_0") {
    const std::string out = (dir_ / (name + "_" + weights + ".mote")).string();
    if (!fs::exists(out)) {
      auto r = run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / name).string(), "-o", out, "--weights",
                            weights, "--quiet"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return out;
  }

  static ModelOptions options(backend::BackendKind kind) {
    ModelOptions o;
    o.backend.kind = kind;
    o.backend.kernels = "";
    o.backend.n_threads = 2;
    return o;
  }

  static Result<std::unique_ptr<Model>> open(const std::string& path, const ModelOptions& o) {
    return Model::open(path, o);
  }

  // The session prefill_then_decode_logits creates (max_context 64, batch 16, f32 KV): its device
  // bytes plus a few pages of page rounding.
  static uint64_t session_device_bytes(const Model& m) {
    SessionOptions so;
    so.max_context = 64;
    so.max_batch = 16;
    so.kv_type = KvType::kF32;
    auto bytes = session_bytes(m, so);
    EXPECT_TRUE(bytes) << bytes.status().to_string();
    return bytes ? bytes->kv + bytes->scratch + 4 * 4096 : 0;
  }

  // Staging options with a VRAM budget (and the device capacity equal to it) whose expert cache
  // holds `share` of the routed experts (at least one slot).
  static ModelOptions budget_options(const std::string& path, double share, TierMode mode) {
    auto probe = open(path, options(backend::BackendKind::kStaging));
    EXPECT_TRUE(probe) << probe.status().to_string();
    if (!probe) return {};
    const Model& m = **probe;
    const DeviceExpertCache& c = *m.device_experts();
    const int64_t slots = std::max<int64_t>(1, int64_t(double(c.total_experts()) * share));
    ModelOptions o = options(backend::BackendKind::kStaging);
    o.vram_session_bytes = session_device_bytes(m);
    o.vram_budget_bytes = m.placement().dense_bytes + o.vram_session_bytes + uint64_t(slots) * c.slot_bytes();
    o.backend.device_capacity_bytes = o.vram_budget_bytes;
    o.expert_tier_mode = mode;
    return o;
  }

  static inline fs::path dir_;
};

TEST(DeviceTierRule, ChoosesTheCheaperWayAndMeasuresTheUnknown) {
  // 1 MB expert at 1 GB/s = 1 ms; 2 tokens at 0.1 ms = 0.2 ms: the CPU.
  EXPECT_EQ(choose_tier(1e-9, 1e-4, 2, 1000000), LayerTier::kCpu);
  // 20 tokens at 0.1 ms = 2 ms > 1 ms: upload.
  EXPECT_EQ(choose_tier(1e-9, 1e-4, 20, 1000000), LayerTier::kUpload);
  EXPECT_EQ(choose_tier(0, 1e-4, 1, 1000000), LayerTier::kUpload);  // upload speed unknown: measure it
  EXPECT_EQ(choose_tier(1e-9, 0, 1, 1000000), LayerTier::kCpu);     // CPU speed unknown: measure it
}

struct TierCase {
  const char* fixture;
  TierMode mode;
};

class DeviceTiersLogits : public DeviceTiers, public ::testing::WithParamInterface<TierCase> {};

// A 25% cache: logits equal the CPU backend's bit for bit, the counters add up to the routed
// accesses, the forced modes use only their way, and the device stays within its capacity.
TEST_P(DeviceTiersLogits, QuarterCacheEqualsTheCpuBackendBitForBit) {
  const TierCase tc = GetParam();
  const std::string path = convert(tc.fixture);
  auto cpu = open(path, options(backend::BackendKind::kCpu));
  ASSERT_TRUE(cpu) << cpu.status().to_string();
  const std::vector<float> want = prefill_then_decode_logits(**cpu, kIds);
  const uint64_t routed = (*cpu)->expert_store().stats().accesses;
  ASSERT_GT(routed, 0u);

  const ModelOptions o = budget_options(path, 0.25, tc.mode);
  auto staging = open(path, o);
  ASSERT_TRUE(staging) << staging.status().to_string();
  const DeviceExpertCache& cache = *(*staging)->device_experts();
  EXPECT_FALSE(cache.all_resident());
  EXPECT_EQ(cache.slot_count(), std::max<int64_t>(1, cache.total_experts() / 4));
  EXPECT_EQ(cache.mode(), tc.mode);
  const std::vector<float> got = prefill_then_decode_logits(**staging, kIds);
  EXPECT_TRUE(same_bits(got, want)) << tc.fixture << " " << tier_mode_name(tc.mode);

  const TierStats t = cache.stats();
  EXPECT_EQ(accesses(t), routed);
  EXPECT_EQ(t.uploads_disk + t.cpu_disk, 0u);  // no expert budget: every miss was in host RAM
  EXPECT_EQ(t.no_slot, 0u);                    // one session: groups never pin every slot
  if (tc.mode == TierMode::kUpload) {
    EXPECT_EQ(t.cpu_host, 0u);
    EXPECT_GT(t.uploads_host, 0u);
    EXPECT_GT(t.device_hits, 0u);
  } else if (tc.mode == TierMode::kCpu) {
    EXPECT_EQ(t.uploads_host, 0u);
    EXPECT_EQ(t.device_hits, 0u);
    EXPECT_EQ(t.cpu_host, routed);
  } else {
    EXPECT_GT(t.cpu_host, 0u);  // the CPU speed is measured before the rule is trusted
    EXPECT_GT(cache.cpu_seconds_per_token(), 0.0);
  }
  for (int64_t l = 0; l < cache.n_layers(); ++l) {
    const LayerTier tier = cache.layer_tier(l);
    EXPECT_NE(tier, LayerTier::kResident);
    if (tc.mode == TierMode::kCpu && tier != LayerTier::kNone) EXPECT_EQ(tier, LayerTier::kCpu);
    if (tc.mode == TierMode::kUpload && tier != LayerTier::kNone) EXPECT_EQ(tier, LayerTier::kUpload);
  }
  const auto& sb = dynamic_cast<const backend::StagingBackend&>((*staging)->backend());
  EXPECT_LE(sb.device_peak_bytes(), o.backend.device_capacity_bytes);
  std::printf("[ tiers    ] %s %s: %llu accesses: device %llu, upload %llu, cpu %llu (probes %llu)\n", tc.fixture,
              tier_mode_name(tc.mode), (unsigned long long)routed, (unsigned long long)t.device_hits,
              (unsigned long long)t.uploads_host, (unsigned long long)t.cpu_host, (unsigned long long)t.probes);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, DeviceTiersLogits,
    ::testing::Values(TierCase{"ds3_tiny", TierMode::kUpload}, TierCase{"ds3_tiny", TierMode::kCpu},
                      TierCase{"ds3_tiny", TierMode::kAuto}, TierCase{"olmoe_tiny", TierMode::kUpload},
                      TierCase{"olmoe_tiny", TierMode::kCpu}, TierCase{"olmoe_tiny", TierMode::kAuto},
                      TierCase{"gpt_oss_tiny", TierMode::kUpload}, TierCase{"gpt_oss_tiny", TierMode::kCpu},
                      TierCase{"gpt_oss_tiny", TierMode::kAuto}, TierCase{"qwen3_moe_tiny", TierMode::kAuto}),
    [](const ::testing::TestParamInfo<TierCase>& info) {
      return std::string(info.param.fixture) + "_" + tier_mode_name(info.param.mode);
    });

// F32 weights: the tiered logits equal the CPU backend's (bit for bit; the bar is 1e-6).
TEST_F(DeviceTiers, F32WeightsEqualTheCpuBackend) {
  const std::string path = convert("ds3_tiny", "f32");
  auto cpu = open(path, options(backend::BackendKind::kCpu));
  ASSERT_TRUE(cpu) << cpu.status().to_string();
  const std::vector<float> want = prefill_then_decode_logits(**cpu, kIds);
  for (TierMode mode : {TierMode::kUpload, TierMode::kCpu, TierMode::kAuto}) {
    auto staging = open(path, budget_options(path, 0.25, mode));
    ASSERT_TRUE(staging) << staging.status().to_string();
    const std::vector<float> got = prefill_then_decode_logits(**staging, kIds);
    ASSERT_EQ(got.size(), want.size());
    float worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    EXPECT_LE(worst, 1e-6f) << tier_mode_name(mode);
  }
}

// An expert budget on the host too: the tiers below the device. Uploads of experts the store
// had to read count as from disk; the sum still equals the routed accesses.
TEST_F(DeviceTiers, HostExpertBudgetCountsUploadsFromDisk) {
  const std::string path = convert("ds3_tiny");
  auto cpu = open(path, options(backend::BackendKind::kCpu));
  ASSERT_TRUE(cpu);
  const std::vector<float> want = prefill_then_decode_logits(**cpu, kIds);
  const uint64_t routed = (*cpu)->expert_store().stats().accesses;
  ModelOptions o = budget_options(path, 0.25, TierMode::kUpload);
  o.expert_budget_bytes = uint64_t(1) << 20;  // a few host slots (the staging model test's budget)
  o.expert_prefetch = false;
  auto staging = open(path, o);
  ASSERT_TRUE(staging) << staging.status().to_string();
  ASSERT_FALSE((*staging)->expert_store().resident());
  EXPECT_TRUE(same_bits(prefill_then_decode_logits(**staging, kIds), want));
  const TierStats t = (*staging)->device_experts()->stats();
  EXPECT_EQ(accesses(t), routed);
  EXPECT_GT(t.uploads_disk, 0u);
}

// No budget: every expert is uploaded at open (resident mode, no lock in the forward) and every
// access is a device hit.
TEST_F(DeviceTiers, NoBudgetMakesEveryExpertResident) {
  const std::string path = convert("olmoe_tiny");
  auto staging = open(path, options(backend::BackendKind::kStaging));
  ASSERT_TRUE(staging) << staging.status().to_string();
  const DeviceExpertCache& c = *(*staging)->device_experts();
  EXPECT_TRUE(c.all_resident());
  EXPECT_EQ(c.slot_count(), c.total_experts());
  prefill_then_decode_logits(**staging, kIds);
  const TierStats t = c.stats();
  EXPECT_GT(t.device_hits, 0u);
  EXPECT_EQ(t.uploads_host + t.cpu_host, 0u);
  for (int64_t l = 0; l < c.n_layers(); ++l)
    EXPECT_TRUE(c.layer_tier(l) == LayerTier::kResident || c.layer_tier(l) == LayerTier::kNone);
}

// The policy keeps hot experts: with 4 slots, experts 0 and 1 used every step among a stream of
// cold ones stay on the device (LFU and LRU alike), the cold ones are evicted.
TEST_F(DeviceTiers, PolicyKeepsHotExperts) {
  const std::string path = convert("olmoe_tiny");
  for (EvictionKind policy : {EvictionKind::kLfu, EvictionKind::kLru}) {
    ModelOptions o = budget_options(path, 0.0, TierMode::kUpload);
    auto probe = open(path, options(backend::BackendKind::kStaging));
    ASSERT_TRUE(probe);
    o.vram_budget_bytes += 3 * (*probe)->device_experts()->slot_bytes();  // 4 slots
    o.backend.device_capacity_bytes = o.vram_budget_bytes;
    o.expert_policy = policy;
    auto m = open(path, o);
    ASSERT_TRUE(m) << m.status().to_string();
    DeviceExpertCache& c = *(*m)->device_experts();
    ExpertStore& store = (*m)->expert_store();
    ASSERT_EQ(c.slot_count(), 4);
    const int64_t layer = 0;
    auto touch = [&](int32_t id) {
      const int32_t tokens = 1;
      ExpertWeights view;
      ExpertTier tier;
      int32_t slot = -1;
      c.lookup(layer, &id, &tokens, 1, &view, &tier, &slot);
      if (tier == ExpertTier::kDevice) return c.unpin(&slot, 1), true;
      ExpertWeights host;
      EXPECT_TRUE(store.acquire(layer, &id, 1, &host));
      EXPECT_TRUE(c.upload(layer, id, host, store.segment_bytes(layer, id), false, &view, &slot));
      store.release(layer, &id, 1);
      c.unpin(&slot, 1);
      return false;
    };
    int hot_hits = 0;
    for (int32_t step = 0; step < 40; ++step) {
      hot_hits += touch(0);
      hot_hits += touch(1);
      touch(int32_t(2 + step % 14));  // cold: each seen once every 14 steps
    }
    EXPECT_GE(hot_hits, 78) << eviction_kind_name(policy);  // all but the first use of each
    std::printf("[ tiers    ] policy %s: hot hits %d of 80, evictions %llu\n", eviction_kind_name(policy), hot_hits,
                (unsigned long long)c.stats().evictions);
  }
}

// Sessions of one model on several threads share the device cache (pins, concurrent uploads of
// the same expert, every slot pinned -> CPU): each gets the CPU backend's logits.
TEST_F(DeviceTiers, ConcurrentSessionsShareTheCache) {
  const std::string path = convert("olmoe_tiny");
  auto cpu = open(path, options(backend::BackendKind::kCpu));
  ASSERT_TRUE(cpu);
  const std::vector<float> want = prefill_then_decode_logits(**cpu, kIds);
  ModelOptions o = budget_options(path, 0.1, TierMode::kAuto);
  o.vram_budget_bytes += 3 * o.vram_session_bytes;  // room for four sessions
  o.backend.device_capacity_bytes = o.vram_budget_bytes;
  o.vram_session_bytes *= 4;
  auto m = open(path, o);
  ASSERT_TRUE(m) << m.status().to_string();
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = prefill_then_decode_logits(**m, kIds); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_TRUE(same_bits(g, want));
  EXPECT_EQ(accesses((*m)->device_experts()->stats()), 4 * (*cpu)->expert_store().stats().accesses);
}

// Budget and capacity errors are one line and name what is wrong.
TEST_F(DeviceTiers, BudgetErrorsNameTheBudget) {
  const std::string path = convert("ds3_tiny");
  ModelOptions o = options(backend::BackendKind::kStaging);
  o.vram_budget_bytes = kMaxVramBudgetBytes + 1;
  auto absurd = open(path, o);
  ASSERT_FALSE(absurd);
  EXPECT_EQ(absurd.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(absurd.status().message().find("vram_budget_bytes"), std::string::npos) << absurd.status().message();

  o.vram_budget_bytes = 64 << 20;
  o.backend.device_capacity_bytes = 32 << 20;
  auto over = open(path, o);
  ASSERT_FALSE(over);
  EXPECT_NE(over.status().message().find("exceeds the device's capacity"), std::string::npos)
      << over.status().message();

  o.vram_budget_bytes = 4096;
  o.backend.device_capacity_bytes = 0;
  auto small = open(path, o);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(small.status().message().find("vram_budget"), std::string::npos) << small.status().message();
  EXPECT_NE(small.status().message().find("dense weights"), std::string::npos);

  o.vram_budget_bytes = 0;
  o.backend.device_capacity_bytes = 8192;  // not even the dense weights
  auto tiny = open(path, o);
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(tiny.status().message().find("capacity"), std::string::npos) << tiny.status().message();
  for (const Status& st : {absurd.status(), over.status(), small.status(), tiny.status()})
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

// A session that does not fit what the budget left: Session::create fails naming the budget.
TEST_F(DeviceTiers, SessionOverTheCapacityNamesTheBudget) {
  const std::string path = convert("ds3_tiny");
  ModelOptions o = budget_options(path, 0.25, TierMode::kAuto);
  o.vram_budget_bytes -= o.vram_session_bytes;  // keep nothing for sessions: the cache takes it all
  o.backend.device_capacity_bytes = o.vram_budget_bytes;
  o.vram_session_bytes = 1;
  auto m = open(path, o);
  ASSERT_TRUE(m) << m.status().to_string();
  SessionOptions so;
  so.max_context = 64;
  auto s = Session::create(**m, so);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(s.status().message().find("vram_budget"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("capacity"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace mote::test
