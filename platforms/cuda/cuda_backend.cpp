// CudaBackend (cuda/cuda_backend.h): host side. Compiled by the host C++ compiler against the
// CUDA runtime API; the kernels are in platforms/cuda/kernels_*.cu (cuda/launch.h).
#include "cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/staging_backend.h"
#include "cuda/launch.h"
#include "kernels/quant.h"

namespace mote::backend {
namespace {

// Backend-owned scratch: attention's split partial results (and overlapping copies).
constexpr uint64_t kWorkBytes = uint64_t(64) << 20;

class CudaBackend final : public Backend {
 public:
  // capacity: the most device memory alloc may hand out, in bytes (the card's free memory at
  // creation, lowered to BackendOptions::device_capacity_bytes when that is set).
  CudaBackend(cudaStream_t stream, int sm_count, float* work, uint64_t capacity)
      : stream_(stream), sm_count_(sm_count), work_(work), capacity_(capacity) {}
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (void* p : placed_) cudaFree(p);
    cudaFree(work_);
    cudaStreamDestroy(stream_);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  const char* name() const override { return "cuda"; }
  const char* kernels_name() const override { return "cuda"; }
  int n_threads() const override { return 1; }
  bool unified_memory() const override { return false; }

  void* alloc(uint64_t bytes) override {
    bytes = std::max<uint64_t>(bytes, 1);
    std::lock_guard<std::mutex> lock(memory_mutex_);
    if (in_use_ + bytes > capacity_) return nullptr;  // the placement's budget is a hard bound
    void* p = nullptr;
    if (cudaMalloc(&p, size_t(bytes)) != cudaSuccess) {
      cudaGetLastError();  // clear the (non-sticky) allocation error
      return nullptr;
    }
    sizes_[p] = bytes;
    in_use_ += bytes;
    return p;
  }
  void free(void* device) override {
    if (device == nullptr) return;
    check(cudaStreamSynchronize(stream_), "free");  // no queued op may still use it
    cudaFree(device);
    std::lock_guard<std::mutex> lock(memory_mutex_);
    if (auto it = sizes_.find(device); it != sizes_.end()) {
      in_use_ -= it->second;
      sizes_.erase(it);
    }
  }
  uint64_t device_bytes_in_use() const override {
    std::lock_guard<std::mutex> lock(memory_mutex_);
    return in_use_;
  }
  uint64_t device_capacity() const override { return capacity_; }
  void upload(void* device_dst, const void* host_src, uint64_t bytes) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(device_dst, host_src, size_t(bytes), cudaMemcpyHostToDevice, stream_), "upload");
    check(cudaStreamSynchronize(stream_), "upload");
  }
  void download(void* host_dst, const void* device_src, uint64_t bytes) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(host_dst, device_src, size_t(bytes), cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download");
  }
  void copy(void* device_dst, const void* device_src, uint64_t bytes) override {
    if (bytes == 0 || device_dst == device_src) return;
    const auto d = reinterpret_cast<uintptr_t>(device_dst), s = reinterpret_cast<uintptr_t>(device_src);
    if (d < s + bytes && s < d + bytes) {  // overlapping (memmove): through the workspace
      for (uint64_t done = 0; done < bytes; done += kWorkBytes) {
        const uint64_t n = std::min(kWorkBytes, bytes - done);
        const uint64_t at = d > s ? bytes - done - n : done;  // back to front when moving up
        check(cudaMemcpyAsync(work_, reinterpret_cast<const uint8_t*>(s) + at, n, cudaMemcpyDeviceToDevice, stream_), "copy");
        check(cudaMemcpyAsync(reinterpret_cast<uint8_t*>(d) + at, work_, n, cudaMemcpyDeviceToDevice, stream_), "copy");
      }
      return;
    }
    check(cudaMemcpyAsync(device_dst, device_src, size_t(bytes), cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  void zero(void* device, uint64_t bytes) override {
    if (bytes > 0) check(cudaMemsetAsync(device, 0, size_t(bytes), stream_), "zero");
  }

  Result<WeightView> place_weight(const WeightView& host) override {
    const uint64_t bytes = StagingBackend::view_bytes(host);
    if (bytes == 0) return host;
    void* p = place_bytes(host.data, bytes);
    if (p == nullptr) return Status(StatusCode::kOutOfMemory, "cuda backend: no device memory for a weight");
    WeightView device = host;
    device.data = static_cast<const uint8_t*>(p);
    return device;
  }
  Result<const float*> place_floats(const float* host, int64_t n) override {
    if (host == nullptr || n <= 0) return host;
    void* p = place_bytes(host, uint64_t(n) * sizeof(float));
    if (p == nullptr) return Status(StatusCode::kOutOfMemory, "cuda backend: no device memory for a float vector");
    return static_cast<const float*>(p);
  }

  // The staging backend's slot layout (gate, up, down, then the biases, 64-byte aligned pieces).
  void stage_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device) override {
    StagingBackend::lay_out_experts(
        host, n, slot_base, device,
        [](void* self, void* dst, const void* src, uint64_t bytes) {
          check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, static_cast<CudaBackend*>(self)->stream_),
                "stage_experts");
        },
        this);
    // Done before returning: the device expert cache (experts/device_expert_cache.h) times this
    // call as the upload speed, and its slot must hold the expert once the host copy is released.
    check(cudaStreamSynchronize(stream_), "stage_experts");
  }
  uint64_t expert_slot_bytes(const HParams& hp) const override {
    return StagingBackend::slot_bytes_for(hp.moe_intermediate_size, hp.hidden_size);
  }

