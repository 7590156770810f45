#include "backend/staging_backend.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/quant.h"

namespace mote::backend {

namespace {

constexpr uint64_t kPieceAlign = 64;

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

uint64_t page_size() {
  static const uint64_t size = uint64_t(sysconf(_SC_PAGESIZE));
  return size;
}

// An upper bound on one row of `cols` values in any weight type: f32 (4 bytes a value) or a
// 32-value block of at most 40 bytes (every quantised type's block is smaller).
uint64_t row_bound(int64_t cols) {
  const uint64_t blocks = uint64_t((cols + 31) / 32);
  return std::max<uint64_t>(uint64_t(cols) * 4, blocks * 40);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "mote staging backend: %s failed: %s\n", what, std::strerror(errno));
  std::abort();
}

}  // namespace

// Holds the backend's mutex and leaves every region readable and writable for its lifetime.
class StagingBackend::Unprotected {
 public:
  explicit Unprotected(StagingBackend& b) : backend_(b), lock_(b.mutex_) { backend_.set_protection(true); }
  ~Unprotected() { backend_.set_protection(false); }
  Unprotected(const Unprotected&) = delete;
  Unprotected& operator=(const Unprotected&) = delete;

 private:
  StagingBackend& backend_;
  std::lock_guard<std::mutex> lock_;
};

StagingBackend::StagingBackend(std::unique_ptr<Backend> inner, uint64_t capacity_bytes)
    : inner_(std::move(inner)), capacity_(capacity_bytes) {}

StagingBackend::~StagingBackend() {
  for (const auto& [start, bytes] : regions_) munmap(reinterpret_cast<void*>(start), bytes);
}

void* StagingBackend::map_region(uint64_t bytes) {
  const uint64_t mapped = align_up(std::max<uint64_t>(bytes, 1), page_size());
  if (capacity_ > 0 && (mapped > capacity_ || in_use_ > capacity_ - mapped)) return nullptr;
  void* p = mmap(nullptr, mapped, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  regions_.emplace(reinterpret_cast<uintptr_t>(p), mapped);
  in_use_ += mapped;
  peak_ = std::max(peak_, in_use_);
  return p;
}

std::string StagingBackend::full_message(uint64_t bytes) const {
  return std::to_string(bytes) + " bytes asked with " + std::to_string(in_use_) + " of the device capacity " +
         (capacity_ > 0 ? std::to_string(capacity_) + " bytes" : std::string("(unbounded)")) + " in use";
}

uint64_t StagingBackend::device_bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

uint64_t StagingBackend::device_peak_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_;
}

void StagingBackend::set_protection(bool accessible) {
  const int prot = accessible ? PROT_READ | PROT_WRITE : PROT_NONE;
  for (const auto& [start, bytes] : regions_)
    if (mprotect(reinterpret_cast<void*>(start), bytes, prot) != 0) die("mprotect");
}

int64_t StagingBackend::region_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return int64_t(regions_.size());
}

void* StagingBackend::alloc(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  return map_region(bytes);
}

void StagingBackend::free(void* device) {
  if (device == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = regions_.find(reinterpret_cast<uintptr_t>(device));
  if (it == regions_.end()) return;  // not one of ours (or placed memory, which lives with the backend)
  munmap(device, it->second);
  in_use_ -= it->second;
  regions_.erase(it);
}

void StagingBackend::upload(void* device_dst, const void* host_src, uint64_t bytes) {
  Unprotected open(*this);
  inner_->upload(device_dst, host_src, bytes);
}

void StagingBackend::download(void* host_dst, const void* device_src, uint64_t bytes) {
  Unprotected open(*this);
  inner_->download(host_dst, device_src, bytes);
}

void StagingBackend::copy(void* device_dst, const void* device_src, uint64_t bytes) {
  Unprotected open(*this);
  inner_->copy(device_dst, device_src, bytes);
}

void StagingBackend::zero(void* device, uint64_t bytes) {
  Unprotected open(*this);
  inner_->zero(device, bytes);
}

Result<WeightView> StagingBackend::place_weight(const WeightView& host) {
  const uint64_t bytes = view_bytes(host);
  if (bytes == 0) return host;
  void* dst = nullptr;
  std::string full;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dst = map_region(bytes);
    if (dst == nullptr) full = full_message(bytes);
  }
  if (dst == nullptr) return Status(StatusCode::kOutOfMemory, "staging backend: device memory full for a weight: " + full);
  {
    Unprotected open(*this);
    std::memcpy(dst, host.data, bytes);
  }
  WeightView device = host;
  device.data = static_cast<const uint8_t*>(dst);
  return device;
}

