// RMSNorm in fp32 (spec §0 conventions, §11.3): y = w * x / sqrt(mean(x^2) + eps).
// Pure functions on caller-owned buffers; thread-safe.
#pragma once

#include <cstdint>

namespace mote::blocks {

// One vector: x[n] -> y[n] with weight w[n]. x and y may alias.
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);

// `rows` vectors of length n, x rows `x_stride` floats apart, y rows `y_stride` apart.
void rms_norm_rows(const float* x, int64_t x_stride, int64_t rows, const float* w, int64_t n, float eps,
                   float* y, int64_t y_stride);

}  // namespace mote::blocks
