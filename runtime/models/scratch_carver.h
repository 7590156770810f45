// Carver: hands out consecutive 64-byte-aligned pieces of a caller-owned arena, so a model's
// scratch (activations, router buffers) is sized once and carved without allocation. With a null
// base it only counts, which is how the *_scratch_size() functions measure an arena.
// Not thread-safe; a carver lives for one carve() call.
#pragma once

#include <cstdint>

namespace mote::models {

template <typename T>
class Carver {
 public:
  explicit Carver(T* base) : base_(base) {}
  // n elements (null when only counting); the next piece starts on a 64-byte boundary.
  T* take(int64_t n) {
    T* p = base_ ? base_ + used_ : nullptr;
    used_ += (n + kAlign - 1) / kAlign * kAlign;
    return p;
  }
  int64_t used() const { return used_; }  // elements handed out, padding included

 private:
  static constexpr int64_t kAlign = 64 / int64_t(sizeof(T));
  T* base_;
  int64_t used_ = 0;
};

}  // namespace mote::models
