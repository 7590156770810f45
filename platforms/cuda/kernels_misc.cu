// The CUDA backend's norms, elementwise steps, routed-token gather / scatter, RoPE, router and
// KV-row stores (Backend ops of runtime/backend/backend.h). Simple one-element-per-thread or
// one-block-per-row kernels with fp32 reductions; the arithmetic is platforms/cuda/arith.h's and
// lane_algos.h's. Host arrays (token ids, slot weights, RoPE frequencies) travel by value in the
// kernel parameters, kHostChunk entries per launch.
#include "cuda/launch.h"
#include "cuda/warp.cuh"

namespace mote::cuda {
namespace {

int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }
unsigned blocks_for(int64_t n, int threads) { return unsigned(div_up(n, threads)); }

// One block of 128 threads per piece (row r, head h): y = w * (x / sqrt(mean(x^2) + eps)).
__global__ void __launch_bounds__(128) rms_norm_kernel(const float* x, int64_t row_stride, int64_t heads,
                                                       int64_t piece_stride, const float* w, int64_t n, float eps,
                                                       float* y, int64_t y_row_stride) {
  __shared__ float shared[32];
  const int64_t r = blockIdx.x / heads, h = blockIdx.x % heads;
  const float* xp = x + r * row_stride + h * piece_stride;
  float* yp = y + r * y_row_stride + h * piece_stride;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += xp[i] * xp[i];
  s = block_sum(s, shared);
  const float inv = 1.0f / sqrtf(s / float(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yp[i] = w[i] * (xp[i] * inv);
}

__global__ void add_bias_kernel(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n_rows * n) rows[(i / n) * stride + i % n] += bias[i % n];
}

__global__ void add_kernel(float* h, const float* b, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) h[i] += b[i];
}

__global__ void clamped_swiglu_kernel(float* gate, const float* up, int64_t n, float alpha, float limit) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) gate[i] = clamped_swiglu(gate[i], up[i], alpha, limit);
}

__global__ void add_sigmoid_gated_kernel(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                                         int64_t hidden) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_tokens * hidden) return;
  const float g = 1.0f / (1.0f + expf(-gate_logit[i / hidden]));
  out[i] += g * rows[i];
}

struct Tokens {
  int32_t v[kHostChunk];
};
struct Slots {
  int32_t token[kHostChunk];
  float weight[kHostChunk];
};

// dst row j = src row tokens[j]; kWords: rows are whole, 4-byte aligned words.
template <bool kWords>
__global__ void gather_kernel(const uint8_t* src, int64_t row_bytes, Tokens tokens, uint8_t* dst) {
  const int64_t j = blockIdx.y;
  const uint8_t* s = src + int64_t(tokens.v[j]) * row_bytes;
  uint8_t* d = dst + j * row_bytes;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  if constexpr (kWords) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < row_bytes / 4; i += stride)
      reinterpret_cast<uint32_t*>(d)[i] = reinterpret_cast<const uint32_t*>(s)[i];
  } else {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < row_bytes; i += stride) d[i] = s[i];
  }
}

// out row token[j] += weight[j] * rows row j, j in order (one thread per column: no races
// when a token repeats, and the same order as the CPU).
__global__ void scatter_kernel(const float* rows, Slots slots, int64_t n, int64_t hidden, float* out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= hidden) return;
  for (int64_t j = 0; j < n; ++j) out[int64_t(slots.token[j]) * hidden + i] += slots.weight[j] * rows[j * hidden + i];
}

__global__ void copy_rows_kernel(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                                 int64_t dst_stride) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n_rows * n) dst[(i / n) * dst_stride + i % n] = src[(i / n) * src_stride + i % n];
}

struct Freqs {
  float v[kMaxRopeHalf];
};

// The angle in fp32 as the CPU forms it, cos / sin in double, then * attention_factor.
__global__ void rope_tables_kernel(Freqs f, int64_t half, float factor, int64_t start, int64_t n_tokens, float* cos,
                                   float* sin) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_tokens * half) return;
  const float angle = mul_rn(float(start + i / half), f.v[i % half]);
  cos[i] = mul_rn(float(::cos(double(angle))), factor);
  sin[i] = mul_rn(float(::sin(double(angle))), factor);
}

