// Attention of the CUDA backend (kernels/attention.h semantics: causal, sliding window, sinks,
// GQA and MLA's latent rows, typed f16 / q8_0 rows, rings), split-K ("flash decoding"):
//   1. attention_partial_kernel: one warp per (query head, token, key split) runs
//      lane_algos.h's attention_partial (online softmax over its keys; lanes split the dims)
//      and writes (max, sum, accumulator[dv]) to the backend's workspace;
//   2. attention_merge_kernel: one block per (head, token) merges the splits (and the sink).
// Splits give a decode token (few heads, long cache) enough warps to fill the GPU; tokens are
// processed in passes when the workspace cannot hold all partial results at once.
#include "cuda/launch.h"
#include "cuda/warp.cuh"

namespace mote::cuda {
namespace {

constexpr int64_t kMaxSplits = 32;
constexpr int64_t kMinKeysPerSplit = 32;
constexpr int64_t kMaxDk = 12288;  // the query lives in shared memory (48 KiB)

__global__ void __launch_bounds__(32) attention_partial_kernel(kernels::AttentionArgs a, int64_t n_splits,
                                                               float* parts) {
  extern __shared__ float q_buf[];
  const int64_t h = blockIdx.x, t = blockIdx.y, s = blockIdx.z;
  float* part = parts + ((t * a.n_heads + h) * n_splits + s) * attn_part_floats(a.dv);
  attention_partial(WarpLanes{}, a, t, h, s, n_splits, q_buf, part);
}

__global__ void attention_merge_kernel(kernels::AttentionArgs a, int64_t n_splits, const float* parts) {
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const int64_t pf = attn_part_floats(a.dv);
  const float* p = parts + (t * a.n_heads + h) * n_splits * pf;
  float* out = a.out + t * a.out_token_stride + h * a.out_head_stride;
  const float* sink = a.sinks != nullptr ? a.sinks + h : nullptr;
  for (int64_t d = threadIdx.x; d < a.dv; d += blockDim.x) out[d] = attention_merge(p, n_splits, pf, sink, d);
}

int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

cudaError_t attention(const kernels::AttentionArgs& a, float* work, int64_t work_floats, int sm_count,
                      cudaStream_t stream) {
  const int64_t T = a.n_tokens, H = a.n_heads;
  if (T <= 0 || H <= 0) return cudaSuccess;
  if (a.dk > kMaxDk || a.n_kv_heads <= 0 || H % a.n_kv_heads != 0 || H > 65535) return cudaErrorInvalidValue;
  const int64_t pf = attn_part_floats(a.dv);
  const int64_t last = a.start + T;  // keys of the last token (the most any token has)
  const int64_t max_keys = a.window > 0 && a.window < last ? a.window : last;
  int64_t splits = div_up(int64_t(sm_count > 0 ? sm_count : 1) * 16, T * H);
  splits = splits < kMaxSplits ? splits : kMaxSplits;
  const int64_t by_keys = div_up(max_keys, kMinKeysPerSplit);
  splits = splits < by_keys ? splits : by_keys;
  if (splits < 1) splits = 1;
  if (H * splits * pf > work_floats) splits = work_floats / (H * pf);
  if (splits < 1) return cudaErrorMemoryAllocation;  // workspace too small for one token
  int64_t per_pass = work_floats / (H * splits * pf);
  per_pass = per_pass < 65535 ? per_pass : 65535;
  for (int64_t t0 = 0; t0 < T; t0 += per_pass) {
    kernels::AttentionArgs sub = a;
    sub.n_tokens = T - t0 < per_pass ? T - t0 : per_pass;
    sub.start = a.start + t0;
    sub.q = a.q + t0 * a.q_token_stride;
    if (a.q2 != nullptr) sub.q2 = a.q2 + t0 * a.q2_token_stride;
    sub.out = a.out + t0 * a.out_token_stride;
    const dim3 grid(unsigned(H), unsigned(sub.n_tokens), unsigned(splits));
    attention_partial_kernel<<<grid, 32, size_t(a.dk) * sizeof(float), stream>>>(sub, splits, work);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    attention_merge_kernel<<<dim3(unsigned(H), unsigned(sub.n_tokens)), 128, 0, stream>>>(sub, splits, work);
    e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace mote::cuda