  void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
              int64_t y_stride) override {
    check(cuda::matmul(w, x, x_stride, n_tokens, y, y_stride, stream_), "matmul");
  }
  void matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                int64_t y_stride) override {
    check(cuda::matmul_t(w, x, x_stride, n_tokens, y, y_stride, stream_), "matmul_t");
  }
  void embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out) override {
    check(cuda::embed(table, ids_host, n, out, stream_), "embed");
  }
  void rms_norm_rows(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n, float eps, float* y,
                     int64_t y_stride, kernels::QuantizedRows* q) override {
    check(cuda::rms_norm(x, x_stride, n_rows, 1, 0, w, n, eps, y, y_stride, stream_), "rms_norm_rows");
    if (q != nullptr) q->valid = false;  // the CUDA kernels take f32 activations
  }
  void rms_norm_pieces(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
                       const float* w, int64_t n, float eps, float* y, int64_t y_row_stride) override {
    check(cuda::rms_norm(x, row_stride, n_rows, heads, piece_stride, w, n, eps, y, y_row_stride, stream_),
          "rms_norm_pieces");
  }
  void swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride, int64_t n_tokens,
              const uint8_t*, float* out, int64_t out_stride, float* scratch) override {
    const int64_t I = gate.rows;
    if (cuda::swiglu_fusable(gate, up, n_tokens)) {  // decode: gate and up in one pass
      check(cuda::swiglu_gemv(gate, up, x, x_stride, n_tokens, out, out_stride, stream_), "swiglu");
      return;
    }
    check(cuda::matmul(gate, x, x_stride, n_tokens, out, out_stride, stream_), "swiglu");
    check(cuda::matmul(up, x, x_stride, n_tokens, scratch, I, stream_), "swiglu");
    check(cuda::silu_mul(out, out_stride, scratch, I, n_tokens, I, stream_), "swiglu");
  }
  void expert_ffns(const kernels::ExpertJob* jobs, int64_t n_jobs) override {
    for (int64_t j = 0; j < n_jobs; ++j) {
      const kernels::ExpertJob& e = jobs[j];
      swiglu(e.gate, e.up, e.x, e.gate.cols, e.n_tokens, nullptr, e.hidden, e.gate.rows, e.scratch);
      matmul(e.down, e.hidden, e.down.cols, e.n_tokens, e.out, e.down.rows);
    }
  }
  void attention(const kernels::AttentionArgs& args) override {
    check(cuda::attention(args, work_, int64_t(kWorkBytes / sizeof(float)), sm_count_, stream_), "attention");
  }

  void add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) override {
    check(cuda::add_bias(rows, n_rows, stride, bias, n, stream_), "add_bias");
  }
  void add(float* h, const float* b, int64_t n) override { check(cuda::add(h, b, n, stream_), "add"); }
  void clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit) override {
    check(cuda::clamped_swiglu_combine(gate, up, n, alpha, limit, stream_), "clamped_swiglu_combine");
  }
  void add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                         int64_t hidden) override {
    check(cuda::add_sigmoid_gated(out, rows, gate_logit, n_tokens, hidden, stream_), "add_sigmoid_gated");
  }
  void gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n, void* dst) override {
    check(cuda::gather_rows(src, row_bytes, token_host, n, dst, stream_), "gather_rows");
  }
  void scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host, int64_t n,
                          int64_t hidden, float* out) override {
    check(cuda::scatter_add_scaled(rows, token_host, weight_host, n, hidden, out, stream_), "scatter_add_scaled");
  }
  void copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                 int64_t dst_stride) override {
    check(cuda::copy_rows(src, src_stride, n_rows, n, dst, dst_stride, stream_), "copy_rows");
  }

  void rope_tables(const RopeParams& rope, int64_t start, int64_t n_tokens, float* cos, float* sin) override {
    check(cuda::rope_tables(rope.inv_freq.data(), rope.dim / 2, rope.attention_factor, start, n_tokens, cos, sin,
                            stream_),
          "rope_tables");
  }
  void rope(RopeLayout layout, float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
            int64_t dim, const float* cos, const float* sin) override {
    check(cuda::rope(layout == RopeLayout::kInterleaved, x, row_stride, n_rows, heads, piece_stride, dim, cos, sin,
                     stream_),
          "rope");
  }
  void route(const kernels::RouterParams& p, const float* logits, const float* bias, float*, int64_t n_tokens,
             int32_t* idx, float* weights) override {
    check(cuda::route(p, logits, bias, n_tokens, idx, weights, stream_), "route");
  }
  void store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                int64_t dst_stride) override {
    check(cuda::store_kv(type, src, src_stride, n_rows, n, dst, dst_stride, stream_), "store_kv");
  }

 private:
  static void check(cudaError_t e, const char* op) {
    if (e == cudaSuccess) return;
    std::fprintf(stderr, "mote cuda backend: %s failed: %s\n", op, cudaGetErrorString(e));
    std::abort();
  }

  void* place_bytes(const void* host, uint64_t bytes) {
    void* p = alloc(bytes);
    if (p == nullptr) return nullptr;
    upload(p, host, bytes);
    std::lock_guard<std::mutex> lock(placed_mutex_);
    placed_.push_back(p);
    return p;
  }

  cudaStream_t stream_;
  int sm_count_;
  float* work_;  // kWorkBytes of device scratch, used by one op at a time (the stream's order)
  const uint64_t capacity_;
  mutable std::mutex memory_mutex_;                // guards sizes_ and in_use_ (alloc/free only)
  std::unordered_map<void*, uint64_t> sizes_;      // alloc'd blocks and their sizes
  uint64_t in_use_ = 0;                            // bytes alloc'd (placed weights included)
  std::mutex placed_mutex_;
  std::vector<void*> placed_;  // placed weights and floats, freed with the backend
};

}  // namespace

