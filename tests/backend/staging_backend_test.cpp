// The staging backend's own promises (backend/staging_backend.h): device memory faults on any
// host access outside an op, weights and experts are copied into it, regions are given back;
// create_backend's errors; and per-backend settings: two backends with different kernel tables
// and thread counts running at once from two threads each give their own single-run results.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "backend/backend_test_util.h"
#include "model/weights.h"

namespace mote::test {
namespace {

using backend::Backend;
using backend::BackendKind;
using backend::BackendOptions;
using backend::StagingBackend;

std::unique_ptr<StagingBackend> make_staging(const char* kernels, int threads) {
  BackendOptions o;
  o.kernels = kernels;
  o.n_threads = threads;
  auto cpu = backend::create_backend(o);
  EXPECT_TRUE(cpu.is_ok()) << cpu.status().to_string();
  return std::make_unique<StagingBackend>(std::move(cpu).value());
}

// Host code that dereferences a device pointer outside an op (bypassing the seam) faults: an
// alloc'd buffer, after an op ran on it, and a placed weight.
TEST(StagingBackendDeathTest, HostAccessToDeviceMemoryFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto b = make_staging("reference", 1);
  float* p = static_cast<float*>(b->alloc(4096));
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH({ *reinterpret_cast<volatile float*>(p) = 1.0f; }, "");
  const std::vector<float> x = random_floats(33, 1);
  b->upload(p, x.data(), x.size() * sizeof(float));
  b->add(p, p, 33);  // an op ran on it, and it is protected again afterwards
  EXPECT_DEATH({ std::printf("%f\n", double(*reinterpret_cast<volatile const float*>(p))); }, "");
  const HostWeight w = random_weight(WeightType::Q8_0, 32, 100, true, 3);
  auto placed = b->place_weight(w.view);
  ASSERT_TRUE(placed.is_ok());
  EXPECT_NE(placed->data, w.view.data);
  EXPECT_DEATH({ std::printf("%d\n", int(*reinterpret_cast<volatile const uint8_t*>(placed->data))); }, "");
  // The same accesses through the seam work.
  std::vector<float> back(33);
  b->download(back.data(), p, 33 * sizeof(float));
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i], x[i] + x[i]);
  b->free(p);
}

TEST(StagingBackend, PlacedWeightsAreCopiesAndRegionsAreFreed) {
  auto b = make_staging("", 2);
  EXPECT_FALSE(b->unified_memory());
  EXPECT_STREQ(b->name(), "staging");
  const int64_t before = b->region_count();
  void* p = b->alloc(100);
  void* q = b->alloc(1 << 20);
  EXPECT_EQ(b->region_count(), before + 2);
  b->free(p);
  b->free(q);
  EXPECT_EQ(b->region_count(), before);
  // A row slice (last row shorter than the stride would be) and a grouped view both round-trip:
  // the product through the placed copy equals the one on the host view.
  const HostWeight full = random_weight(WeightType::Q4_0, 48, 257, false, 9);
  const WeightView slice = kernels::row_slice(full.view, 5, 33);
  auto placed = b->place_weight(slice);
  ASSERT_TRUE(placed.is_ok());
  DeviceBuffers d(*b);
  const std::vector<float> x = random_floats(257, 4);
  std::vector<float> want(33);
  table_of(*b).matmul[int(WeightType::Q4_0)](slice, x.data(), 257, 1, want.data(), 33);
  float* y = d.zeros<float>(33);
  b->matmul(*placed, d.put(x), 257, 1, y, 33);
  EXPECT_EQ(bit_mismatches(d.get(y, 33), want), 0);
  auto floats = b->place_floats(x.data(), 257);
  ASSERT_TRUE(floats.is_ok());
  EXPECT_EQ(bit_mismatches(d.get(*floats, 257), x), 0);
}

