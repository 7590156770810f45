// Benchmark of the CUDA backend (label: run by scripts/test-cuda.sh, which prints the lines):
// synthetic OLMoE-1B-7B and DeepSeek-V2-Lite widths (tools/synth configs, mote-synth writing the
// .mote directly, Q4 weights, MOTE_CUDA_BENCH_LAYERS layers, default 4), each reporting
//   - device bandwidth: Backend::copy of 1 GiB device to device, bytes read + written per second;
//   - the decode GEMV alone: a 16384 x 8192 Q8_0 row-grouped matmul of 1 token, its weight bytes
//     per second over that bandwidth (the kernel's roofline ratio);
//   - prefill tok/s (one 512-token pass) and decode tok/s (64 tokens after it), whole model;
//   - decode's roofline: active bytes per token (model/active_weights.h: dense + top_k experts per
//     MoE layer) / bandwidth, and decode tok/s over it.
// All on one warm device in one process; each timing is the median of 3 runs. Two placements
// per model: resident (no VRAM budget: the device expert cache holds every routed expert) and a
// VRAM budget whose expert cache holds 25% of the routed experts (the rest uploaded or computed
// on the CPU per layer, experts/device_expert_cache.h; the tier shares are printed). Skips
// without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/backend_test_util.h"
#include "common/test_util.h"
#include "experts/device_expert_cache.h"
#include "model/active_weights.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote::test {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median3(double a, double b, double c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

std::unique_ptr<backend::Backend> cuda_backend() {
  backend::BackendOptions o;
  o.kind = backend::BackendKind::kCuda;
  auto b = backend::create_backend(o);
  return b.is_ok() ? std::move(b).value() : nullptr;
}

// Device bandwidth in bytes/s (read + write) from 1 GiB device-to-device copies.
double device_bandwidth(backend::Backend& b) {
  const uint64_t bytes = uint64_t(1) << 30;
  void* src = b.alloc(bytes);
  void* dst = b.alloc(bytes);
  if (src == nullptr || dst == nullptr) return 0;
  b.zero(src, bytes);
  float probe;
  auto once = [&] {
    b.copy(dst, src, bytes);  // warm
    b.download(&probe, dst, 4);
    const auto t0 = Clock::now();
    for (int i = 0; i < 10; ++i) b.copy(dst, src, bytes);
    b.download(&probe, dst, 4);
    return 2.0 * double(bytes) * 10 / seconds_since(t0);
  };
  const double bw = median3(once(), once(), once());
  b.free(src);
  b.free(dst);
  return bw;
}

// Weight bytes per second of the decode GEMV on a 16384 x 8192 Q8_0 grouped matrix (142 MB).
double gemv_bandwidth(backend::Backend& b) {
  const HostWeight w = random_weight(WeightType::Q8_0, 16384, 8192, true, 1);  // Q8_0: quick to quantise
  const WeightView dw = b.place_weight(w.view).value();
  DeviceBuffers d(b);
  const float* x = d.put(random_floats(8192, 2));
  float* y = d.zeros<float>(16384);
  float probe;
  auto once = [&] {
    b.matmul(dw, x, 8192, 1, y, 16384);
    b.download(&probe, y, 4);
    const auto t0 = Clock::now();
    for (int i = 0; i < 50; ++i) b.matmul(dw, x, 8192, 1, y, 16384);
    b.download(&probe, y, 4);
    return double(w.bytes.size()) * 50 / seconds_since(t0);
  };
  return median3(once(), once(), once());
}

struct Speeds {
  double prefill = 0, decode = 0;
};

Speeds model_speeds(const Model& m) {
  const int64_t V = m.hparams().vocab_size;
  std::mt19937 gen(7);
  std::vector<int32_t> prompt(512);
  for (int32_t& id : prompt) id = int32_t(gen() % uint32_t(std::min<int64_t>(V, 30000)));
  std::vector<float> logits(static_cast<size_t>(V));
  std::vector<double> prefill, decode;
  for (int rep = 0; rep < 3; ++rep) {
    SessionOptions so;
    so.max_context = 1024;
    so.max_batch = 512;
    auto s = Session::create(m, so);
    EXPECT_TRUE(s) << s.status().to_string();
    if (!s) return {};
    auto t0 = Clock::now();
    EXPECT_TRUE((*s)->prefill(prompt, logits.data(), LogitsMode::kLast));
    prefill.push_back(512 / seconds_since(t0));
    t0 = Clock::now();
    for (int i = 0; i < 64; ++i) EXPECT_TRUE((*s)->decode(prompt[size_t(i)], logits.data()));
    decode.push_back(64 / seconds_since(t0));
  }
  return {median3(prefill[0], prefill[1], prefill[2]), median3(decode[0], decode[1], decode[2])};
}