Result<const float*> StagingBackend::place_floats(const float* host, int64_t n) {
  if (host == nullptr || n <= 0) return host;
  void* dst = nullptr;
  std::string full;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dst = map_region(uint64_t(n) * sizeof(float));
    if (dst == nullptr) full = full_message(uint64_t(n) * sizeof(float));
  }
  if (dst == nullptr)
    return Status(StatusCode::kOutOfMemory, "staging backend: device memory full for a float vector: " + full);
  {
    Unprotected open(*this);
    std::memcpy(dst, host, uint64_t(n) * sizeof(float));
  }
  return static_cast<const float*>(dst);
}

uint64_t StagingBackend::slot_bytes_for(int64_t intermediate, int64_t hidden) {
  const uint64_t gate_up = align_up(row_bound(hidden) * uint64_t(intermediate), kPieceAlign);
  const uint64_t down = align_up(row_bound(intermediate) * uint64_t(hidden), kPieceAlign);
  const uint64_t biases = 2 * align_up(uint64_t(intermediate) * 4, kPieceAlign) + align_up(uint64_t(hidden) * 4, kPieceAlign);
  return 2 * gate_up + down + biases;
}

uint64_t StagingBackend::expert_slot_bytes(const HParams& hp) const {
  return slot_bytes_for(hp.moe_intermediate_size, hp.hidden_size);
}

uint64_t StagingBackend::view_bytes(const WeightView& w) {
  if (w.empty() || w.rows == 0) return 0;
  if (w.grouped()) return uint64_t(w.rows) * w.row_stride;
  return uint64_t(w.rows - 1) * w.row_stride + weight_row_bytes(w.type, w.cols);
}

void StagingBackend::lay_out_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device,
                                     PieceCopy copy, void* ctx) {
  uint8_t* slot = static_cast<uint8_t*>(slot_base);
  for (int64_t e = 0; e < n; ++e) {
    const ExpertWeights& h = host[e];
    const int64_t inter = h.gate.rows, hidden = h.gate.cols;
    uint8_t* at = slot;
    auto weight = [&](const WeightView& w, uint64_t reserve) {
      WeightView d = w;
      if (!w.empty()) {
        copy(ctx, at, w.data, view_bytes(w));
        d.data = at;
      }
      at += reserve;
      return d;
    };
    auto floats = [&](const float* b, int64_t count) -> const float* {
      const float* d = nullptr;
      if (b != nullptr) {
        copy(ctx, at, b, uint64_t(count) * sizeof(float));
        d = reinterpret_cast<const float*>(at);
      }
      at += align_up(uint64_t(count) * sizeof(float), kPieceAlign);
      return d;
    };
    const uint64_t gate_up = align_up(row_bound(hidden) * uint64_t(inter), kPieceAlign);
    ExpertWeights& d = device[e];
    d.gate = weight(h.gate, gate_up);
    d.up = weight(h.up, gate_up);
    d.down = weight(h.down, align_up(row_bound(inter) * uint64_t(hidden), kPieceAlign));
    d.gate_bias = floats(h.gate_bias, inter);
    d.up_bias = floats(h.up_bias, inter);
    d.down_bias = floats(h.down_bias, hidden);
    slot += slot_bytes_for(inter, hidden);
  }
}

void StagingBackend::stage_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device) {
  Unprotected open(*this);
  lay_out_experts(host, n, slot_base, device,
                  [](void*, void* dst, const void* src, uint64_t bytes) { std::memcpy(dst, src, bytes); }, nullptr);
}

