// Backend: the seam between the decoder (families/decoder.cpp) and the machine it runs on. One
// Backend object per Model. It owns every buffer the forward touches — the weights' device
// copies (or views of the mapping), the sessions' per-layer state and scratch, and the device
// side of routed-expert slots — and exposes every operation the decoder needs, from the
// matmuls and fused FFNs to the elementwise and gather steps (bias, norms, RoPE, residual,
// routed-token gather/scatter, router scoring and top-k, attention).
//
// Pointers. Every float*/int32_t*/uint8_t* an operation takes is DEVICE memory: a pointer into
// a buffer from alloc(), or into a weight placed with place_weight()/place_floats(), or a
// sub-range of one. The decoder computes addresses with them but never dereferences them; only
// the backend does. Arguments whose names end in _host are host memory the call reads (small
// parameter arrays: token ids, routed slots and their weights) or writes (download). For the
// CPU backend device memory is host memory and the transfers are copies; the staging backend
// (the test double for a GPU) keeps device memory in separate, access-protected pages, so any
// host access that bypasses this interface faults in the tests.
//
// Determinism: the CPU backend's result for every op is a fixed function of its arguments and
// of the backend's kernel table; it does not depend on the thread count.
//
// Thread-safety: ops may be called from several threads at once on distinct output buffers
// (several Sessions of one Model). alloc/free/place_* are thread-safe. The backend's settings
// (kernel table, threads) are fixed at creation.
//
// Allocation: ops never allocate (except where KernelTable documents XNNPACK's packing in large
// float prefills); alloc() is for Session::create and Model::open only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/kv_type.h"
#include "core/status.h"
#include "core/tensor.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/router.h"
#include "model/hparams.h"
#include "model/weights.h"  // ExpertWeights

namespace mote::backend {

enum class BackendKind {
  kCpu,      // today's kernels on host memory
  kStaging,  // the CPU kernels on separate, protected "device" buffers (test double)
  kCuda,     // platforms/cuda (MOTE_CUDA=ON builds): CUDA device 0
};

struct BackendOptions {
  BackendKind kind = BackendKind::kCpu;
  // Kernel threads: > 0 gives the backend a pool of its own (capped to the cores this process
  // may use); 0 = no pool of its own, the caller's current pool (the process-wide arena of
  // kernels::set_num_threads, all cores by default).
  int n_threads = 0;
  // Kernel table name ("reference", "avx2", "avx512", "neon"). Empty: the process's table at
  // creation, kernels::active_kernels() (MOTE_KERNELS, else the best this CPU runs, unless
  // set_active_kernels installed another), so a process pinned to the reference stays exact.
  std::string kernels;
  // Device memory the backend may hold at most, in bytes (alloc'd buffers, placed weights);
  // 0 = no bound of its own. The staging backend fails alloc (null) and place_* (kOutOfMemory)
  // past it, so that tests can give the test double a GPU's size; a GPU backend may lower its
  // card's free memory to it. Placement under a VRAM budget (experts/device_expert_cache.h)
  // reads it back through device_capacity().
  uint64_t device_capacity_bytes = 0;
};

// Rotation layouts of kernels/rope.h.
enum class RopeLayout { kInterleaved, kHalf };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;           // "cpu", "staging", "cuda"
  virtual const char* kernels_name() const = 0;   // the kernel table's name
  virtual int n_threads() const = 0;
  // True when device pointers are host pointers (the CPU backend): callers may then let an op
  // write straight into host memory (e.g. logits) instead of downloading.
  virtual bool unified_memory() const = 0;

  // ---- memory ----
  // `bytes` of device memory (64-byte aligned, contents undefined), or null when out of memory.
  // Owned by the backend; give it back with free().
  virtual void* alloc(uint64_t bytes) = 0;
  virtual void free(void* device) = 0;
  virtual void upload(void* device_dst, const void* host_src, uint64_t bytes) = 0;
  virtual void download(void* host_dst, const void* device_src, uint64_t bytes) = 0;
  // Bytes of device memory held now (alloc'd and placed; what a backend with separate memory
  // counts, page or allocation granularity included) and the most it may hold (0: no bound
  // known). Backends with unified memory return 0 for both. Thread-safe. Used by the placement
  // under a VRAM budget (model/model.cpp) and by error messages that name the budget.
  virtual uint64_t device_bytes_in_use() const { return 0; }
  virtual uint64_t device_capacity() const { return 0; }
  virtual void copy(void* device_dst, const void* device_src, uint64_t bytes) = 0;
  virtual void zero(void* device, uint64_t bytes) = 0;
  // A device view of a host weight (a view of the mapping). CPU: the view itself. Others copy it
  // into backend-owned memory that lives as long as the backend. Errors: out of memory.
  virtual Result<WeightView> place_weight(const WeightView& host) = 0;
  virtual Result<const float*> place_floats(const float* host, int64_t n) = 0;
  // Device views of n routed experts the expert store just pinned in host memory. slot_base:
  // where in a caller's expert-slot area (device memory from alloc(), expert_slot_bytes() per
  // slot, expert i at slot_base + i * expert_slot_bytes()) the copies go; CPU ignores it and
  // returns the host views (valid while the store keeps them pinned). A backend with separate
  // memory copies the weights: the copies stay valid until the caller overwrites or frees the
  // slots (the session's per-group slots, and the device expert cache's slots,
  // experts/device_expert_cache.h, which keeps them across forwards). The copies are complete
  // when the call returns: the device cache times the call as the measured upload speed.
  virtual void stage_experts(const ExpertWeights* host, int64_t n, void* slot_base, ExpertWeights* device) = 0;
  // Bytes one staged expert slot needs for experts of width I and hidden H (0 for CPU).
  virtual uint64_t expert_slot_bytes(const HParams& hp) const = 0;

