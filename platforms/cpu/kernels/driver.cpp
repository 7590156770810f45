// ISA-independent kernel drivers: the int8 quantisation of activations for Q8_0/Q4_0/Q2_1/MXFP4 weights
// (in bounded stack buffers, chunked by tokens and if need be by columns), the split of work
// across the kernel threads, and the KernelTables built from each ISA's inner loops (isa.h).
// Also the choice of the default table (best ISA, or MOTE_KERNELS).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/log.h"
#include "cpu/kernels/fused.h"
#include "cpu/kernels/isa.h"
#include "cpu/kernels/threads.h"
#include "cpu/kernels/xnnpack_f32.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote::cpu {
namespace {

bool worth_parallel(const WeightView& w, int64_t n_tokens) {
  return double(weight_row_bytes(w.type, w.cols)) * double(w.rows) * double(n_tokens) >= kParallelMinWork;
}

void run_rows(const WeightView& w, int64_t n_tokens, RangeFn fn, void* ctx) {
  if (worth_parallel(w, n_tokens)) parallel_ranges(w.rows, kRowAlign, fn, ctx);
  else fn(ctx, 0, w.rows);
}

struct QuantisedCall {
  QuantizeActsFn quantize;
  QDotRowsFn qdot;
  const WeightView* w;
  const float* x;
  int64_t x_stride, n_tokens;
  float* y;
  int64_t y_stride;
  const ActBlock* acts;  // all tokens, quantised once by the caller (small batches), or null
};

// Small batches: activations of every token were quantised once into call.acts.
void quantised_rows_shared(void* ctx, int64_t r0, int64_t r1) {
  const auto& c = *static_cast<const QuantisedCall*>(ctx);
  const int64_t nb = (c.w->cols + kActBlock - 1) / kActBlock;
  c.qdot(*c.w, r0, r1, 0, nb, c.acts, c.n_tokens, c.y, c.y_stride, false);
}

// Large batches: each range quantises token chunks (and column chunks when one token does not
// fit) into its own stack buffer, for sub-blocks of rows (about kSubBlockBytes of weights) that
// every token chunk passes over. Re-quantising per sub-block costs one quantisation per value and
// sub-block, against rows_per_block dots: the row-group kernels do ~0.003 ns per MAC on one core
// and quantisation ~0.16 ns per value (measured on this machine's AMD EPYC), so 48-row sub-blocks (256 KiB of
// Q8_0 at 4096 columns) doubled their time; ~240 rows cost ~20%. A sub-block over L2 is re-read
// from L3 once per token chunk, far below L3 bandwidth at these speeds.
constexpr int64_t kSubBlockBytes = int64_t(1) << 20;

void quantised_rows_chunked(void* ctx, int64_t r0, int64_t r1) {
  const auto& c = *static_cast<const QuantisedCall*>(ctx);
  const WeightView& w = *c.w;
  ActBlock buf[kActBufBlocks];
  const int64_t nb_row = (w.cols + kActBlock - 1) / kActBlock;
  const int64_t nb_chunk = std::min(nb_row, kActBufBlocks);
  const int64_t tok_chunk = std::max<int64_t>(1, kActBufBlocks / nb_chunk);
  const int64_t row_bytes = int64_t(weight_row_bytes(w.type, w.cols));
  // A multiple of kRowAlign: sub-blocks of a grouped view must start at a row group.
  const int64_t rows_per_block =
      std::clamp<int64_t>(kSubBlockBytes / std::max<int64_t>(row_bytes, 1), kRowAlign, 1024) / kRowAlign * kRowAlign;
  for (int64_t rb = r0; rb < r1; rb += rows_per_block) {
    const int64_t re = std::min(r1, rb + rows_per_block);
    for (int64_t b0 = 0; b0 < nb_row; b0 += nb_chunk) {
      const int64_t nb = std::min(nb_chunk, nb_row - b0);
      const int64_t c0 = b0 * kActBlock, nc = std::min(nb * kActBlock, w.cols - c0);
      for (int64_t t0 = 0; t0 < c.n_tokens; t0 += tok_chunk) {
        const int64_t nt = std::min(tok_chunk, c.n_tokens - t0);
        for (int64_t t = 0; t < nt; ++t) c.quantize(c.x + (t0 + t) * c.x_stride + c0, nc, buf + t * nb);
        c.qdot(w, rb, re, b0, nb, buf, nt, c.y + t0 * c.y_stride, c.y_stride, b0 > 0);
      }
    }
  }
}

// The calling thread's buffer for batches quantised once (IsaOps::quantise_batches_once): grown
// to the largest batch seen (n_tokens x blocks x 40 bytes, about 1.25x the f32 activations),
// kept for the thread's life. Only prefill-sized batches reach it.
ActBlock* batch_act_buffer(int64_t blocks) {
  thread_local std::vector<ActBlock> buffer;
  if (int64_t(buffer.size()) < blocks) buffer.resize(size_t(blocks));
  return buffer.data();
}

void matmul_quantised(const IsaOps& ops, QDotRowsFn qdot, const WeightView& w, const float* x, int64_t x_stride,
                      int64_t n_tokens, float* y, int64_t y_stride) {
  if (w.rows <= 0 || n_tokens <= 0) return;
  const QuantizeActsFn quantize = ops.quantize_acts;
  QuantisedCall call{quantize, qdot, &w, x, x_stride, n_tokens, y, y_stride, nullptr};
  const int64_t nb = (w.cols + kActBlock - 1) / kActBlock;
  if (nb * n_tokens <= kActBufBlocks) {
    ActBlock acts[kActBufBlocks];
    for (int64_t t = 0; t < n_tokens; ++t) quantize(x + t * x_stride, w.cols, acts + t * nb);
    call.acts = acts;
    run_rows(w, n_tokens, quantised_rows_shared, &call);
  } else if (ops.quantise_batches_once) {
    ActBlock* acts = batch_act_buffer(nb * n_tokens);
    for (int64_t t = 0; t < n_tokens; ++t) quantize(x + t * x_stride, w.cols, acts + t * nb);
    call.acts = acts;
    run_rows(w, n_tokens, quantised_rows_shared, &call);
  } else {
    run_rows(w, n_tokens, quantised_rows_chunked, &call);
  }
}

struct FloatCall {
  FDotRowsFn fdot;
  const WeightView* w;
  const float* x;
  int64_t x_stride, n_tokens;
  float* y;
  int64_t y_stride;
};

void float_rows(void* ctx, int64_t r0, int64_t r1) {
  const auto& c = *static_cast<const FloatCall*>(ctx);
  c.fdot(*c.w, r0, r1, c.x, c.x_stride, c.n_tokens, c.y, c.y_stride);
}

// Transposed product. Each range owns output columns [c0, c1) (multiples of the 256-column
// decode chunk, itself a multiple of the 32-block) for every token and walks all rows over them:
// each token's output gets x[t, r] * the row's piece through the ISA's fused decode + axpy
// (plain rows are used in place; without a fused kernel the piece is decoded once, then axpy'd).
// Activations stay f32 here (no int8 quantisation).
// Per output element the rows are summed in order, as in the reference.
constexpr int64_t kTChunk = 256;

struct TransposedCall {
  void (*axpy)(float, const float*, float*, int64_t);
  void (*axpy_row)(float, const uint8_t*, int64_t, float*);  // null: dequantize_row + axpy
  const WeightView* w;
  const float* x;
  int64_t x_stride, n_tokens;
  float* y;
  int64_t y_stride;
};

// Accumulates into a private stack buffer and writes y once at the end: ranges of different
// threads may share a cache line of y at their boundary, and rewriting it for every row would
// bounce that line between cores (measured: 3x slower than one thread).
constexpr int64_t kTAccFloats = 8192;  // 32 KiB
constexpr int64_t kTMaxTokens = kTAccFloats / kTChunk;
constexpr int64_t kTMinParallelTokens = 8;

void transposed_columns(void* ctx, int64_t c0, int64_t c1) {
  const auto& c = *static_cast<const TransposedCall*>(ctx);
  const WeightView& w = *c.w;
  float buf[kTChunk];
  float acc[kTAccFloats];
  const int64_t bs = weight_block_size(w.type), bb = weight_block_bytes(w.type);
  for (int64_t t0 = 0; t0 < c.n_tokens; t0 += kTMaxTokens) {
    const int64_t nt = std::min(kTMaxTokens, c.n_tokens - t0);
    const int64_t width = kTAccFloats / nt / kTChunk * kTChunk;  // >= kTChunk
    for (int64_t s0 = c0; s0 < c1; s0 += width) {
      const int64_t s1 = std::min(c1, s0 + width), sw = s1 - s0;
      std::fill(acc, acc + nt * sw, 0.0f);
      for (int64_t r = 0; r < w.rows; ++r) {
        const uint8_t* row = w.row(r);
        for (int64_t k0 = s0; k0 < s1; k0 += kTChunk) {
          const int64_t n = std::min(kTChunk, s1 - k0);
          if (c.axpy_row) {  // decode fused into the axpy, per token
            for (int64_t t = 0; t < nt; ++t)
              c.axpy_row(c.x[(t0 + t) * c.x_stride + r], row + (k0 / bs) * bb, n, acc + t * sw + (k0 - s0));
            continue;
          }
          const float* piece = reinterpret_cast<const float*>(row) + k0;
          if (w.type != WeightType::F32) {
            dequantize_row(w.type, row + (k0 / bs) * bb, n, buf);
            piece = buf;
          }
          for (int64_t t = 0; t < nt; ++t) c.axpy(c.x[(t0 + t) * c.x_stride + r], piece, acc + t * sw + (k0 - s0), n);
        }
      }
      for (int64_t t = 0; t < nt; ++t) std::copy(acc + t * sw, acc + (t + 1) * sw, c.y + (t0 + t) * c.y_stride + s0);
    }
  }
}

void matmul_t_fast(const IsaOps& ops, const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                   float* y, int64_t y_stride) {
  if (w.cols <= 0 || n_tokens <= 0) return;
  if (w.grouped()) {  // row groups are a layout for matmul; the transposed product never meets them
    kernels::reference_kernels().matmul_t[int(w.type)](w, x, x_stride, n_tokens, y, y_stride);
    return;
  }
  TransposedCall call{ops.axpy, ops.axpy_row[int(w.type)], &w, x, x_stride, n_tokens, y, y_stride};
  // Columns are split across threads only for batches: every range reads its piece of every row,
  // and for one or a few tokens (memory-bound) the hardware prefetchers' run-ahead into the
  // other ranges' pieces costs more than the threads gain (measured 6x slower with 2 threads on a
  // 128 MiB matrix). Batches reuse each piece for every token, so they are compute-bound.
  if (n_tokens >= kTMinParallelTokens && worth_parallel(w, n_tokens))
    parallel_ranges(w.cols, kTChunk, transposed_columns, &call);
  else
    transposed_columns(&call, 0, w.cols);
}

// KernelTable entries must be plain function pointers: one instantiation per ISA and type.
// Q8_0 / Q4_0 / Q2_1 / MXFP4: the ISA's inner loop for the view's layout (row-major or row groups), or
// the scalar reference where the ISA has none (so no table entry is ever null).
template <const IsaOps& O, WeightType kType>
void matmul_q(const WeightView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys) {
  if (const QDotRowsFn qdot = qdot_for(O, w)) matmul_quantised(O, qdot, w, x, xs, n, y, ys);
  else kernels::reference_kernels().matmul[int(kType)](w, x, xs, n, y, ys);
}

template <const IsaOps& O, WeightType kType>
void matmul_f(const WeightView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys) {
  if (w.rows <= 0 || n <= 0) return;
  // Prefill batches: XNNPACK's f32 GEMM (F16/BF16 decoded to f32 per slice), measured 2-4x our
  // row-dot kernel from 128 tokens (samples/bench/xnnpack_bench.cpp). It declines (false) below
  // its token threshold, in builds without XNNPACK, with MOTE_XNNPACK=0 and on any failure.
  if (n >= kXnnMinTokens && xnn_matmul_f32(w, x, xs, n, y, ys)) return;
  FloatCall call{O.fdot[int(kType)], &w, x, xs, n, y, ys};
  run_rows(w, n, float_rows, &call);
}

template <const IsaOps& O>
void matmul_t(const WeightView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys) {
  matmul_t_fast(O, w, x, xs, n, y, ys);
}

template <const IsaOps& O>
void swiglu(const WeightView& gate, const WeightView& up, const float* x, int64_t xs, int64_t n, const uint8_t* q,
            float* out, int64_t os, float* scratch) {
  swiglu_with(O, gate, up, x, xs, n, q, out, os, scratch);
}

template <const IsaOps& O>
void rms_norm_rows(const float* x, int64_t xs, int64_t rows, const float* w, int64_t n, float eps, float* y,
                   int64_t ys, kernels::QuantizedRows* q) {
  rms_norm_with(O, x, xs, rows, w, n, eps, y, ys, q);
}

template <const IsaOps& O>
void expert_ffns(const kernels::ExpertJob* jobs, int64_t n) {
  expert_ffns_with(O, jobs, n);
}

template <const IsaOps& O>
float dot(const float* a, const float* b, int64_t n) { return O.dot(a, b, n); }
template <const IsaOps& O>
void axpy(float alpha, const float* x, float* y, int64_t n) { O.axpy(alpha, x, y, n); }

void get_row(const WeightView& w, int64_t row, float* out) { dequantize_view_piece(w, row, 0, w.cols, out); }

// Constant-initialised (only addresses), so usable from any static initialiser.
template <const IsaOps& O>
constexpr kernels::KernelTable make_table(const char* name) {
  return {name,
          {matmul_f<O, WeightType::F32>, matmul_f<O, WeightType::F16>, matmul_f<O, WeightType::BF16>,
           matmul_q<O, WeightType::Q8_0>, matmul_q<O, WeightType::Q4_0>, matmul_q<O, WeightType::MXFP4>,
           matmul_q<O, WeightType::Q2_1>},
          {matmul_t<O>, matmul_t<O>, matmul_t<O>, matmul_t<O>, matmul_t<O>, matmul_t<O>, matmul_t<O>},
          get_row,
          dot<O>,
          axpy<O>,
          swiglu<O>,
          rms_norm_rows<O>,
          expert_ffns<O>};
}

#if defined(__x86_64__)
constexpr kernels::KernelTable kAvx2Table = make_table<kAvx2Ops>("avx2");
constexpr kernels::KernelTable kAvx512Table = make_table<kAvx512Ops>("avx512");
constexpr kernels::KernelTable kAmxTable = make_table<kAmxOps>("avx512-amx");
#endif
#if defined(__aarch64__)
constexpr kernels::KernelTable kNeonTable = make_table<kNeonOps>("neon");
#endif

}  // namespace
}  // namespace mote::cpu

