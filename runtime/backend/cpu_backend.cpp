#include "backend/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/half.h"
#include "kernels/norm.h"
#include "kernels/rope.h"

namespace mote::backend {
namespace {

// The attention that goes with a table named `name`: tables are named after their ISA ("avx512",
// "neon", or a variant starting with it), as kernels::attention picks it; any other name (the
// reference, a test's table) gets the scalar reference.
kernels::AttentionFn attention_for(const char* name) {
  kernels::AttentionFn fn = nullptr;
  for (const char* isa : {"avx512", "avx2", "neon"})
    if (std::strncmp(name, isa, std::strlen(isa)) == 0) fn = kernels::find_attention(isa);
  return fn != nullptr ? fn : kernels::attention_ref;
}

// Runs the kernels of one op on the backend's pool when it has one; otherwise leaves the calling
// thread's current pool in place. Allocates nothing.
class OpScope {
 public:
  explicit OpScope(const kernels::ThreadPool* pool) {
    if (pool != nullptr) scope_.emplace(pool);
  }

 private:
  std::optional<kernels::ThreadPoolScope> scope_;
};

constexpr uint64_t kAlign = 64;

}  // namespace

CpuBackend::CpuBackend(const kernels::KernelTable& table, int n_threads)
    : table_(&table), attention_(attention_for(table.name)) {
  if (n_threads > 0) pool_ = std::make_unique<kernels::ThreadPool>(n_threads);
}

CpuBackend::~CpuBackend() = default;

int CpuBackend::n_threads() const { return pool_ ? pool_->size() : kernels::num_threads(); }

// ---- memory ----

void* CpuBackend::alloc(uint64_t bytes) {
  const uint64_t rounded = std::max<uint64_t>((bytes + kAlign - 1) / kAlign * kAlign, kAlign);
  return std::aligned_alloc(kAlign, size_t(rounded));
}

void CpuBackend::free(void* device) { std::free(device); }

void CpuBackend::upload(void* device_dst, const void* host_src, uint64_t bytes) {
  if (bytes > 0) std::memcpy(device_dst, host_src, size_t(bytes));
}

void CpuBackend::download(void* host_dst, const void* device_src, uint64_t bytes) {
  if (bytes > 0) std::memcpy(host_dst, device_src, size_t(bytes));
}

void CpuBackend::copy(void* device_dst, const void* device_src, uint64_t bytes) {
  if (bytes > 0) std::memmove(device_dst, device_src, size_t(bytes));
}

void CpuBackend::zero(void* device, uint64_t bytes) {
  if (bytes > 0) std::memset(device, 0, size_t(bytes));
}

void CpuBackend::stage_experts(const ExpertWeights* host, int64_t n, void*, ExpertWeights* device) {
  for (int64_t i = 0; i < n; ++i) device[i] = host[i];
}

// ---- kernels ----

void CpuBackend::matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                        int64_t y_stride) {
  OpScope scope(pool_.get());
  table_->matmul[int(w.type)](w, x, x_stride, n_tokens, y, y_stride);
}

void CpuBackend::matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                          int64_t y_stride) {
  OpScope scope(pool_.get());
  table_->matmul_t[int(w.type)](w, x, x_stride, n_tokens, y, y_stride);
}

void CpuBackend::embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out) {
  for (int64_t t = 0; t < n; ++t) table_->get_row(table, ids_host[t], out + t * table.cols);
}

void CpuBackend::rms_norm_rows(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n, float eps,
                               float* y, int64_t y_stride, kernels::QuantizedRows* q) {
  OpScope scope(pool_.get());
  table_->rms_norm_rows(x, x_stride, n_rows, w, n, eps, y, y_stride, q);
}

void CpuBackend::rms_norm_pieces(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                                 int64_t piece_stride, const float* w, int64_t n, float eps, float* y,
                                 int64_t y_row_stride) {
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      kernels::rms_norm(x + r * row_stride + h * piece_stride, w, n, eps, y + r * y_row_stride + h * piece_stride);
}

void CpuBackend::swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                        int64_t n_tokens, const uint8_t* q, float* out, int64_t out_stride, float* scratch) {
  OpScope scope(pool_.get());
  table_->swiglu(gate, up, x, x_stride, n_tokens, q, out, out_stride, scratch);
}

