// The kernel interface the model code calls. Every kernel exists as a scalar reference
// implementation (kernels/reference.cpp); faster versions (SIMD per ISA in platforms/cpu/kernels,
// later XNNPACK, ...) provide another KernelTable and are tested against reference_kernels() on
// odd shapes (tests/kernels).
//
// Conventions: activations are f32, row-major; weights are WeightViews in PyTorch [out, in]
// order (rows = out features, cols = in features), in any WeightType. Accumulation is fp32.
// No kernel allocates memory (the fast ones keep quantised activations and decoded pieces in
// bounded stack buffers, at most about 200 KiB of the calling or worker thread's stack); all are
// thread-safe (they only write their output arguments).
#pragma once

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
};

// The scalar reference kernels (always available; the oracle the fast tables are tested against).
const KernelTable& reference_kernels();
// The table the model code uses. At first use it becomes default_kernels(), unless
// set_active_kernels installed another one before. Change it only at start-up or between
// forward passes (never while a kernel runs).
const KernelTable& active_kernels();
void set_active_kernels(const KernelTable& table);

// Fast tables (platforms/cpu/kernels): "avx2" (AVX2 + FMA + F16C), "avx512" (AVX-512 F/BW/VL +
// VNNI) on x86-64, "neon" (NEON + dotprod) on aarch64. For Q8_0/Q4_0 weights their matmul
// quantises the activations to int8 per 32-block (f32 scale, round to nearest even), so results
// differ from the reference by that rounding (at most d_a / 2 per activation, d_a = block
// amax / 127); F32/F16/BF16 use f32 activations and differ only in summation order. matmul_t
// keeps f32 activations: each row is decoded and accumulated into every token's output with a
// fused SIMD decode + axpy on x86 (NEON: the scalar decoder, then SIMD axpy).
//
// The table named `name` ("reference", "avx2", "avx512", "neon") if this build has it and this
// CPU can run it, else nullptr.
const KernelTable* find_kernels(const char* name);
// Every table this CPU can run, reference first, best last; returns how many were written.
int available_kernels(const KernelTable** out, int capacity);
// The best table for this CPU, or the one the environment variable MOTE_KERNELS names
// (reference|avx2|avx512|neon); an unknown or unsupported name gives the reference table and a
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
// The current thread count (>= 1).
int num_threads();

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
