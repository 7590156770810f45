// Host entry points of the CUDA kernels (platforms/cuda/kernels_*.cu), one per Backend op
// family. Each enqueues its kernels on `stream` and returns the launch status; none
// synchronises or allocates. Pointers are device memory unless named *_host (small host arrays
// that travel inside the kernel parameters, at most kHostChunk entries per launch: the launchers
// loop over chunks). Shapes and semantics are the Backend ops' (runtime/backend/backend.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/kv_type.h"
#include "core/tensor.h"
#include "kernels/attention.h"
#include "kernels/router.h"

namespace mote::cuda {

// Host-array entries passed by value in one launch (2 KiB of token ids and weights).
constexpr int kHostChunk = 256;
// Widest rope table row (dim / 2) rope_tables takes (the inverse frequencies travel by value).
constexpr int64_t kMaxRopeHalf = 512;

// ---- kernels_matmul.cu ----
cudaError_t matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                   int64_t y_stride, cudaStream_t stream);
cudaError_t matmul_t(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                     int64_t y_stride, cudaStream_t stream);
cudaError_t embed(const WeightView& table, const int32_t* ids_host, int64_t n, float* out, cudaStream_t stream);
// out[t * out_stride + i] = silu(out[..]) * up[t * up_stride + i], i < width.
cudaError_t silu_mul(float* out, int64_t out_stride, const float* up, int64_t up_stride, int64_t n_tokens,
                     int64_t width, cudaStream_t stream);
// Whether matmul's decode GEMV may use aligned loads on w (else it takes the tiled path).
bool gemv_aligned(const WeightView& w);
// Decode SwiGLU in one GEMV pass: out[t * out_stride + i] = silu(gate_i . x_t) * (up_i . x_t),
// when swiglu_fusable (<= 16 tokens, gate and up of one type, shape and layout, aligned).
bool swiglu_fusable(const WeightView& gate, const WeightView& up, int64_t n_tokens);
cudaError_t swiglu_gemv(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                        int64_t n_tokens, float* out, int64_t out_stride, cudaStream_t stream);

// ---- kernels_attention.cu ----
// work: backend-owned device scratch of work_floats floats for the split partial results.
cudaError_t attention(const kernels::AttentionArgs& a, float* work, int64_t work_floats, int sm_count,
                      cudaStream_t stream);

// ---- kernels_misc.cu ----
// Pieces of n floats: `heads` per row, piece_stride apart, rows row_stride / y_row_stride apart.
cudaError_t rms_norm(const float* x, int64_t row_stride, int64_t n_rows, int64_t heads, int64_t piece_stride,
                     const float* w, int64_t n, float eps, float* y, int64_t y_row_stride, cudaStream_t stream);
cudaError_t add_bias(float* rows, int64_t n_rows, int64_t stride, const float* bias, int64_t n, cudaStream_t stream);
cudaError_t add(float* h, const float* b, int64_t n, cudaStream_t stream);
cudaError_t clamped_swiglu_combine(float* gate, const float* up, int64_t n, float alpha, float limit,
                                   cudaStream_t stream);
cudaError_t add_sigmoid_gated(float* out, const float* rows, const float* gate_logit, int64_t n_tokens,
                              int64_t hidden, cudaStream_t stream);
cudaError_t gather_rows(const void* src, int64_t row_bytes, const int32_t* token_host, int64_t n, void* dst,
                        cudaStream_t stream);
cudaError_t scatter_add_scaled(const float* rows, const int32_t* token_host, const float* weight_host, int64_t n,
                               int64_t hidden, float* out, cudaStream_t stream);
cudaError_t copy_rows(const float* src, int64_t src_stride, int64_t n_rows, int64_t n, float* dst,
                      int64_t dst_stride, cudaStream_t stream);
// inv_freq_host: [half] (half <= kMaxRopeHalf).
cudaError_t rope_tables(const float* inv_freq_host, int64_t half, float attention_factor, int64_t start,
                        int64_t n_tokens, float* cos, float* sin, cudaStream_t stream);
// interleaved: DeepSeek's (2j, 2j+1) pairs; else the half-rotated (j, j + dim/2) pairs.
cudaError_t rope(bool interleaved, float* x, int64_t row_stride, int64_t n_rows, int64_t heads,
                 int64_t piece_stride, int64_t dim, const float* cos, const float* sin, cudaStream_t stream);
cudaError_t route(const kernels::RouterParams& p, const float* logits, const float* bias, int64_t n_tokens,
                  int32_t* idx, float* weights, cudaStream_t stream);
cudaError_t store_kv(KvType type, const float* src, int64_t src_stride, int64_t n_rows, int64_t n, uint8_t* dst,
                     int64_t dst_stride, cudaStream_t stream);

}  // namespace mote::cuda
