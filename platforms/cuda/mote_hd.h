// MOTE_HD marks the CUDA backend's per-element arithmetic as __host__ __device__, so the same
// functions run in the kernels (nvcc) and in the CPU unit tests (g++, tests/cuda), where the
// macro is empty. Loads of weight and cache bytes go through the helpers below: byte loads
// (any alignment) everywhere, or aligned 16/32-bit loads where the caller guarantees the
// alignment (the device fast paths; on the host they are memcpy, so the tests run them too).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MOTE_HD __host__ __device__ __forceinline__
#else
#define MOTE_HD inline
#endif
// Unrolling hint for the device compiler only (the host compilers would warn about the pragma).
#if defined(__CUDA_ARCH__)
#define MOTE_UNROLL _Pragma("unroll")
#else
#define MOTE_UNROLL
#endif

namespace mote::cuda {

// Little-endian u16 / u32 / f32 from bytes at any alignment.
MOTE_HD uint32_t ld_u16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
MOTE_HD uint32_t ld_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
MOTE_HD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
MOTE_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
MOTE_HD float ld_f32(const uint8_t* p) { return bits_f32(ld_u32(p)); }

// Aligned loads: p must be 2- (a16) or 4-byte (a32) aligned.
MOTE_HD uint32_t ld_a16(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const uint16_t*>(p);
#else
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
#endif
}
MOTE_HD uint32_t ld_a32(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const uint32_t*>(p);
#else
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}

// Four floats from a 16-byte aligned address (one 128-bit load on the device).
struct F4 {
  float v[4];
};
MOTE_HD F4 ld_f4(const float* p) {
  F4 r;
#if defined(__CUDA_ARCH__)
  const float4 q = *reinterpret_cast<const float4*>(p);
  r.v[0] = q.x, r.v[1] = q.y, r.v[2] = q.z, r.v[3] = q.w;
#else
  std::memcpy(r.v, p, 16);
#endif
  return r;
}

// a * b rounded once (never contracted into an FMA by nvcc), for the bit-exact helpers.
MOTE_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MOTE_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

}  // namespace mote::cuda
