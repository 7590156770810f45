// Shared helpers of the backend tests: the backend configurations under test, device buffers
// filled and read back through the backend's own transfer points, and random weights.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/staging_backend.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote::test {

// One backend setting: kind, kernel table name ("" = the best this CPU runs) and thread count.
struct BackendConfig {
  const char* label;
  backend::BackendKind kind;
  const char* kernels;
  int threads;
};

// CPU and staging backends, each with the reference table on 1 thread and the best table on 2.
inline std::vector<BackendConfig> backend_configs() {
  return {{"cpu_reference_1", backend::BackendKind::kCpu, "reference", 1},
          {"cpu_best_2", backend::BackendKind::kCpu, "", 2},
          {"staging_reference_1", backend::BackendKind::kStaging, "reference", 1},
          {"staging_best_2", backend::BackendKind::kStaging, "", 2}};
}

inline std::unique_ptr<backend::Backend> make_backend(const BackendConfig& c) {
  backend::BackendOptions o;
  o.kind = c.kind;
  o.kernels = c.kernels;
  o.n_threads = c.threads;
  auto b = backend::create_backend(o);
  EXPECT_TRUE(b.is_ok()) << b.status().to_string();
  return b.is_ok() ? std::move(b).value() : nullptr;
}

// The kernel table a backend runs (its name looked up), for the expected values.
inline const kernels::KernelTable& table_of(const backend::Backend& b) {
  const kernels::KernelTable* t = kernels::find_kernels(b.kernels_name());
  EXPECT_NE(t, nullptr) << b.kernels_name();
  return t != nullptr ? *t : kernels::reference_kernels();
}

// Device buffers of one backend, freed at scope exit. Everything goes in and out through
// upload/download, so on the staging backend a missed transfer shows as a fault.
class DeviceBuffers {
 public:
  explicit DeviceBuffers(backend::Backend& b) : b_(b) {}
  ~DeviceBuffers() {
    for (void* p : owned_) b_.free(p);
  }
  template <typename T>
  T* put(const std::vector<T>& host) {
    void* p = raw(host.size() * sizeof(T));
    if (!host.empty()) b_.upload(p, host.data(), host.size() * sizeof(T));
    return static_cast<T*>(p);
  }
  template <typename T>
  T* zeros(size_t n) {
    void* p = raw(n * sizeof(T));
    b_.zero(p, n * sizeof(T));
    return static_cast<T*>(p);
  }
  template <typename T>
  std::vector<T> get(const T* device, size_t n) {
    std::vector<T> host(n);
    if (n > 0) b_.download(host.data(), device, n * sizeof(T));
    return host;
  }
  void* raw(uint64_t bytes) {
    void* p = b_.alloc(bytes == 0 ? 1 : bytes);
    EXPECT_NE(p, nullptr);
    owned_.push_back(p);
    return p;
  }

 private:
  backend::Backend& b_;
  std::vector<void*> owned_;
};

// n floats uniform in (-scale, scale).
inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Weights [rows, cols] of `type` quantised from uniform(-1, 1) values; row groups of 16 when
// `grouped` (Q8_0/Q4_0, rows % 16 == 0). view points into bytes.
struct HostWeight {
  std::vector<uint8_t> bytes;
  WeightView view;
};
inline HostWeight random_weight(WeightType type, int64_t rows, int64_t cols, bool grouped, uint32_t seed) {
  const std::vector<float> values = random_floats(size_t(rows * cols), seed);
  const uint64_t stride = weight_row_bytes(type, cols);
  std::vector<uint8_t> row_major(size_t(rows) * stride);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, values.data() + r * cols, cols, row_major.data() + r * stride);
  HostWeight w;
  if (grouped) {
    w.bytes.resize(row_major.size());
    interleave_matrix(type, row_major.data(), rows, cols, w.bytes.data());
  } else {
    w.bytes = std::move(row_major);
  }
  w.view = {type, rows, cols, stride, w.bytes.data(), grouped ? kRowGroup : 1};
  return w;
}

// Count of positions where the floats differ in bits (so -0 vs 0 and NaN payloads count).
inline int64_t bit_mismatches(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return n;
}

}  // namespace mote::test
