// The backend the block tests run on: the CPU backend over the reference kernels (this binary's
// table, reference_kernels_env.cpp), on the process-wide thread arena.
#pragma once

#include "backend/cpu_backend.h"
#include "kernels/kernels.h"

namespace mote::test {

inline backend::CpuBackend& reference_backend() {
  static backend::CpuBackend cpu(kernels::reference_kernels(), 0);
  return cpu;
}

// A LayerCache over a caller-owned f32 cache of rows of `cache_dim` floats.
inline blocks::LayerCache f32_cache(float* rows, int64_t cache_dim) {
  return {reinterpret_cast<uint8_t*>(rows), KvType::kF32, 0, cache_dim * int64_t(sizeof(float))};
}

}  // namespace mote::test