namespace mote::kernels {

const KernelTable* find_kernels(const char* name) {
  if (std::strcmp(name, "reference") == 0) return &reference_kernels();
  if (!cpu::cpu_supports(name)) return nullptr;
#if defined(__x86_64__)
  if (std::strcmp(name, "avx2") == 0) return &cpu::kAvx2Table;
  if (std::strcmp(name, "avx512") == 0) return &cpu::kAvx512Table;
  if (std::strcmp(name, "avx512-amx") == 0) return &cpu::kAmxTable;
#endif
#if defined(__aarch64__)
  if (std::strcmp(name, "neon") == 0) return &cpu::kNeonTable;
#endif
  return nullptr;
}

int available_kernels(const KernelTable** out, int capacity) {
  int n = 0;
  for (const char* name : {"reference", "avx2", "avx512", "avx512-amx", "neon"})
    if (const KernelTable* t = find_kernels(name); t && n < capacity) out[n++] = t;
  return n;
}

const KernelTable& default_kernels() {
  const char* env = std::getenv("MOTE_KERNELS");
  if (env && *env) {
    if (const KernelTable* t = find_kernels(env)) return *t;
    mote::log(LogLevel::kWarn, std::string("MOTE_KERNELS=") + env + " is unknown or not supported by this CPU; using reference kernels");
    return reference_kernels();
  }
  const KernelTable* all[8];
  const int n = available_kernels(all, 8);
  return *all[n - 1];
}

}  // namespace mote::kernels
