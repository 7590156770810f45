// The kernel interface the model code calls. Every kernel exists as a scalar reference
// implementation (kernels/reference.cpp); faster versions (SIMD, XNNPACK, ...) register another
// KernelTable and are tested against reference_kernels() on odd shapes.
//
// Conventions: activations are f32, row-major; weights are WeightViews in PyTorch [out, in]
// order (rows = out features, cols = in features), in any WeightType. Accumulation is fp32.
// No kernel allocates memory; all are thread-safe (they only write their output arguments).
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

// The scalar reference kernels (always available).
const KernelTable& reference_kernels();
// The table the model code uses. Today this is the reference table; a platform layer may
// install a faster one at start-up with set_active_kernels (not while a forward pass runs).
const KernelTable& active_kernels();
void set_active_kernels(const KernelTable& table);

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
// whole number of blocks.
inline WeightView row_slice(const WeightView& w, int64_t first, int64_t count) {
  WeightView v = w;
  v.rows = count;
  v.data = w.row(first);
  return v;
}

}  // namespace mote::kernels