__global__ void rope_kernel(bool interleaved, float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                            int64_t piece_stride, int64_t half, const float* cos, const float* sin) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * heads * half) return;
  const int64_t j = i % half, h = (i / half) % heads, t = i / (half * heads);
  float* p = x + t * row_stride + h * piece_stride;
  float* a = interleaved ? p + 2 * j : p + j;
  float* b = interleaved ? p + 2 * j + 1 : p + j + half;
  float va = *a, vb = *b;
  rope_pair(va, vb, cos[t * half + j], sin[t * half + j]);
  *a = va;
  *b = vb;
}

// One warp per token; scratch (2E + n_group floats) in shared memory.
__global__ void __launch_bounds__(32) route_kernel(kernels::RouterParams p, const float* logits, const float* bias,
                                                   int32_t* idx, float* weights) {
  extern __shared__ float scratch[];
  const int64_t t = blockIdx.x;
  route_token(WarpLanes{}, p, logits + t * p.n_experts, bias, scratch, scratch + p.n_experts, scratch + 2 * p.n_experts,
              idx + t * p.top_k, weights + t * p.top_k);
}

__global__ void store_f32_kernel(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                                 int64_t dst_stride) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * n) return;
  const uint32_t u = f32_bits(src[(i / n) * src_stride + i % n]);
  uint8_t* d = dst + (i / n) * dst_stride + 4 * (i % n);
  for (int k = 0; k < 4; ++k) d[k] = uint8_t(u >> (8 * k));
}

__global__ void store_f16_kernel(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                                 int64_t dst_stride) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * n) return;
  const uint32_t h = f32_to_f16(src[(i / n) * src_stride + i % n]);
  uint8_t* d = dst + (i / n) * dst_stride + 2 * (i % n);
  d[0] = uint8_t(h);
  d[1] = uint8_t(h >> 8);
}

// One warp per (row, q8_0 block): lane i quantises value i; amax by warp fmaxf (NaN skipped).
__global__ void __launch_bounds__(32) store_q8_kernel(const float* src, int64_t src_stride, int64_t n,
                                                      int64_t n_blocks_row, uint8_t* dst, int64_t dst_stride) {
  const int64_t r = blockIdx.x / n_blocks_row, b = blockIdx.x % n_blocks_row;
  const int lane = int(threadIdx.x);
  const int64_t c = b * 32 + lane;
  const float x = c < n ? src[r * src_stride + c] : 0.0f;
  const float amax = warp_max(fabsf(x));
  const float d = kv_q8_scale(amax), inv = kv_q8_inverse(d);
  uint8_t* block = dst + r * dst_stride + b * 36;
  if (lane < 4) block[lane] = uint8_t(f32_bits(d) >> (8 * lane));
  block[4 + lane] = uint8_t(c < n ? kv_q8_code(x, inv) : 0);
}

}  // namespace

cudaError_t rms_norm(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
                     const float* w, int64_t n, float eps, float* y, int64_t y_row_stride, cudaStream_t stream) {
  if (n_rows * heads <= 0) return cudaSuccess;
  rms_norm_kernel<<<unsigned(n_rows * heads), 128, 0, stream>>>(x, row_stride, heads, piece_stride, w, n, eps, y,
                                                                 y_row_stride);
  return cudaGetLastError();
}

cudaError_t add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n, cudaStream_t stream) {
  if (n_rows * n <= 0) return cudaSuccess;
  add_bias_kernel<<<blocks_for(n_rows * n, 256), 256, 0, stream>>>(rows, n_rows, stride, bias, n);
  return cudaGetLastError();
}

cudaError_t add(float* h, const float* b, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  add_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(h, b, n);
  return cudaGetLastError();
}

cudaError_t clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit,
                                   cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  clamped_swiglu_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(gate, up, n, alpha, limit);
  return cudaGetLastError();
}

cudaError_t add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                              int64_t hidden, cudaStream_t stream) {
  if (n_tokens * hidden <= 0) return cudaSuccess;
  add_sigmoid_gated_kernel<<<blocks_for(n_tokens * hidden, 256), 256, 0, stream>>>(out, rows, gate_logit, n_tokens,
                                                                                  hidden);
  return cudaGetLastError();
}