// stage_experts copies pinned host experts (row-grouped Q4_0 gate/up, Q8_0 down, gpt-oss style
// biases) into the caller's slot area, expert_slot_bytes(hp) per slot, and the FFN over the staged
// views equals the one over the host views.
TEST(StagingBackend, StageExpertsIntoSlots) {
  auto b = make_staging("", 1);
  HParams hp;
  hp.hidden_size = 100;
  hp.moe_intermediate_size = 48;
  const uint64_t slot = b->expert_slot_bytes(hp);
  EXPECT_EQ(slot % 64, 0u);
  std::vector<HostWeight> keep;
  std::vector<std::vector<float>> biases;
  ExpertWeights host[3];
  for (int e = 0; e < 3; ++e) {
    keep.push_back(random_weight(WeightType::Q4_0, 48, 100, true, 10 + uint32_t(e)));
    keep.push_back(random_weight(WeightType::Q4_0, 48, 100, true, 20 + uint32_t(e)));
    keep.push_back(random_weight(WeightType::Q8_0, 100, 48, false, 30 + uint32_t(e)));
    biases.push_back(random_floats(48, 40 + uint32_t(e)));
    biases.push_back(random_floats(100, 50 + uint32_t(e)));
  }
  for (int e = 0; e < 3; ++e) {
    host[e].gate = keep[size_t(3 * e)].view;
    host[e].up = keep[size_t(3 * e + 1)].view;
    host[e].down = keep[size_t(3 * e + 2)].view;
    host[e].gate_bias = biases[size_t(2 * e)].data();
    host[e].down_bias = e == 1 ? nullptr : biases[size_t(2 * e + 1)].data();
  }
  void* slots = b->alloc(3 * slot);
  ExpertWeights dev[3];
  b->stage_experts(host, 3, slots, dev);
  DeviceBuffers d(*b);
  const kernels::KernelTable& table = table_of(*b);
  const std::vector<float> x = random_floats(3 * 100, 60);
  for (int e = 0; e < 3; ++e) {
    const uint8_t* lo = static_cast<const uint8_t*>(slots) + uint64_t(e) * slot;
    for (const uint8_t* p : {dev[e].gate.data, dev[e].up.data, dev[e].down.data}) {
      EXPECT_GE(p, lo);
      EXPECT_LT(p, lo + slot);
    }
    EXPECT_EQ(dev[e].up_bias, nullptr);
    EXPECT_EQ(dev[e].down_bias == nullptr, e == 1);
    EXPECT_EQ(bit_mismatches(d.get(dev[e].gate_bias, 48), biases[size_t(2 * e)]), 0);
    std::vector<float> want(3 * 48), scratch(3 * 48);
    table.swiglu(host[e].gate, host[e].up, x.data(), 100, 3, nullptr, want.data(), 48, scratch.data());
    float* out = d.zeros<float>(3 * 48);
    b->swiglu(dev[e].gate, dev[e].up, d.put(x), 100, 3, nullptr, out, 48, d.zeros<float>(3 * 48));
    EXPECT_EQ(bit_mismatches(d.get(out, 3 * 48), want), 0) << "expert " << e;
    std::vector<float> want_down(100);
    table.matmul[int(WeightType::Q8_0)](host[e].down, x.data(), 48, 1, want_down.data(), 100);
    float* down = d.zeros<float>(100);
    b->matmul(dev[e].down, d.put(std::vector<float>(x.begin(), x.begin() + 48)), 48, 1, down, 100);
    EXPECT_EQ(bit_mismatches(d.get(down, 100), want_down), 0) << "expert " << e;
  }
  b->free(slots);
}