void CpuBackend::expert_ffns(const kernels::ExpertJob* jobs, int64_t n_jobs) {
  OpScope scope(pool_.get());
  table_->expert_ffns(jobs, n_jobs);
}

void CpuBackend::attention(const kernels::AttentionArgs& args) {
  OpScope scope(pool_.get());
  attention_(args);
}

// ---- elementwise and gather ----

void CpuBackend::add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) {
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t i = 0; i < n; ++i) rows[r * stride + i] += bias[i];
}

void CpuBackend::add(float* h, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] += b[i];
}

void CpuBackend::clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::fmin(gate[i], limit);
    const float u = std::clamp(up[i], -limit, limit);
    gate[i] = (u + 1.0f) * (g / (1.0f + std::exp(-alpha * g)));
  }
}

void CpuBackend::add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                                   int64_t hidden) {
  for (int64_t t = 0; t < n_tokens; ++t)
    table_->axpy(1.0f / (1.0f + std::exp(-gate_logit[t])), rows + t * hidden, out + t * hidden, hidden);
}

void CpuBackend::gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n, void* dst) {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t j = 0; j < n; ++j)
    std::memcpy(d + j * row_bytes, s + int64_t(token_host[j]) * row_bytes, size_t(row_bytes));
}

void CpuBackend::scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host, int64_t n,
                                    int64_t hidden, float* out) {
  for (int64_t j = 0; j < n; ++j)
    table_->axpy(weight_host[j], rows + j * hidden, out + int64_t(token_host[j]) * hidden, hidden);
}

void CpuBackend::copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                           int64_t dst_stride) {
  for (int64_t r = 0; r < n_rows; ++r)
    std::memcpy(dst + r * dst_stride, src + r * src_stride, size_t(n) * sizeof(float));
}

// ---- position ----

void CpuBackend::rope_tables(const RopeParams& rope, int64_t start, int64_t n_tokens, float* cos, float* sin) {
  kernels::rope_tables(rope, start, n_tokens, cos, sin);
}

void CpuBackend::rope(RopeLayout layout, float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                      int64_t piece_stride, int64_t dim, const float* cos, const float* sin) {
  const int64_t half = dim / 2;
  for (int64_t t = 0; t < n_rows; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      float* piece = x + t * row_stride + h * piece_stride;
      if (layout == RopeLayout::kInterleaved) kernels::rope_interleaved(piece, dim, cos + t * half, sin + t * half);
      else kernels::rope_half(piece, dim, cos + t * half, sin + t * half);
    }
}

// ---- routing ----

void CpuBackend::route(const kernels::RouterParams& p, const float* logits, const float* bias, float* scratch,
                       int64_t n_tokens, int32_t* idx, float* weights) {
  for (int64_t t = 0; t < n_tokens; ++t)
    kernels::route(p, logits + t * p.n_experts, bias, scratch, idx + t * p.top_k, weights + t * p.top_k);
}

// ---- per-layer state ----

void CpuBackend::store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                          int64_t dst_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* x = src + r * src_stride;
    uint8_t* out = dst + r * dst_stride;
    switch (type) {
      case KvType::kF32:
        std::memcpy(out, x, size_t(n) * sizeof(float));
        break;
      case KvType::kF16:
        for (int64_t i = 0; i < n; ++i) {
          const uint16_t h = f32_to_f16(x[i]);
          std::memcpy(out + 2 * i, &h, 2);
        }
        break;
      case KvType::kQ8_0:
        // Blocks of 32: f32 d = amax / 127, then int8 round-to-nearest-even(x / d); padding 0.
        for (int64_t b0 = 0; b0 < n; b0 += kKvQ8Block) {
          const int64_t m = std::min(kKvQ8Block, n - b0);
          float amax = 0.0f;
          for (int64_t i = 0; i < m; ++i) amax = std::fmax(amax, std::fabs(x[b0 + i]));
          const float d = amax / 127.0f;
          uint8_t* block = out + b0 / kKvQ8Block * kKvQ8BlockBytes;
          std::memcpy(block, &d, 4);
          auto* q = reinterpret_cast<int8_t*>(block + 4);
          for (int64_t i = 0; i < kKvQ8Block; ++i)
            q[i] = i < m && d > 0.0f ? int8_t(std::nearbyint(x[b0 + i] / d)) : int8_t(0);
        }
        break;
    }
  }
}

}  // namespace mote::backend
