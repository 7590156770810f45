// XNNPACK's f32 fully-connected operator as the prefill path for F32 (and F16/BF16, decoded to
// f32) weights (matmul, not the transposed product). Built only where CMake found XNNPACK (MOTE_HAVE_XNNPACK); elsewhere, and
// on the aarch64 standalone kernel build, xnn_matmul_f32 always returns false.
//
// Why: our F32 kernel is a row-dot kernel (two loads per FMA and a horizontal sum per output),
// at 15-30 GFLOP/s per core on this machine (AMD EPYC, AVX-512) for prefill batches; XNNPACK's
// register-blocked GEMM (7x16 AVX-512 tiles over packed weights) runs 50-150 GFLOP/s when its
// packed weights stay in L2, so this path cuts the matrix into slices of 512 KiB of weights
// (samples/bench/xnnpack_bench.cpp has the measurements).
//
// Cost: creating an XNNPACK operator packs (copies) the weights it covers, so every call
// allocates (malloc, one 512 KiB slice at a time) and copies rows x cols floats: measured about
// 2 ms per 8 MiB matrix (1 thread), as long as the run at 64 tokens and 5-20% of it at 512.
// That is why it applies only to batches of kXnnMinTokens tokens or more (prefill): decode
// (n_tokens < kXnnMinTokens) never calls XNNPACK and never allocates.
//
// Threads: no pthreadpool. The rows are split into ranges on the kernels' own oneTBB arena
// (cpu::parallel_ranges, kernels::set_num_threads), and each range runs single-threaded
// operators over its rows, so XNNPACK never adds threads to the ones oneTBB already runs.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace mote::cpu {

// Below this many tokens the call returns false (the caller runs its own kernel). Measured
// break-even with packing included: about 32-64 tokens for F32 (1 thread), about 64 for BF16
// (decode + pack); from 128 tokens on XNNPACK is 2-4x faster than our row-dot kernels.
inline constexpr int64_t kXnnMinTokens = 64;       // F32 weights
inline constexpr int64_t kXnnMinTokensHalf = 128;  // F16 / BF16 weights (decoded to f32 first)

// y[t * y_stride + r] = sum_c W[r, c] * x[t * x_stride + c] (the MatmulFn contract) with
// XNNPACK's f32 GEMM, for row-major F32 weights (dense: row_stride == cols * 4) and
// n >= kXnnMinTokens, or row-major F16/BF16 weights (each slice decoded to f32 into a 512 KiB
// heap buffer, then packed) and n >= kXnnMinTokensHalf. Results differ from the reference only
// by summation order (f32 FMA accumulation).
// Returns false, having written nothing useful, when it does not apply: XNNPACK not built in,
// disabled with the environment variable MOTE_XNNPACK=0, unsupported CPU, initialisation or
// operator failure, another weight type or layout, or a small batch. Thread-safe.
bool xnn_matmul_f32(const WeightView& w, const float* x, int64_t x_stride, int64_t n, float* y,
                    int64_t y_stride);

// True if this build has XNNPACK and it initialised on this CPU (and MOTE_XNNPACK is not 0).
bool xnn_f32_available();

}  // namespace mote::cpu