void StagingBackend::matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                            int64_t y_stride) {
  Unprotected open(*this);
  inner_->matmul(w, x, x_stride, n_tokens, y, y_stride);
}

void StagingBackend::matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                              int64_t y_stride) {
  Unprotected open(*this);
  inner_->matmul_t(w, x, x_stride, n_tokens, y, y_stride);
}

void StagingBackend::embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out) {
  Unprotected open(*this);
  inner_->embed(table, ids_host, n, out);
}

void StagingBackend::rms_norm_rows(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n,
                                   float eps, float* y, int64_t y_stride, kernels::QuantizedRows* q) {
  Unprotected open(*this);
  inner_->rms_norm_rows(x, x_stride, n_rows, w, n, eps, y, y_stride, q);
}

void StagingBackend::rms_norm_pieces(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                                     int64_t piece_stride, const float* w, int64_t n, float eps, float* y,
                                     int64_t y_row_stride) {
  Unprotected open(*this);
  inner_->rms_norm_pieces(x, row_stride, n_rows, heads, piece_stride, w, n, eps, y, y_row_stride);
}

void StagingBackend::swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                            int64_t n_tokens, const uint8_t* q, float* out, int64_t out_stride, float* scratch) {
  Unprotected open(*this);
  inner_->swiglu(gate, up, x, x_stride, n_tokens, q, out, out_stride, scratch);
}

void StagingBackend::expert_ffns(const kernels::ExpertJob* jobs, int64_t n_jobs) {
  Unprotected open(*this);
  inner_->expert_ffns(jobs, n_jobs);
}

void StagingBackend::attention(const kernels::AttentionArgs& args) {
  Unprotected open(*this);
  inner_->attention(args);
}

void StagingBackend::add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) {
  Unprotected open(*this);
  inner_->add_bias(rows, n_rows, stride, bias, n);
}

void StagingBackend::add(float* h, const float* b, int64_t n) {
  Unprotected open(*this);
  inner_->add(h, b, n);
}

void StagingBackend::clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit) {
  Unprotected open(*this);
  inner_->clamped_swiglu_combine(gate, up, n, alpha, limit);
}

void StagingBackend::add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                                       int64_t hidden) {
  Unprotected open(*this);
  inner_->add_sigmoid_gated(out, rows, gate_logit, n_tokens, hidden);
}

void StagingBackend::gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n,
                                 void* dst) {
  Unprotected open(*this);
  inner_->gather_rows(src, row_bytes, token_host, n, dst);
}

void StagingBackend::scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host,
                                        int64_t n, int64_t hidden, float* out) {
  Unprotected open(*this);
  inner_->scatter_add_scaled(rows, token_host, weight_host, n, hidden, out);
}

void StagingBackend::copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                               int64_t dst_stride) {
  Unprotected open(*this);
  inner_->copy_rows(src, src_stride, n_rows, n, dst, dst_stride);
}

void StagingBackend::rope_tables(const RopeParams& rope, int64_t start, int64_t n_tokens, float* cos, float* sin) {
  Unprotected open(*this);
  inner_->rope_tables(rope, start, n_tokens, cos, sin);
}

void StagingBackend::rope(RopeLayout layout, float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                          int64_t piece_stride, int64_t dim, const float* cos, const float* sin) {
  Unprotected open(*this);
  inner_->rope(layout, x, row_stride, n_rows, heads, piece_stride, dim, cos, sin);
}

void StagingBackend::route(const kernels::RouterParams& p, const float* logits, const float* bias, float* scratch,
                           int64_t n_tokens, int32_t* idx, float* weights) {
  Unprotected open(*this);
  inner_->route(p, logits, bias, scratch, n_tokens, idx, weights);
}

void StagingBackend::store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n,
                              uint8_t* dst, int64_t dst_stride) {
  Unprotected open(*this);
  inner_->store_kv(type, src, src_stride, n_rows, n, dst, dst_stride);
}

}  // namespace mote::backend