Result<std::unique_ptr<Backend>> create_cuda_backend(const BackendOptions& options) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess)
    return Status(StatusCode::kUnsupported, std::string("MOTE_BACKEND_CUDA: no CUDA device: ") + cudaGetErrorString(e));
  if (count < 1) return Status(StatusCode::kUnsupported, "MOTE_BACKEND_CUDA: no CUDA device: none found");
  auto fail = [](const char* what, cudaError_t err) {
    return Status(StatusCode::kUnsupported, std::string("MOTE_BACKEND_CUDA: ") + what + ": " + cudaGetErrorString(err));
  };
  cudaError_t err = cudaSetDevice(0);
  if (err != cudaSuccess) return fail("cudaSetDevice(0)", err);
  int sm_count = 0;
  err = cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, 0);
  if (err != cudaSuccess) return fail("cudaDeviceGetAttribute", err);
  cudaStream_t stream = nullptr;
  err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) return fail("cudaStreamCreateWithFlags", err);
  void* work = nullptr;
  if (cudaMalloc(&work, kWorkBytes) != cudaSuccess) {
    cudaGetLastError();
    cudaStreamDestroy(stream);
    return Status(StatusCode::kOutOfMemory, "MOTE_BACKEND_CUDA: no device memory for the 64 MiB workspace");
  }
  size_t free_bytes = 0, total_bytes = 0;
  err = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (err != cudaSuccess) {
    cudaFree(work);
    cudaStreamDestroy(stream);
    return fail("cudaMemGetInfo", err);
  }
  uint64_t capacity = uint64_t(free_bytes);
  if (options.device_capacity_bytes > 0) capacity = std::min(capacity, options.device_capacity_bytes);
  return std::unique_ptr<Backend>(new CudaBackend(stream, sm_count, static_cast<float*>(work), capacity));
}

}  // namespace mote::backend
