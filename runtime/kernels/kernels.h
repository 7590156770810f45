// The kernel interface the model code calls. Every kernel exists as a scalar reference
// implementation (kernels/reference.cpp); faster versions (SIMD per ISA in platforms/cpu/kernels,
// later XNNPACK, ...) provide another KernelTable and are tested against reference_kernels() on
// odd shapes (tests/kernels).
//
// Conventions: activations are f32, row-major; weights are WeightViews in PyTorch [out, in]
// order (rows = out features, cols = in features), in any WeightType. Accumulation is fp32.
// No kernel allocates memory in decode (the fast ones keep quantised activations and decoded
// pieces in bounded stack buffers, at most about 200 KiB of the calling or worker thread's
// stack). The one exception is prefill with float weights: batches of 64+ tokens (F32) or 128+
// (F16/BF16) go through XNNPACK's GEMM where it is built in, which packs each 512 KiB slice of
// weights into a heap buffer inside the call. All are thread-safe (they only write their
// output arguments).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/tensor.h"

namespace mote::kernels {

// y[t * y_stride + r] = sum_c W[r, c] * x[t * x_stride + c]   for t < n_tokens, r < w.rows.
// x_stride >= w.cols, y_stride >= w.rows (in floats). Weights are read once per call,
// whatever n_tokens is (prefill reads each weight row once per chunk).
using MatmulFn = void (*)(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                          float* y, int64_t y_stride);

// The transposed product, y = x W (W used as [in, out] = [rows, cols]):
// y[t * y_stride + c] = sum_r x[t * x_stride + r] * W[r, c]   for t < n_tokens, c < w.cols.
// x_stride >= w.rows, y_stride >= w.cols (in floats). Each weight row is decoded once per call
// and accumulated (axpy) into every token's output; y is overwritten, not accumulated into.
using MatmulTFn = void (*)(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                           float* y, int64_t y_stride);

// Activation rows quantised once for several products of the same input: the fast tables'
// int8 blocks (per 32 values: f32 scale, int32 sum, 32 x int8 = 40 bytes), opaque to model
// code. rms_norm_rows writes them in the same pass as the normalisation; swiglu reads them
// instead of quantising its input again (for every expert a token is routed to, and for the
// shared expert). Caller-owned storage.
inline int64_t quantized_row_bytes(int64_t cols) { return (cols + 31) / 32 * 40; }
struct QuantizedRows {
  uint8_t* data = nullptr;  // [rows, quantized_row_bytes(cols)]
  int64_t cols = 0;
  bool valid = false;       // set by rms_norm_rows when the table quantised the rows
};

// One RMSNorm row, y[i] = w[i] * (x[i] / sqrt(mean(x^2) + eps)): the single definition every
// table and kernels::rms_norm use, so that fusing the norm into quantisation changes no bit.
inline void rms_norm_row(const float* x, const float* w, int64_t n, float eps, float* y) {
  float sum_sq = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum_sq += x[i] * x[i];
  const float r = 1.0f / std::sqrt(sum_sq / float(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = w[i] * (x[i] * r);
}

// y[t * y_stride + i] = rms_norm_row(x + t * x_stride) for t < n_rows, i < n (x and y may be
// the same rows). With q (q->data non-null, q->cols == n), tables that quantise activations
// also write each normalised row's int8 blocks into q while the row is in L1 and set q->valid;
// the others (reference) set q->valid = false.
using RmsNormRowsFn = void (*)(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n,
                               float eps, float* y, int64_t y_stride, QuantizedRows* q);

// Fused SwiGLU: out[t * out_stride + i] = silu(gate_i . x_t) * (up_i . x_t) for i < gate.rows,
// t < n_tokens, x [n_tokens, x_stride >= gate.cols]; gate and up have the same type, shape and
// layout. q: null, or x's rows already quantised (QuantizedRows::data of n_tokens rows, valid).
// scratch [n_tokens, gate.rows] (dense) holds the up products where a table needs it.
// The fast tables quantise x once for both (or use q), compute both products of a row range on
// the same thread in one dispatch and apply silu * up while the range is in cache; each element
// equals the table's matmul results combined as gate / (1 + exp(-gate)) * up, so fusing never
// changes the numbers.
using SwigluFn = void (*)(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                          int64_t n_tokens, const uint8_t* q, float* out, int64_t out_stride, float* scratch);

// One routed expert's SwiGLU FFN on the tokens routed to it, for expert_ffns.
struct ExpertJob {
  WeightView gate, up, down;  // [I, H], [I, H], [H, I]; gate and up of the same type and layout
  const float* x = nullptr;   // [n_tokens, H]
  const uint8_t* x_q = nullptr;  // null, or x's rows quantised (QuantizedRows of H columns)
  int64_t n_tokens = 0;
  float* hidden = nullptr;    // [n_tokens, I]: silu(gate x) * up x
  float* scratch = nullptr;   // [n_tokens, I]
  float* out = nullptr;       // [n_tokens, H]: down hidden
};
// The FFNs of several experts (one layer's, in decode) scheduled together: the fast tables run
// the gate/up products of all jobs in one parallel dispatch and the down products in a second,
// the threads splitting the concatenated rows of all experts, instead of two dispatches per
// expert. Each job's out is bit-identical to swiglu + matmul run for it alone.
using ExpertFfnsFn = void (*)(const ExpertJob* jobs, int64_t n_jobs);

struct KernelTable {
  const char* name;
  // Indexed by int(WeightType).
  MatmulFn matmul[kWeightTypeCount];
  // Indexed by int(WeightType).
  MatmulTFn matmul_t[kWeightTypeCount];
  // out[c] = W[row, c] for c < w.cols (dequantise one row; embedding lookup).
  void (*get_row)(const WeightView& w, int64_t row, float* out);
  // sum_i a[i] * b[i], fp32 accumulation.
  float (*dot)(const float* a, const float* b, int64_t n);
  // y[i] += alpha * x[i].
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  SwigluFn swiglu;
  RmsNormRowsFn rms_norm_rows;
  ExpertFfnsFn expert_ffns;
};

// silu(g) * u exactly as every SwiGLU in mote computes it (one expression, so that fused and
// unfused paths give the same bits).
inline float silu_times(float g, float u) { return g / (1.0f + std::exp(-g)) * u; }
// SwiGLU from two of `table`'s matmuls and the combine (the reference table's swiglu, and the
// fast tables' fallback for batches too large to quantise once).
void swiglu_unfused(const KernelTable& table, const WeightView& gate, const WeightView& up, const float* x,
                    int64_t x_stride, int64_t n_tokens, float* out, int64_t out_stride, float* scratch);
// Job after job through `table`'s swiglu and matmul (the reference's expert_ffns, and the fast
// tables' fallback for jobs they cannot schedule together).
void expert_ffns_one_by_one(const KernelTable& table, const ExpertJob* jobs, int64_t n_jobs);
// RMSNorm rows without quantisation (the reference table's rms_norm_rows; sets q->valid = false).
void rms_norm_rows_plain(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n, float eps,
                         float* y, int64_t y_stride, QuantizedRows* q);

// The scalar reference kernels (always available; the oracle the fast tables are tested against).
const KernelTable& reference_kernels();
// The table the model code uses. At first use it becomes default_kernels(), unless
// set_active_kernels installed another one before. Change it only at start-up or between
// forward passes (never while a kernel runs).
const KernelTable& active_kernels();
void set_active_kernels(const KernelTable& table);

// Fast tables (platforms/cpu/kernels): "avx2" (AVX2 + FMA + F16C), "avx512" (AVX-512 F/BW/VL +
// VNNI) and "avx512-amx" (the avx512 table with AMX-INT8 tiles for row-grouped weights in
// batches of 16+ tokens, bit-identical to avx512; MOTE_AMX=0 hides it) on x86-64, "neon" (NEON +
// dotprod) on aarch64. For Q8_0/Q4_0 weights their matmul
// quantises the activations to int8 per 32-block (f32 scale, round to nearest even), so results
// differ from the reference by that rounding (at most d_a / 2 per activation, d_a = block
// amax / 127); F32/F16/BF16 use f32 activations and differ only in summation order. matmul_t
// keeps f32 activations: each row is decoded and accumulated into every token's output with a
// fused SIMD decode + axpy on x86 (NEON: the scalar decoder, then SIMD axpy).
//
// The table named `name` ("reference", "avx2", "avx512", "avx512-amx", "neon") if this build has it and this
// CPU can run it, else nullptr.
const KernelTable* find_kernels(const char* name);
// Every table this CPU can run, reference first, best last; returns how many were written.
int available_kernels(const KernelTable** out, int capacity);
// The best table for this CPU, or the one the environment variable MOTE_KERNELS names
// (reference|avx2|avx512|avx512-amx|neon); an unknown or unsupported name gives the reference table and a
// one-line warning on stderr. Reads the environment on every call.
const KernelTable& default_kernels();

// Threads the fast kernels split a large matrix over (rows for matmul; columns for matmul_t, and
// only for 8 tokens or more; work under about 512 KiB of weight bytes x tokens stays on the
// calling thread). n = 0: all cores this process may use (the default); larger n is capped to
// that. Builds without oneTBB always use one thread.
// Not thread-safe with respect to running kernels: call it at start-up or between forward
// passes. The kernels themselves may be called from any number of threads at once; they share
// one oneTBB arena of this size. The results do not depend on the thread count (each output
// element is computed by one thread in a fixed order).
void set_num_threads(int n);
// The current thread count (>= 1): the size of the calling thread's current ThreadPool when a
// ThreadPoolScope is active, else of the process-wide arena.
int num_threads();

// A kernel thread pool of its own (a oneTBB arena of `size()` threads, the calling thread
// included), for running the kernels of one model at another thread count than the process-wide
// arena's: the C API gives each model one (mote_model_params.n_threads). n = 0: all cores this
// process may use; larger n is capped to that. Builds without oneTBB: size 1. Thread-safe: any
// number of threads may run kernels on one pool at once. Must outlive every scope using it.
class ThreadPool {
 public:
  explicit ThreadPool(int n);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const { return size_; }
  // The oneTBB arena (tbb::task_arena*), opaque here so this header needs no oneTBB.
  void* arena() const { return arena_; }

 private:
  int size_ = 1;
  void* arena_ = nullptr;
};

// While alive, the kernels called on this thread (and the ranges they fan out to other threads)
// run on `pool`; nullptr: on the process-wide arena. Scopes nest (the destructor restores the
// previous pool). Not movable; allocates nothing.
class ThreadPoolScope {
 public:
  explicit ThreadPoolScope(const ThreadPool* pool);
  ~ThreadPoolScope();
  ThreadPoolScope(const ThreadPoolScope&) = delete;
  ThreadPoolScope& operator=(const ThreadPoolScope&) = delete;

 private:
  const ThreadPool* previous_;
};

// Convenience wrappers over active_kernels().
// y: [n_tokens, w.rows]; x: [n_tokens, w.cols], both dense row-major.
inline void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  active_kernels().matmul[int(w.type)](w, x, w.cols, n_tokens, y, w.rows);
}
inline void matmul_strided(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                           float* y, int64_t y_stride) {
  active_kernels().matmul[int(w.type)](w, x, x_stride, n_tokens, y, y_stride);
}
// y = x W: y: [n_tokens, y_stride >= w.cols]; x: [n_tokens, x_stride >= w.rows] (strides in floats).
inline void matmul_transposed(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                              int64_t y_stride) {
  active_kernels().matmul_t[int(w.type)](w, x, x_stride, n_tokens, y, y_stride);
}
// out: [w.cols]
inline void embedding_row(const WeightView& w, int64_t row, float* out) {
  active_kernels().get_row(w, row, out);
}
// out, scratch: [n_tokens, gate.rows]; x: [n_tokens, gate.cols], dense row-major; q: null or
// x's rows quantised by rms_norm_rows (QuantizedRows::valid).
inline void swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t n_tokens, float* out,
                   float* scratch, const uint8_t* q = nullptr) {
  active_kernels().swiglu(gate, up, x, gate.cols, n_tokens, q, out, gate.rows, scratch);
}
inline void expert_ffns(const ExpertJob* jobs, int64_t n_jobs) { active_kernels().expert_ffns(jobs, n_jobs); }
// x, y: [n_rows, n] dense; q: optional (see RmsNormRowsFn).
inline void rms_norm_rows(const float* x, int64_t n_rows, const float* w, int64_t n, float eps, float* y,
                          QuantizedRows* q = nullptr) {
  active_kernels().rms_norm_rows(x, n, n_rows, w, n, eps, y, n, q);
}
inline float dot(const float* a, const float* b, int64_t n) { return active_kernels().dot(a, b, n); }
inline void axpy(float alpha, const float* x, float* y, int64_t n) { active_kernels().axpy(alpha, x, y, n); }

// A view of a dense f32 matrix [rows, cols] (row stride = cols) owned by the caller.
inline WeightView f32_view(const float* data, int64_t rows, int64_t cols) {
  WeightView v;
  v.type = WeightType::F32;
  v.rows = rows;
  v.cols = cols;
  v.row_stride = uint64_t(cols) * sizeof(float);
  v.data = reinterpret_cast<const uint8_t*>(data);
  return v;
}

// Rows [first, first + count) of `w` as a view (no copy). Valid for every type: a row is a
// whole number of blocks. In a grouped view (row_group 16) first and count must be multiples of
// 16; otherwise the slice would cut a group (callers check, e.g. the converter keeps such
// tensors row-major).
inline WeightView row_slice(const WeightView& w, int64_t first, int64_t count) {
  WeightView v = w;
  v.rows = count;
  v.data = w.grouped() ? w.group(first / w.row_group) : w.row(first);
  return v;
}

}  // namespace mote::kernels