  // ---- the kernels of KernelTable, on device pointers ----
  virtual void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                      int64_t y_stride) = 0;
  virtual void matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                        int64_t y_stride) = 0;
  virtual void embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out) = 0;
  // RMSNorm rows with the table's fused quantisation (q: null, or q->data device storage;
  // q->valid is set on the host struct).
  virtual void rms_norm_rows(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n, float eps,
                             float* y, int64_t y_stride, kernels::QuantizedRows* q) = 0;
  // The scalar RMSNorm of kernels/norm.h (per head, q/k norms, MLA's latent norms): rows of n
  // values, `heads` pieces per row `piece_stride` apart, rows `row_stride` apart; in place allowed.
  virtual void rms_norm_pieces(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                               int64_t piece_stride, const float* w, int64_t n, float eps, float* y,
                               int64_t y_row_stride) = 0;
  virtual void swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                      int64_t n_tokens, const uint8_t* q, float* out, int64_t out_stride, float* scratch) = 0;
  virtual void expert_ffns(const kernels::ExpertJob* jobs, int64_t n_jobs) = 0;
  virtual void attention(const kernels::AttentionArgs& args) = 0;

  // ---- elementwise and gather ----
  // rows[r * stride + i] += bias[i], r < n_rows, i < n.
  virtual void add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) = 0;
  // h[i] += b[i], i < n (the residual).
  virtual void add(float* h, const float* b, int64_t n) = 0;
  // gpt-oss: gate[i] = (clamp(up[i], -limit, limit) + 1) * g * sigmoid(alpha * g), g = min(gate[i], limit).
  virtual void clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit) = 0;
  // out[t * hidden ..] += sigmoid(gate_logit[t]) * rows[t * hidden ..] for t < n_tokens (Qwen2-MoE).
  virtual void add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                                 int64_t hidden) = 0;
  // dst row j = src row token_host[j] (rows of row_bytes bytes, src rows row_bytes apart).
  virtual void gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n, void* dst) = 0;
  // out row token_host[j] += weight_host[j] * rows row j, in j order (rows, out: `hidden` floats).
  virtual void scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host, int64_t n,
                                  int64_t hidden, float* out) = 0;
  // Strided copy: n_rows rows of n floats.
  virtual void copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                         int64_t dst_stride) = 0;

  // ---- position ----
  // cos/sin [n_tokens, rope.dim / 2] for positions start .. start + n_tokens - 1 (kernels/rope.h).
  virtual void rope_tables(const RopeParams& rope, int64_t start, int64_t n_tokens, float* cos, float* sin) = 0;
  // Rotates `heads` pieces of `dim` floats per row (piece h at row + h * piece_stride), rows
  // row_stride apart, token t with table row t.
  virtual void rope(RopeLayout layout, float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                    int64_t piece_stride, int64_t dim, const float* cos, const float* sin) = 0;

  // ---- routing ----
  // For each of n_tokens tokens: top_k expert ids and weights from its router logits
  // [n_tokens, E] (kernels/router.h; bias: device [E] or null; scratch: device
  // [RouterParams::scratch_size()]); idx/weights: device [n_tokens, top_k].
  virtual void route(const kernels::RouterParams& p, const float* logits, const float* bias, float* scratch,
                     int64_t n_tokens, int32_t* idx, float* weights) = 0;

  // ---- per-layer state ----
  // Converts n_rows rows of n floats (src, src_stride floats apart) to `type` pieces at dst
  // (dst_stride bytes apart; kv_piece_bytes(type, n) bytes each).
  virtual void store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                        int64_t dst_stride) = 0;
};

// The backend `options` ask for. Errors: an unknown or unsupported kernel table name
// (kInvalidArgument naming it), a backend kind this build lacks (kUnsupported: kCuda without
// MOTE_CUDA, "this build has no CUDA backend (configure with -DMOTE_CUDA=ON)"), kCuda without a
// usable device at run time (kUnsupported "MOTE_BACKEND_CUDA: no CUDA device: <CUDA's error>").
Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options);

}  // namespace mote::backend