TEST(CreateBackend, ErrorsNameTheBadSetting) {
  BackendOptions o;
  o.kernels = "no-such-table";
  auto b = backend::create_backend(o);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  const std::string m = b.status().message();
  EXPECT_NE(m.find("no-such-table"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  o.kind = BackendKind::kStaging;
  b = backend::create_backend(o);
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("no-such-table"), std::string::npos);
  o.kernels = "reference";
  b = backend::create_backend(o);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_STREQ((*b)->name(), "staging");
  EXPECT_STREQ((*b)->kernels_name(), "reference");
  o.kind = static_cast<BackendKind>(99);
  EXPECT_FALSE(backend::create_backend(o).is_ok());
}

// A chain of ops (norm, grouped-Q4_0 matmul, SwiGLU, attention over the product) whose result
// depends on the table; run once alone, then 20 times on each backend from two threads at once.
std::vector<float> run_chain(Backend& b, const WeightView& wq, const WeightView& wg, const WeightView& wu,
                             const float* norm) {
  DeviceBuffers d(b);
  const int64_t T = 3, H = 257, R = 64;
  const std::vector<float> x = random_floats(size_t(T * H), 5, 3.0f);
  float* xd = d.put(x);
  float* n = d.zeros<float>(size_t(T * H));
  b.rms_norm_rows(xd, H, T, norm, H, 1e-6f, n, H, nullptr);
  float* y = d.zeros<float>(size_t(T * R));
  b.matmul(wq, n, H, T, y, R);
  float* s = d.zeros<float>(size_t(T * 48));
  b.swiglu(wg, wu, n, H, T, nullptr, s, 48, d.zeros<float>(size_t(T * 48)));
  kernels::AttentionArgs a;
  a.n_tokens = T, a.start = 0, a.n_heads = 2, a.n_kv_heads = 1, a.dk = 32, a.dv = 32, a.scale = 0.2f;
  a.q = y, a.q_token_stride = R, a.q_head_stride = 32;
  a.k = y, a.k_row_stride = R, a.v = y + 32, a.v_row_stride = R;
  a.out = d.zeros<float>(size_t(T * 64)), a.out_token_stride = 64, a.out_head_stride = 32;
  b.attention(a);
  std::vector<float> out = d.get(a.out, size_t(T * 64));
  const std::vector<float> sw = d.get(s, size_t(T * 48));
  out.insert(out.end(), sw.begin(), sw.end());
  return out;
}

TEST(BackendSettings, TwoBackendsSideBySideKeepTheirOwnResults) {
  const std::vector<BackendConfig> configs = {{"cpu_reference_1", BackendKind::kCpu, "reference", 1},
                                              {"cpu_best_2", BackendKind::kCpu, "", 2},
                                              {"staging_reference_1", BackendKind::kStaging, "reference", 1},
                                              {"staging_best_2", BackendKind::kStaging, "", 2}};
  const HostWeight wq = random_weight(WeightType::Q4_0, 64, 257, true, 1);
  const HostWeight wg = random_weight(WeightType::Q8_0, 48, 257, true, 2);
  const HostWeight wu = random_weight(WeightType::Q8_0, 48, 257, true, 3);
  const std::vector<float> norm = random_floats(257, 4);
  for (size_t pair = 0; pair < 2; ++pair) {
    const BackendConfig& ca = configs[2 * pair];
    const BackendConfig& cb = configs[2 * pair + 1];
    SCOPED_TRACE(std::string(ca.label) + " | " + cb.label);
    std::unique_ptr<Backend> backends[2] = {make_backend(ca), make_backend(cb)};
    ASSERT_TRUE(backends[0] && backends[1]);
    std::vector<float> alone[2];
    WeightView placed[2][3];
    const float* placed_norm[2];
    for (int i = 0; i < 2; ++i) {
      placed[i][0] = *backends[i]->place_weight(wq.view);
      placed[i][1] = *backends[i]->place_weight(wg.view);
      placed[i][2] = *backends[i]->place_weight(wu.view);
      placed_norm[i] = *backends[i]->place_floats(norm.data(), 257);
      alone[i] = run_chain(*backends[i], placed[i][0], placed[i][1], placed[i][2], placed_norm[i]);
    }
    // Where a fast table exists the two settings give different numbers, so a backend that used
    // the other's table would be caught.
    if (std::string(backends[1]->kernels_name()) != "reference") {
      EXPECT_GT(bit_mismatches(alone[0], alone[1]), 0);
    }
    int64_t mismatches[2] = {0, 0};
    std::thread threads[2];
    for (int i = 0; i < 2; ++i)
      threads[i] = std::thread([&, i] {
        for (int round = 0; round < 20; ++round)
          mismatches[i] += bit_mismatches(run_chain(*backends[i], placed[i][0], placed[i][1], placed[i][2], placed_norm[i]),
                                          alone[i]);
      });
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(mismatches[0], 0);
    EXPECT_EQ(mismatches[1], 0);
  }
}

}  // namespace
}  // namespace mote::test
