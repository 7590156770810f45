#include "kernels/norm.h"

#include "kernels/kernels.h"

namespace mote::kernels {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) { kernels::rms_norm_row(x, w, n, eps, y); }

void rms_norm_rows(const float* x, int64_t x_stride, int64_t rows, const float* w, int64_t n, float eps,
                   float* y, int64_t y_stride) {
  for (int64_t r = 0; r < rows; ++r) rms_norm(x + r * x_stride, w, n, eps, y + r * y_stride);
}

}  // namespace mote::kernels
