#include "kernels/rope.h"

#include <cmath>

namespace mote::kernels {

void rope_tables(const RopeParams& rope, int64_t start_pos, int64_t n_tokens, float* cos, float* sin) {
  const int64_t half = rope.dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float pos = float(start_pos + t);
    for (int64_t j = 0; j < half; ++j) {
      const float angle = pos * rope.inv_freq[size_t(j)];
      cos[t * half + j] = float(std::cos(double(angle))) * rope.attention_factor;
      sin[t * half + j] = float(std::sin(double(angle))) * rope.attention_factor;
    }
  }
}

void rope_interleaved(float* x, int64_t dim, const float* cos, const float* sin) {
  for (int64_t j = 0; j < dim / 2; ++j) {
    const float a = x[2 * j], b = x[2 * j + 1];
    x[2 * j] = a * cos[j] - b * sin[j];
    x[2 * j + 1] = a * sin[j] + b * cos[j];
  }
}

void rope_half(float* x, int64_t dim, const float* cos, const float* sin) {
  const int64_t half = dim / 2;
  for (int64_t j = 0; j < half; ++j) {
    const float a = x[j], b = x[j + half];
    x[j] = a * cos[j] - b * sin[j];
    x[j + half] = b * cos[j] + a * sin[j];
  }
}

}  // namespace mote::kernels