cudaError_t gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n, void* dst,
                        cudaStream_t stream) {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const bool words = row_bytes % 4 == 0 && (reinterpret_cast<uintptr_t>(s) | reinterpret_cast<uintptr_t>(d)) % 4 == 0;
  const int64_t units = words ? row_bytes / 4 : row_bytes;
  for (int64_t j0 = 0; j0 < n; j0 += kHostChunk) {
    const int64_t m = n - j0 < kHostChunk ? n - j0 : kHostChunk;
    Tokens tokens;
    for (int64_t j = 0; j < m; ++j) tokens.v[j] = token_host[j0 + j];
    const dim3 grid(blocks_for(units < 256 * 64 ? units : 256 * 64, 256), unsigned(m));
    if (words) gather_kernel<true><<<grid, 256, 0, stream>>>(s, row_bytes, tokens, d + j0 * row_bytes);
    else gather_kernel<false><<<grid, 256, 0, stream>>>(s, row_bytes, tokens, d + j0 * row_bytes);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host, int64_t n,
                               int64_t hidden, float* out, cudaStream_t stream) {
  for (int64_t j0 = 0; j0 < n; j0 += kHostChunk) {
    const int64_t m = n - j0 < kHostChunk ? n - j0 : kHostChunk;
    Slots slots;
    for (int64_t j = 0; j < m; ++j) {
      slots.token[j] = token_host[j0 + j];
      slots.weight[j] = weight_host[j0 + j];
    }
    scatter_kernel<<<blocks_for(hidden, 256), 256, 0, stream>>>(rows + j0 * hidden, slots, m, hidden, out);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                      int64_t dst_stride, cudaStream_t stream) {
  if (n_rows * n <= 0) return cudaSuccess;
  copy_rows_kernel<<<blocks_for(n_rows * n, 256), 256, 0, stream>>>(src, src_stride, n_rows, n, dst, dst_stride);
  return cudaGetLastError();
}

cudaError_t rope_tables(const float* inv_freq_host, int64_t half, float attention_factor, int64_t start,
                        int64_t n_tokens, float* cos, float* sin, cudaStream_t stream) {
  if (half > kMaxRopeHalf) return cudaErrorInvalidValue;
  if (half <= 0 || n_tokens <= 0) return cudaSuccess;
  Freqs f;
  for (int64_t j = 0; j < half; ++j) f.v[j] = inv_freq_host[j];
  rope_tables_kernel<<<blocks_for(n_tokens * half, 256), 256, 0, stream>>>(f, half, attention_factor, start, n_tokens,
                                                                          cos, sin);
  return cudaGetLastError();
}

cudaError_t rope(bool interleaved, float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
                 int64_t dim, const float* cos, const float* sin, cudaStream_t stream) {
  const int64_t half = dim / 2;
  if (n_rows * heads * half <= 0) return cudaSuccess;
  rope_kernel<<<blocks_for(n_rows * heads * half, 256), 256, 0, stream>>>(interleaved, x, row_stride, n_rows, heads,
                                                                         piece_stride, half, cos, sin);
  return cudaGetLastError();
}

cudaError_t route(const kernels::RouterParams& p, const float* logits, const float* bias, int64_t n_tokens,
                  int32_t* idx, float* weights, cudaStream_t stream) {
  if (n_tokens <= 0) return cudaSuccess;
  const size_t shared = size_t(p.scratch_size()) * sizeof(float);
  if (shared > 48 * 1024 || p.n_experts <= 0 || p.top_k > p.n_experts) return cudaErrorInvalidValue;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += 65535) {
    const int64_t m = n_tokens - t0 < 65535 ? n_tokens - t0 : 65535;
    route_kernel<<<unsigned(m), 32, shared, stream>>>(p, logits + t0 * p.n_experts, bias, idx + t0 * p.top_k,
                                                      weights + t0 * p.top_k);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                     int64_t dst_stride, cudaStream_t stream) {
  if (n_rows * n <= 0) return cudaSuccess;
  switch (type) {
    case KvType::kF32:
      store_f32_kernel<<<blocks_for(n_rows * n, 256), 256, 0, stream>>>(src, src_stride, n_rows, n, dst, dst_stride);
      break;
    case KvType::kF16:
      store_f16_kernel<<<blocks_for(n_rows * n, 256), 256, 0, stream>>>(src, src_stride, n_rows, n, dst, dst_stride);
      break;
    case KvType::kQ8_0: {
      const int64_t nb = div_up(n, 32);
      store_q8_kernel<<<unsigned(n_rows * nb), 32, 0, stream>>>(src, src_stride, n, nb, dst, dst_stride);
      break;
    }
  }
  return cudaGetLastError();
}

}  // namespace mote::cuda
