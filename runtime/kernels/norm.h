// RMSNorm in fp32 for every family (as transformers computes it; DeepSeek's inference/model.py
// calls F.rms_norm in bf16): y = w * x / sqrt(mean(x^2) + eps).
// Pure functions on caller-owned buffers; thread-safe.
#pragma once

#include <cstdint>

namespace mote::kernels {

// One vector: x[n] -> y[n] with weight w[n]. x and y may alias.
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);

// `rows` vectors of length n, x rows `x_stride` floats apart, y rows `y_stride` apart.
void rms_norm_rows(const float* x, int64_t x_stride, int64_t rows, const float* w, int64_t n, float eps,
                   float* y, int64_t y_stride);

}  // namespace mote::kernels