TEST(CudaBench, SyntheticOlmoeAndDeepseekV2LiteWidths) {
#if !defined(MOTE_SYNTH_BIN)
  GTEST_SKIP() << "built without mote-synth (MOTE_BUILD_SAMPLES=OFF)";
#else
  auto b = cuda_backend();
  if (b == nullptr) GTEST_SKIP() << "no CUDA device";
  const double bw = device_bandwidth(*b);
  const double gemv = gemv_bandwidth(*b);
  std::printf("[cuda bench] device bandwidth (D2D copy) %.1f GB/s; decode GEMV q8_0 16384x8192 %.1f GB/s = %.2f of it\n",
              bw / 1e9, gemv / 1e9, gemv / bw);
  RecordProperty("device_bandwidth_gbs", std::to_string(bw / 1e9));
  RecordProperty("gemv_roofline_ratio", std::to_string(gemv / bw));
  const char* layers_env = std::getenv("MOTE_CUDA_BENCH_LAYERS");
  const std::string layers = layers_env != nullptr ? layers_env : "4";
  const fs::path dir = fresh_temp_dir("cuda_bench");
  for (const char* config : {"olmoe-1b-7b", "deepseek-v2-lite"}) {
    const fs::path cfg = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "tools" / "synth" / "configs" / (std::string(config) + ".json");
    const std::string path = (dir / (std::string(config) + ".mote")).string();
    auto r = run_command({MOTE_SYNTH_BIN, "--config", cfg.string(), "-o", path, "--weights", "q4", "--layers", layers});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ModelOptions o;
    o.backend.kind = backend::BackendKind::kCuda;
    auto m = Model::open(path, o);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    const HParams& hp = (*m)->hparams();
    const ActiveWeights a = active_weights(**m);
    int64_t moe_layers = 0;
    for (int64_t l = 0; l < hp.n_layers; ++l) moe_layers += hp.is_moe_layer(l) ? 1 : 0;
    const double active = a.dense_bytes + a.expert_bytes * double(hp.n_experts_per_tok * moe_layers);
    const double roofline = bw / active;
    // The quarter budget: dense weights + the resident run's session room + 25% of the slots.
    ASSERT_NE((*m)->device_experts(), nullptr);
    const DevicePlacement resident_plan = (*m)->placement();
    const DeviceExpertCache& all = *(*m)->device_experts();
    ModelOptions quarter = o;
    quarter.vram_session_bytes = resident_plan.session_bytes;
    quarter.vram_budget_bytes = resident_plan.dense_bytes + resident_plan.session_bytes +
                                uint64_t(std::max<int64_t>(1, all.total_experts() / 4)) * all.slot_bytes();
    for (const char* placement : {"resident", "vram 25%"}) {
      const bool q = placement[0] == 'v';
      if (q) {
        m = Model::open(path, quarter);
        ASSERT_TRUE(m.is_ok()) << m.status().to_string();
      }
      const Speeds s = model_speeds(**m);
      const TierStats t = (*m)->device_experts()->stats();
      const double n = double(std::max<uint64_t>(1, t.device_hits + t.uploads_host + t.uploads_disk + t.cpu_host +
                                                         t.cpu_disk));
      std::printf("[cuda bench] %s %s layers q4, %s: prefill %.1f tok/s, decode %.2f tok/s; active %.1f MB/token, "
                  "HBM roofline %.1f tok/s, decode/roofline %.3f; expert accesses: device %.3f, uploaded %.3f, "
                  "cpu %.3f\n",
                  config, layers.c_str(), placement, s.prefill, s.decode, active / 1e6, roofline, s.decode / roofline,
                  double(t.device_hits) / n, double(t.uploads_host + t.uploads_disk) / n,
                  double(t.cpu_host + t.cpu_disk) / n);
      RecordProperty(std::string(config) + (q ? "_quarter" : "_resident") + "_decode_roofline_ratio",
                     std::to_string(s.decode / roofline));
      EXPECT_GT(s.decode, 0.0);
    }
  }
  fs::remove_all(dir);
#endif
}

}  // namespace
}  // namespace mote::test
