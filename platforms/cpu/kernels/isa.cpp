// CPU feature detection for kernel dispatch and the scalar activation quantiser every ISA's
// quantiser must match bit for bit.
#include "cpu/kernels/isa.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <cstdlib>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace mote::cpu {

void quantize_acts_ref(const float* x, int64_t n, ActBlock* out) {
  const int64_t nb = (n + kActBlock - 1) / kActBlock;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t start = b * kActBlock;
    const int64_t m = n - start < kActBlock ? n - start : kActBlock;
    uint32_t amax_bits = 0;  // max |x| as bits: see act_scale (fmax would skip a NaN)
    for (int64_t j = 0; j < m; ++j) {
      uint32_t bits;
      std::memcpy(&bits, &x[start + j], sizeof bits);
      amax_bits = std::max(amax_bits, bits & 0x7fffffffu);
    }
    const ActScale s = act_scale(amax_bits);
    ActBlock& o = out[b];
    if (!s.finite) {
      store_non_finite_block(&o);
      continue;
    }
    const float inv = s.inv;
    o.d = s.d;
    int32_t sum = 0;
    for (int64_t j = 0; j < kActBlock; ++j) {
      // nearbyint: ties to even under the default rounding mode, as the SIMD versions round.
      const int q = j < m ? int(std::nearbyint(x[start + j] * inv)) : 0;
      o.q[j] = int8_t(q);
      sum += q;
    }
    o.sum = sum;
  }
}

#if defined(__x86_64__)
namespace {

// AMX-TILE and AMX-INT8 (CPUID.(7,0):EDX bits 24, 25), tile state enabled by the OS (XCR0 bits
// 17, 18), and, on Linux, the process's permission to use it: since Linux 5.16 a process must
// ask for the tile data state with arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) before its
// first tile instruction, which otherwise faults (SIGILL). Asked once per process; the answer
// covers every thread. MOTE_AMX=0 turns AMX off (tests, comparisons).
bool detect_amx() {
  const char* env = std::getenv("MOTE_AMX");
  if (env && std::strcmp(env, "0") == 0) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 24)) || !(d & (1u << 25))) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE: xgetbv allowed
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
#endif
  return true;
}

}  // namespace

bool amx_supported() {
  static const bool supported = detect_amx();
  return supported;
}
#endif

bool cpu_supports(const char* isa) {
  if (std::strcmp(isa, "reference") == 0) return true;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (std::strcmp(isa, "avx2") == 0) return avx2;
  if (std::strcmp(isa, "avx512") == 0)
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  if (std::strcmp(isa, "avx512-amx") == 0) return cpu_supports("avx512") && amx_supported();
#endif
#if defined(__aarch64__) && defined(__linux__)
  if (std::strcmp(isa, "neon") == 0) return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
  return false;
}

const IsaOps* isa_ops(const char* isa) {
  if (!cpu_supports(isa)) return nullptr;
#if defined(__x86_64__)
  if (std::strcmp(isa, "avx2") == 0) return &kAvx2Ops;
  if (std::strcmp(isa, "avx512") == 0) return &kAvx512Ops;
  if (std::strcmp(isa, "avx512-amx") == 0) return &kAmxOps;
#endif
#if defined(__aarch64__)
  if (std::strcmp(isa, "neon") == 0) return &kNeonOps;
#endif
  return nullptr;
}

}  // namespace mote::cpu
