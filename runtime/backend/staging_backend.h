// StagingBackend: the test double for a GPU backend (backend.h, BackendKind::kStaging). It runs
// an inner CPU backend's kernels, but keeps every byte of "device" memory — alloc()'d buffers,
// placed weights, staged experts — in pages of its own that are PROT_NONE whenever none of its
// operations runs. Host code that dereferences a device pointer outside an operation (an access
// that bypasses the seam) therefore faults at once, which is what the tests want to see.
// Weights and experts are copied in (place_weight, place_floats, stage_experts), activations
// cross only at the explicit transfer points (upload, download), as they would over PCIe.
//
// Every operation: take the backend's mutex, make all of its pages readable and writable, run
// the inner backend's operation, protect the pages again. The mutex serialises all operations
// of one StagingBackend (its sessions run one op at a time): that is fine for a test double and
// is NOT the CPU backend's rule (the CPU backend takes no lock in the decode loop). Arguments
// named *_host are host memory and are passed through untouched.
//
// Ownership: the backend owns every region (alloc'd ones until free(), placed weights and
// floats until it is destroyed). Thread-safety: all members may be called from any thread.
// Capacity: with a capacity (BackendOptions::device_capacity_bytes) alloc returns null and
// place_* fail with kOutOfMemory once the page-rounded regions would exceed it, as a full GPU.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backend/backend.h"

namespace mote::backend {

class StagingBackend final : public Backend {
 public:
  // `inner`: the backend whose kernels run the ops; it must have unified memory (a CPU backend).
  // capacity_bytes: the most device memory it holds (page-rounded regions counted); 0 = no bound.
  explicit StagingBackend(std::unique_ptr<Backend> inner, uint64_t capacity_bytes = 0);
  ~StagingBackend() override;
  StagingBackend(const StagingBackend&) = delete;
  StagingBackend& operator=(const StagingBackend&) = delete;

  const char* name() const override { return "staging"; }
  const char* kernels_name() const override { return inner_->kernels_name(); }
  int n_threads() const override { return inner_->n_threads(); }
  bool unified_memory() const override { return false; }

  void* alloc(uint64_t bytes) override;
  void free(void* device) override;
  uint64_t device_bytes_in_use() const override;
  uint64_t device_capacity() const override { return capacity_; }
  void upload(void* device_dst, const void* host_src, uint64_t bytes) override;
  void download(void* host_dst, const void* device_src, uint64_t bytes) override;
  void copy(void* device_dst, const void* device_src, uint64_t bytes) override;
  void zero(void* device, uint64_t bytes) override;
  Result<WeightView> place_weight(const WeightView& host) override;
  Result<const float*> place_floats(const float* host, int64_t n) override;
  void stage_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device) override;
  uint64_t expert_slot_bytes(const HParams& hp) const override;

  void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
              int64_t y_stride) override;
  void matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                int64_t y_stride) override;
  void embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out) override;
  void rms_norm_rows(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n, float eps, float* y,
                     int64_t y_stride, kernels::QuantizedRows* q) override;
  void rms_norm_pieces(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
                       const float* w, int64_t n, float eps, float* y, int64_t y_row_stride) override;
  void swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride, int64_t n_tokens,
              const uint8_t* q, float* out, int64_t out_stride, float* scratch) override;
  void expert_ffns(const kernels::ExpertJob* jobs, int64_t n_jobs) override;
  void attention(const kernels::AttentionArgs& args) override;

  void add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) override;
  void add(float* h, const float* b, int64_t n) override;
  void clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit) override;
  void add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                         int64_t hidden) override;
  void gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n, void* dst) override;
  void scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host, int64_t n,
                          int64_t hidden, float* out) override;
  void copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                 int64_t dst_stride) override;

  void rope_tables(const RopeParams& rope, int64_t start, int64_t n_tokens, float* cos, float* sin) override;
  void rope(RopeLayout layout, float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
            int64_t dim, const float* cos, const float* sin) override;
  void route(const kernels::RouterParams& p, const float* logits, const float* bias, float* scratch, int64_t n_tokens,
             int32_t* idx, float* weights) override;
  void store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                int64_t dst_stride) override;

  // Bytes of one staged expert of width I (gate/up rows) and hidden H: an upper bound over every
  // weight type (4 bytes per value, or 40 bytes per 32-value block, whichever is larger) for
  // gate [I, H], up [I, H], down [H, I], plus the biases [I], [I], [H], each piece 64-byte
  // aligned. expert_slot_bytes(hp) is this for (moe_intermediate_size, hidden_size).
  static uint64_t slot_bytes_for(int64_t intermediate, int64_t hidden);
  // Copies n host experts into consecutive slots of that layout at slot_base with
  // copy(ctx, device_dst, host_src, bytes) per piece (a memcpy here, a host-to-device copy on a
  // GPU backend) and fills device[0..n) with views of the copies. Allocates nothing.
  using PieceCopy = void (*)(void* ctx, void* device_dst, const void* host_src, uint64_t bytes);
  static void lay_out_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device,
                              PieceCopy copy, void* ctx);
  // Bytes a view's data spans (whole groups in a grouped view; a row slice's last row may end
  // before its stride does): what place_weight copies.
  static uint64_t view_bytes(const WeightView& w);
  // Device regions currently held (alloc'd and placed), for tests.
  int64_t region_count() const;
  // The most device memory held at once since creation (bytes, page-rounded), for tests.
  uint64_t device_peak_bytes() const;

 private:
  // Holds the mutex and keeps every region read/write for its lifetime (one op).
  class Unprotected;
  // mutex held; PROT_NONE pages, recorded in regions_; null past the capacity or when mmap fails.
  void* map_region(uint64_t bytes);
  // "N bytes asked with U of the capacity C in use" for out-of-memory messages (mutex held).
  std::string full_message(uint64_t bytes) const;
  void set_protection(bool accessible);  // mutex held

  std::unique_ptr<Backend> inner_;
  mutable std::mutex mutex_;
  std::map<uintptr_t, uint64_t> regions_;  // start -> mapped bytes (page multiple)
  const uint64_t capacity_;                // 0 = no bound
  uint64_t in_use_ = 0;                    // sum of regions_' bytes
  uint64_t peak_ = 0;                      // most in_use_ ever
};

}  // namespace mote::backend
