// Weight products of the CUDA backend: the decode GEMV (one warp per row, or per row group of
// 16 rows; fp32 accumulation; aligned loads of the blocks as stored, no repacking), a tiled GEMM
// for prefill (64 rows x 64 tokens per block of 256 threads; each 32-column block of W decoded
// once per tile into shared memory), the transposed product, embedding rows and the SwiGLU combine.
// The arithmetic is platforms/cuda/arith.h's (tested on the CPU in tests/cuda).
#include "cuda/arith.h"
#include "cuda/launch.h"
#include "cuda/warp.cuh"

namespace mote::cuda {
namespace {

constexpr int kGemvWarps = 4;        // warps (rows or row groups) per GEMV block
constexpr int kTile = 64;            // GEMM tile: rows and tokens
constexpr int kGemmThreads = 256;    // 16 x 16 threads, 4 x 4 outputs each
static_assert(kGemmThreads == kTile * 4, "the W tile is decoded 8 values (a quarter block) per thread");
constexpr int64_t kGemvMaxTokens = 16;  // batches up to this run the GEMV (in passes of 8)

int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

// kSwiglu: `up` is the second weight (gate = w; same type, shape and layout) and the warp
// writes silu(gate . x) * (up . x) instead of w . x (decode SwiGLU in one pass over x).
template <WeightType kType, bool kGrouped, bool kSwiglu>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(WeightView w, WeightView up, const float* x,
                                                               int64_t x_stride, int nt, bool x_vec, float* y,
                                                               int64_t y_stride) {
  const int lane = int(threadIdx.x % 32);
  const int64_t unit = int64_t(blockIdx.x) * kGemvWarps + threadIdx.x / 32;
  const int64_t units = kGrouped ? w.rows / kGroupRows : w.rows;
  if (unit >= units) return;  // the whole warp leaves together
  float acc[kGemvTokens], acc_up[kGemvTokens];
  gemv_lane_partial<kType, kGrouped>(w, unit, lane, 32, x, x_stride, nt, x_vec, acc);
  if constexpr (kSwiglu) gemv_lane_partial<kType, kGrouped>(up, unit, lane, 32, x, x_stride, nt, x_vec, acc_up);
  MOTE_UNROLL
  for (int t = 0; t < kGemvTokens; ++t) {
    if constexpr (kGrouped) {
      acc[t] += __shfl_xor_sync(kFullMask, acc[t], 16);
      if constexpr (kSwiglu) acc_up[t] += __shfl_xor_sync(kFullMask, acc_up[t], 16);
    } else {
      acc[t] = warp_sum(acc[t]);
      if constexpr (kSwiglu) acc_up[t] = warp_sum(acc_up[t]);
    }
    if constexpr (kSwiglu) acc[t] = silu_times(acc[t], acc_up[t]);
  }
  if (kGrouped ? lane < kGroupRows : lane == 0) {
    const int64_t row = kGrouped ? unit * kGroupRows + lane : unit;
    MOTE_UNROLL
    for (int t = 0; t < kGemvTokens; ++t)  // constant indices: acc stays in registers
      if (t < nt) y[t * y_stride + row] = acc[t];
  }
}

template <WeightType kType, bool kGrouped>
cudaError_t launch_gemv(const WeightView& w, const WeightView* up, const float* x, int64_t x_stride, int nt, float* y,
                        int64_t y_stride, cudaStream_t stream) {
  const int64_t units = kGrouped ? w.rows / kGroupRows : w.rows;
  const bool x_vec = reinterpret_cast<uintptr_t>(x) % 16 == 0 && x_stride % 4 == 0;
  const unsigned blocks = unsigned(div_up(units, kGemvWarps));
  if (up != nullptr)
    gemv_kernel<kType, kGrouped, true><<<blocks, kGemvWarps * 32, 0, stream>>>(w, *up, x, x_stride, nt, x_vec, y, y_stride);
  else
    gemv_kernel<kType, kGrouped, false><<<blocks, kGemvWarps * 32, 0, stream>>>(w, w, x, x_stride, nt, x_vec, y, y_stride);
  return cudaGetLastError();
}

// y = w x (up null) or silu(w x) * (up x), for nt <= kGemvTokens tokens.
cudaError_t gemv(const WeightView& w, const WeightView* up, const float* x, int64_t x_stride, int nt, float* y,
                 int64_t y_stride, cudaStream_t stream) {
  const bool g = w.row_group > 1;
  switch (w.type) {
    case WeightType::F32: return launch_gemv<WeightType::F32, false>(w, up, x, x_stride, nt, y, y_stride, stream);
    case WeightType::F16: return launch_gemv<WeightType::F16, false>(w, up, x, x_stride, nt, y, y_stride, stream);
    case WeightType::BF16: return launch_gemv<WeightType::BF16, false>(w, up, x, x_stride, nt, y, y_stride, stream);
    case WeightType::MXFP4: return launch_gemv<WeightType::MXFP4, false>(w, up, x, x_stride, nt, y, y_stride, stream);
    case WeightType::Q8_0:
      return g ? launch_gemv<WeightType::Q8_0, true>(w, up, x, x_stride, nt, y, y_stride, stream)
               : launch_gemv<WeightType::Q8_0, false>(w, up, x, x_stride, nt, y, y_stride, stream);
    case WeightType::Q4_0:
      return g ? launch_gemv<WeightType::Q4_0, true>(w, up, x, x_stride, nt, y, y_stride, stream)
               : launch_gemv<WeightType::Q4_0, false>(w, up, x, x_stride, nt, y, y_stride, stream);
    case WeightType::Q2_1:
      return g ? launch_gemv<WeightType::Q2_1, true>(w, up, x, x_stride, nt, y, y_stride, stream)
               : launch_gemv<WeightType::Q2_1, false>(w, up, x, x_stride, nt, y, y_stride, stream);
  }
  return cudaErrorInvalidValue;
}

// y[t, r] for a 64-row x 64-token tile: per 32-column step, the 256 threads decode the 64 rows'
// blocks (8 values each; byte loads, any layout) into shared memory and load the tokens' 32
// columns, then each thread accumulates its 4 x 4 outputs.
__global__ void __launch_bounds__(kGemmThreads) gemm_kernel(WeightView w, const float* x, int64_t x_stride,
                                                            int64_t n_tokens, float* y, int64_t y_stride) {
  __shared__ float ws[kBlock][kTile + 1];  // [column][row]
  __shared__ float xs[kBlock][kTile + 1];  // [column][token]
  const int tid = int(threadIdx.x);
  const int64_t r0 = int64_t(blockIdx.x) * kTile, t0 = int64_t(blockIdx.y) * kTile;
  const int ty = tid / 16, tx = tid % 16;
  float acc[4][4] = {};
  const int64_t nb = n_blocks(w.cols);
  for (int64_t b = 0; b < nb; ++b) {
    {  // every thread decodes 8 values: row tid / 4, columns 8 (tid % 4) .. + 7 of the block
      const int rr = tid / 4, j0 = 8 * (tid % 4);
      const int64_t r = r0 + rr;
      for (int j = j0; j < j0 + 8; ++j) {
        const int64_t c = b * kBlock + j;
        ws[j][rr] = r < w.rows && c < w.cols ? weight_value(w, r, c) : 0.0f;
      }
    }
    for (int i = tid; i < kTile * kBlock; i += kGemmThreads) {
      const int tk = i / kBlock, j = i % kBlock;
      const int64_t t = t0 + tk, c = b * kBlock + j;
      xs[j][tk] = t < n_tokens && c < w.cols ? x[t * x_stride + c] : 0.0f;
    }
    __syncthreads();
    MOTE_UNROLL
    for (int k = 0; k < kBlock; ++k) {
      float a[4], bx[4];
      MOTE_UNROLL
      for (int i = 0; i < 4; ++i) a[i] = ws[k][ty * 4 + i];
      MOTE_UNROLL
      for (int j = 0; j < 4; ++j) bx[j] = xs[k][tx * 4 + j];
      MOTE_UNROLL
      for (int i = 0; i < 4; ++i)
        MOTE_UNROLL
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bx[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t r = r0 + ty * 4 + i, t = t0 + tx * 4 + j;
      if (r < w.rows && t < n_tokens) y[t * y_stride + r] = acc[i][j];
    }
}

// y[t, c] = sum_r x[t, r] W[r, c]: a block of 8 warps per 32 columns and 8 tokens; lane = column,
// warp k takes rows k, k + 8, ...; the 8 partial sums are added in warp order.
constexpr int kTWarps = 8;
__global__ void __launch_bounds__(kTWarps * 32) matmul_t_kernel(WeightView w, const float* x, int64_t x_stride,
                                                                int64_t n_tokens, float* y, int64_t y_stride) {
  __shared__ float part[kTWarps][kGemvTokens][32];
  const int lane = int(threadIdx.x % 32), warp = int(threadIdx.x / 32);
  const int64_t c = int64_t(blockIdx.x) * 32 + lane;
  const int64_t t0 = int64_t(blockIdx.y) * kGemvTokens;
  const int nt = int(n_tokens - t0 < kGemvTokens ? n_tokens - t0 : kGemvTokens);
  float acc[kGemvTokens] = {};
  if (c < w.cols) {
    for (int64_t r = warp; r < w.rows; r += kTWarps) {
      const float v = weight_value(w, r, c);
      for (int t = 0; t < nt; ++t) acc[t] += x[(t0 + t) * x_stride + r] * v;
    }
  }
  for (int t = 0; t < kGemvTokens; ++t) part[warp][t][lane] = acc[t];
  __syncthreads();
  if (warp == 0 && c < w.cols) {
    for (int t = 0; t < nt; ++t) {
      float s = 0.0f;
      for (int k = 0; k < kTWarps; ++k) s += part[k][t][lane];
      y[(t0 + t) * y_stride + c] = s;
    }
  }
}

struct Ids {
  int32_t v[kHostChunk];
};

__global__ void embed_kernel(WeightView table, Ids ids, float* out) {
  const int64_t t = blockIdx.y;
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < table.cols) out[t * table.cols + c] = weight_value(table, ids.v[t], c);
}

__global__ void silu_mul_kernel(float* out, int64_t out_stride, const float* up, int64_t up_stride,
                                int64_t n_tokens, int64_t width) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_tokens * width) return;
  const int64_t t = i / width, c = i % width;
  float* o = out + t * out_stride + c;
  *o = silu_times(*o, up[t * up_stride + c]);
}

}  // namespace

