#include "graph/norm.h"

#include <cmath>

namespace mote::graph {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  float sum_sq = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum_sq += x[i] * x[i];
  const float r = 1.0f / std::sqrt(sum_sq / float(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = w[i] * (x[i] * r);
}

void rms_norm_rows(const float* x, int64_t x_stride, int64_t rows, const float* w, int64_t n, float eps,
                   float* y, int64_t y_stride) {
  for (int64_t r = 0; r < rows; ++r) rms_norm(x + r * x_stride, w, n, eps, y + r * y_stride);
}

}  // namespace mote::graph
