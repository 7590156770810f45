// CpuBackend: the Backend (backend/backend.h) over today's CPU kernels on host memory. Device
// pointers are host pointers (unified_memory() is true), placing a weight returns its view of the
// mapping, alloc is an aligned heap block and the transfers are memcpy.
//
// Kernels: the backend holds its own KernelTable (never kernels::active_kernels()) and the
// attention implementation of that table's name (kernels::find_attention, falling back to the
// scalar attention_ref). Each op is exactly the code the blocks ran before the backend existed
// (the same table functions, the same scalar loops, in the same order), so the logits are
// bit-identical to the pre-backend forward (tests/runtime/decoder_identity_test.cpp).
//
// Threads: with n_threads > 0 the backend owns a kernels::ThreadPool of that size and runs every
// op inside a ThreadPoolScope on it (the C API's per-model pool, mote_model_params.n_threads);
// with n_threads = 0 it has no pool and its ops run on the calling thread's current pool (the
// process-wide arena unless a scope says otherwise).
//
// Thread-safety: as Backend. The table, attention function and pool are fixed at construction.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace mote::backend {

class CpuBackend final : public Backend {
 public:
  // table: the kernels every op calls (must outlive the backend; the tables are static).
  // n_threads: see the file comment.
  CpuBackend(const kernels::KernelTable& table, int n_threads);
  ~CpuBackend() override;

  const char* name() const override { return "cpu"; }
  const char* kernels_name() const override { return table_->name; }
  int n_threads() const override;
  bool unified_memory() const override { return true; }
  // The backend's own pool (n_threads > 0), else null.
  const kernels::ThreadPool* thread_pool() const { return pool_.get(); }
  const kernels::KernelTable& table() const { return *table_; }

  void* alloc(uint64_t bytes) override;
  void free(void* device) override;
  void upload(void* device_dst, const void* host_src, uint64_t bytes) override;
  void download(void* host_dst, const void* device_src, uint64_t bytes) override;
  void copy(void* device_dst, const void* device_src, uint64_t bytes) override;
  void zero(void* device, uint64_t bytes) override;
  Result<WeightView> place_weight(const WeightView& host) override { return host; }
  Result<const float*> place_floats(const float* host, int64_t) override { return host; }
  void stage_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device) override;
  uint64_t expert_slot_bytes(const HParams&) const override { return 0; }

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

  void route(const kernels::RouterParams& p, const float* logits, const float* bias, float* scratch,
             int64_t n_tokens, int32_t* idx, float* weights) override;

  void store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                int64_t dst_stride) override;

 private:
  const kernels::KernelTable* table_;
  kernels::AttentionFn attention_;
  std::unique_ptr<kernels::ThreadPool> pool_;  // null: the caller's current pool
};

}  // namespace mote::backend
