// Internal interface between the ISA-independent kernel drivers (driver.cpp: chunking of the
// quantised activations, threading, KernelTable wiring) and the per-ISA inner loops
// (x86_avx2.cpp, x86_avx512.cpp, arm_neon.cpp). Not part of the runtime's public surface; tests
// include it to check each ISA's pieces against the scalar versions.
//
// Activations for Q8_0/Q4_0/Q2_1/MXFP4 weights are quantised per block of 32 to int8 with an f32 scale:
// a = d * q, d = amax / 127, q = round-half-even(x * (1 / d)), |q| <= 127. Every ISA's
// quantiser produces bit-identical blocks to quantize_acts_ref (same operations, IEEE division,
// ties-to-even rounding), so a test can rebuild the exact int8 product on the scalar side.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "core/tensor.h"

namespace mote::cpu {

inline constexpr int kActBlock = 32;

// One quantised activation block: 32 values of one token. 40 bytes, 4-byte aligned.
struct ActBlock {
  float d;        // scale: value = d * q
  int32_t sum;    // sum of q (Q4_0 kernels use it to fold the -8 nibble offset out of the loop)
  int8_t q[kActBlock];
};
static_assert(sizeof(ActBlock) == 40);

// A block's scale from its largest |x| AS BITS: the integer max of (bits(x) & 0x7fffffff), which
// orders finite floats as the floats do and is >= 0x7f800000 exactly when the block holds a NaN
// or an Inf. Every ISA's quantiser uses it, so all agree bit for bit on every input.
//  finite:     d = amax / 127, inv = 1 / d; inv = 0 when d is 0 or 1 / d overflows (amax below
//              ~1.2e-43: the block is all zeros at int8 precision);
//  non-finite: d = NaN, codes 0 and sum 0 (the caller stores them). The block's dot products
//              become NaN, so NaN propagates to the outputs (and generation's logits check),
//              and no float -> int conversion or integer sum ever sees NaN/Inf (UB in C++,
//              0x80000000 in SIMD, whose sums then overflow in the Q4_0/Q8_0 offset terms).
struct ActScale {
  float d, inv;
  bool finite;
};
inline ActScale act_scale(uint32_t amax_bits) {
  if (amax_bits >= 0x7f800000u) return {std::numeric_limits<float>::quiet_NaN(), 0.0f, false};
  float amax;
  std::memcpy(&amax, &amax_bits, sizeof amax);
  const float d = amax / 127.0f;
  const float inv = d > 0.0f ? 1.0f / d : 0.0f;
  return {d, inv <= std::numeric_limits<float>::max() ? inv : 0.0f, true};
}

// Stores the block of a non-finite act_scale: d = NaN, codes 0, sum 0.
inline void store_non_finite_block(ActBlock* out) {
  out->d = std::numeric_limits<float>::quiet_NaN();
  out->sum = 0;
  std::memset(out->q, 0, sizeof out->q);
}

// x[n] -> out[ceil(n / 32)] blocks; the tail of the last block is zero. Thread-safe.
using QuantizeActsFn = void (*)(const float* x, int64_t n, ActBlock* out);
void quantize_acts_ref(const float* x, int64_t n, ActBlock* out);

// Quantised weights (Q8_0, Q4_0, Q2_1 or MXFP4) times quantised activations, for rows [r0, r1) and the
// weight blocks [b0, b0 + nb) of each row. acts[t * nb + j] is block b0 + j of token t < n_tokens.
// Writes y[t * y_stride + r] (or adds to it when `accumulate`, for column-chunked calls).
using QDotRowsFn = void (*)(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride,
                            bool accumulate);

// F32/F16/BF16 weights times f32 activations, rows [r0, r1), all columns:
// y[t * y_stride + r] = sum_c W[r, c] * x[t * x_stride + c].
using FDotRowsFn = void (*)(const WeightView& w, int64_t r0, int64_t r1, const float* x,
                            int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride);

// The inner loops of one instruction set. All functions are thread-safe and allocation-free.
struct IsaOps {
  const char* name;                 // "avx2", "avx512", "neon"
  QuantizeActsFn quantize_acts;
  QDotRowsFn qdot_q8_0;
  QDotRowsFn qdot_q4_0;
  QDotRowsFn qdot_q2_1;             // null: the reference kernel runs Q2_1 (driver.cpp)
  QDotRowsFn qdot_mxfp4;            // row-major only (MXFP4 has no row groups); null: reference
  // The same products on row-grouped views (WeightView::row_group == 16, kernels/quant.h has
  // the layout); r0 and r1 are multiples of 16. Null: the reference kernel runs them.
  QDotRowsFn qdot_grouped_q8_0;
  QDotRowsFn qdot_grouped_q4_0;
  QDotRowsFn qdot_grouped_q2_1;
  FDotRowsFn fdot[3];               // indexed by int(WeightType): F32, F16, BF16
  // y[i] += alpha * W[i] for the n values of a row piece starting at a block boundary `src`
  // (decode fused with axpy, for the transposed product); indexed by int(WeightType). Null
  // entries (and F32, used in place) fall back to dequantize_row + axpy.
  void (*axpy_row[kWeightTypeCount])(float alpha, const uint8_t* src, int64_t n, float* y);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  // Batches too large for the stack buffer are quantised once into a per-thread heap buffer
  // (grown at the first large prefill, never in decode) instead of per sub-block of rows: the
  // AMX loops are fast enough that re-quantising would cost more than the products.
  bool quantise_batches_once = false;
};

// The ops compiled into this binary for each ISA (declared for every target; defined only where
// the ISA exists: x86-64 for avx2/avx512, aarch64 for neon). Whether the CPU can run them is
// cpu_supports()'s business.
#if defined(__x86_64__)
extern const IsaOps kAvx2Ops;
extern const IsaOps kAvx512Ops;
// kAvx512Ops with the AMX-INT8 loops (x86_amx.cpp) in the row-grouped slots: bit-identical
// results, 16-token tiles on the CPU's tile unit. Usable once cpu_supports("avx512-amx").
extern const IsaOps kAmxOps;
void qdot_grouped_q8_0_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                           int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q4_0_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                           int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q2_1_amx(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                           int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
// AMX usable by this process (CPUID, OS state, Linux permission requested once; false with
// MOTE_AMX=0).
bool amx_supported();
// Q2_1 inner loops (x86_q2_1.cpp), referenced from the two tables above.
void qdot_q2_1_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                    int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_q2_1_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                      int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
// MXFP4 inner loops and fused decode + axpy (x86_mxfp4.cpp), referenced from the two tables above.
void qdot_mxfp4_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                     int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_mxfp4_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                       int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void axpy_mxfp4_avx2(float alpha, const uint8_t* src, int64_t n, float* y);
void axpy_mxfp4_avx512(float alpha, const uint8_t* src, int64_t n, float* y);
// Row-grouped Q8_0 / Q4_0 / Q2_1 inner loops (x86_grouped_avx2.cpp, x86_grouped_avx512.cpp).
void qdot_grouped_q8_0_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                            int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q4_0_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                            int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q2_1_avx2(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                            int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q8_0_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                              const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q4_0_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                              const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
void qdot_grouped_q2_1_avx512(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                              const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
#endif
#if defined(__aarch64__)
extern const IsaOps kNeonOps;
// MXFP4 inner loop (arm_mxfp4.cpp), referenced from kNeonOps.
void qdot_mxfp4_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                     int64_t n_tokens, float* y, int64_t y_stride, bool accumulate);
#endif

// MXFP4 (kernels/quant.h) in the int8 loops: an E2M1 code's value times 2 is an integer, so a
// 16-entry byte table turns each nibble into the int8 weight 2 * value (|w| <= 12; with |q_a| <=
// 127 a block's int8 dot is at most 32 * 12 * 127, exact in int32 and in the int16 pair sums of
// maddubs), and the block's scale is applied halved: 2^(e - 127) / 2 = 2^(e - 128).
inline constexpr int8_t kMxfp4Int8[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e - 128) for an E8M0 scale byte, built from its bits: exact for every e < 255, including
// e = 0 and 1 (2^-128 and 2^-127, subnormal floats: 0x00200000 << e). e = 255 is NaN (OCP MX: the
// E8M0 NaN encoding), so every product with such a block is NaN. The reference decode
// (dequantize_row: ldexp(1, 128) = inf) turns such a block into inf * code, NaN for its zero codes,
// so rows with a realistic e = 255 block are NaN there too; a block without any zero code gives
// +-inf or NaN in the reference but always NaN here.
inline float mxfp4_half_scale(uint8_t e) {
  uint32_t bits = e >= 2 ? uint32_t(e - 1) << 23 : 0x00200000u << e;
  if (e == 255) bits = 0x7fc00000u;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The quantised inner loop of `ops` for w's type and layout (row-major or row groups), or null
// when the ISA has none (float weights, row-grouped MXFP4, or a missing loop): the callers then use the
// reference or float paths.
inline QDotRowsFn qdot_for(const IsaOps& ops, const WeightView& w) {
  switch (w.type) {
    case WeightType::Q8_0: return w.grouped() ? ops.qdot_grouped_q8_0 : ops.qdot_q8_0;
    case WeightType::Q4_0: return w.grouped() ? ops.qdot_grouped_q4_0 : ops.qdot_q4_0;
    case WeightType::Q2_1: return w.grouped() ? ops.qdot_grouped_q2_1 : ops.qdot_q2_1;
    case WeightType::MXFP4: return w.grouped() ? nullptr : ops.qdot_mxfp4;
    default: return nullptr;
  }
}

// Shared by the drivers (driver.cpp, fused.cpp, expert_jobs.cpp):
// quantised activation blocks one call keeps on its stack (x 40 bytes = 80 KiB): 65536 values,
// e.g. 9 tokens of a 7168-wide hidden state; larger batches are chunked or take another path.
inline constexpr int64_t kActBufBlocks = 2048;
// Below this much work (weight bytes x tokens) a call stays on the calling thread: a parallel
// dispatch costs a few microseconds, about what 256 KiB take to stream from memory.
inline constexpr double kParallelMinWork = 512.0 * 1024;
// Rows per range are multiples of this: whole row groups, and ranges' f32 outputs apart by
// whole cache lines.
inline constexpr int64_t kRowAlign = 16;

// True if this CPU (and OS) can run the ISA named "reference", "avx2", "avx512", "avx512-amx" or "neon".
bool cpu_supports(const char* isa);

// The ops of a named ISA if compiled in and supported by this CPU, else nullptr.
const IsaOps* isa_ops(const char* isa);

}  // namespace mote::cpu
