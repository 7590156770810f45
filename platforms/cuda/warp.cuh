// Warp and block reductions of the CUDA kernels, and WarpLanes: the lanes policy of
// platforms/cuda/lane_algos.h for one full warp (32 lanes, all active).
#pragma once

#include "cuda/lane_algos.h"

namespace mote::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
// `shared`: 32 floats. Contains __syncthreads: call from every thread.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = blockDim.x / 32;
  __syncthreads();  // shared may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float s = 0.0f;
  for (int i = 0; i < n_warps; ++i) s += shared[i];
  return s;
}

// Methods are __host__ __device__ because lane_algos.h's templates are: the host copies of the
// WarpLanes instantiations are never called (their bodies are trivial there).
#if defined(__CUDA_ARCH__)
#define MOTE_ON_DEVICE(device_code, host_code) device_code
#else
#define MOTE_ON_DEVICE(device_code, host_code) host_code
#endif
struct WarpLanes {
  static constexpr int kN = 32;
  MOTE_HD int lane() const { MOTE_ON_DEVICE(return int(threadIdx.x % 32), return 0); }
  MOTE_HD float sum(float x) const { MOTE_ON_DEVICE(return warp_sum(x), return x); }
  MOTE_HD float max(float x) const { MOTE_ON_DEVICE(return warp_max(x), return x); }
  MOTE_HD void argmax(float& v, int& i) const {
#if defined(__CUDA_ARCH__)
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(kFullMask, v, o);
      const int oi = __shfl_xor_sync(kFullMask, i, o);
      if (better(v, i, ov, oi)) {
        v = ov;
        i = oi;
      }
    }
#endif
  }
  MOTE_HD void sync() const { MOTE_ON_DEVICE(__syncwarp(), (void)0); }
};

}  // namespace mote::cuda