bool gemv_aligned(const WeightView& w) {
  uint64_t need = 1;
  if (w.row_group > 1 || w.type == WeightType::F32 || w.type == WeightType::Q2_1) need = 4;
  else if (w.type != WeightType::MXFP4) need = 2;
  return ((reinterpret_cast<uintptr_t>(w.data) | w.row_stride) % need) == 0 &&
         (w.row_group == 1 || w.row_group == kGroupRows);
}

cudaError_t matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                   int64_t y_stride, cudaStream_t stream) {
  if (n_tokens <= 0 || w.rows <= 0) return cudaSuccess;
  if (n_tokens <= kGemvMaxTokens && gemv_aligned(w)) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemvTokens) {
      const int nt = int(n_tokens - t0 < kGemvTokens ? n_tokens - t0 : kGemvTokens);
      const cudaError_t e = gemv(w, nullptr, x + t0 * x_stride, x_stride, nt, y + t0 * y_stride, y_stride, stream);
      if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
  }
  for (int64_t t0 = 0; t0 < n_tokens; t0 += 65535LL * kTile) {  // gridDim.y limit
    const int64_t nt = n_tokens - t0 < 65535LL * kTile ? n_tokens - t0 : 65535LL * kTile;
    const dim3 grid(unsigned(div_up(w.rows, kTile)), unsigned(div_up(nt, kTile)));
    gemm_kernel<<<grid, kGemmThreads, 0, stream>>>(w, x + t0 * x_stride, x_stride, nt, y + t0 * y_stride, y_stride);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

bool swiglu_fusable(const WeightView& gate, const WeightView& up, int64_t n_tokens) {
  return n_tokens > 0 && n_tokens <= kGemvMaxTokens && gate.type == up.type && gate.rows == up.rows &&
         gate.cols == up.cols && gate.row_group == up.row_group && gemv_aligned(gate) && gemv_aligned(up);
}

cudaError_t swiglu_gemv(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                        int64_t n_tokens, float* out, int64_t out_stride, cudaStream_t stream) {
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemvTokens) {
    const int nt = int(n_tokens - t0 < kGemvTokens ? n_tokens - t0 : kGemvTokens);
    const cudaError_t e = gemv(gate, &up, x + t0 * x_stride, x_stride, nt, out + t0 * out_stride, out_stride, stream);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                     int64_t y_stride, cudaStream_t stream) {
  if (n_tokens <= 0 || w.cols <= 0) return cudaSuccess;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += 65535LL * kGemvTokens) {
    const int64_t nt = n_tokens - t0 < 65535LL * kGemvTokens ? n_tokens - t0 : 65535LL * kGemvTokens;
    const dim3 grid(unsigned(div_up(w.cols, 32)), unsigned(div_up(nt, kGemvTokens)));
    matmul_t_kernel<<<grid, kTWarps * 32, 0, stream>>>(w, x + t0 * x_stride, x_stride, nt, y + t0 * y_stride,
                                                      y_stride);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out, cudaStream_t stream) {
  for (int64_t j0 = 0; j0 < n; j0 += kHostChunk) {
    const int64_t m = n - j0 < kHostChunk ? n - j0 : kHostChunk;
    Ids ids;
    for (int64_t j = 0; j < m; ++j) ids.v[j] = ids_host[j0 + j];
    const dim3 grid(unsigned(div_up(table.cols, 256)), unsigned(m));
    embed_kernel<<<grid, 256, 0, stream>>>(table, ids, out + j0 * table.cols);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t silu_mul(float* out, int64_t out_stride, const float* up, int64_t up_stride, int64_t n_tokens,
                     int64_t width, cudaStream_t stream) {
  const int64_t n = n_tokens * width;
  if (n <= 0) return cudaSuccess;
  silu_mul_kernel<<<unsigned(div_up(n, 256)), 256, 0, stream>>>(out, out_stride, up, up_stride, n_tokens, width);
  return cudaGetLastError();
}

}  // namespace mote::cuda
