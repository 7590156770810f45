// Deterministic synthetic values: a counter-based hash per (tensor key, element index), so any
// chunk of any tensor can be generated independently and reproducibly.
#pragma once

#include <cstdint>
#include <string_view>

namespace mote::synth {

enum class Dtype { BF16, F16, F32, F8_E4M3, U8 };  // U8: gpt-oss MXFP4 blocks / scales

// Bytes per element of `d`.
size_t dtype_size(Dtype d);
const char* dtype_name(Dtype d);  // safetensors spelling ("BF16", ...)

// How a tensor's values are drawn.
enum class Init {
  Linear,     // uniform, std = 1/sqrt(in_features)
  Embedding,  // uniform, std = 1
  Norm,       // 1 + uniform(-0.1, 0.1)
  Bias,       // uniform(-0.01, 0.01) (router score-correction bias)
  Fp8Weight,  // F8_E4M3 codes; real value = code * scale(block)
  Fp8Scale,   // F32 block scales of the FP8 weight they belong to
  Mxfp4Codes, // U8: two random E2M1 codes per byte (gpt-oss *_blocks)
  Mxfp4Scale, // U8 E8M0 scales near std / 3 (a random code's std is about 3), +-1 per block
};

// Skewed routing (--route-skew S): hidden channel 0 is a constant channel. Embedding rows carry
// sqrt(H) there; every matrix that writes the residual stream has zeros in row 0, so the channel
// stays sqrt(H) through the layers (RMSNorm then gives about sqrt(H/2) at the start, less as the
// other channels grow); every matrix that reads it, but the router, has zeros in column 0, so the
// channel changes nothing else (else its constant leaks through attention and the FFNs into a
// common, randomly routed component); router column 0 turns it into a per-expert logit bias
// -S * ln(1 + rank(e)) / sqrt(H/2), rank a per-tensor affine permutation of the expert ids:
// Zipf-like popularity (p ~ (1 + rank)^-S before the top-k and the per-token noise).
// MtpEhProj [H, 2H] copies the channel (row 0: sqrt(2) at column 0, enorm(embedding)'s channel 0
// of about sqrt(H/2)) and reads neither half's channel 0 elsewhere.
enum class Skew : uint8_t { None, ConstCol0, ZeroRow0, ZeroCol0, RouterCol0, EhProj };

struct ValueSpec {
  uint64_t key = 0;          // hash of (seed, tensor name)
  Init init = Init::Linear;
  uint64_t cols = 1;         // last dimension (row length)
  float std = 1.0f;          // target std of the real value
  uint64_t scale_cols = 1;   // FP8: number of 128-column blocks per row of blocks
  Skew skew = Skew::None;
  float skew_s = 0;          // RouterCol0: the Zipf exponent S
  uint64_t rows = 1;         // RouterCol0: number of experts (rows)
  // --route-locality G: rows [0, zero_rows) are 0 (attention head 0's queries: uniform attention,
  // so the head outputs the running mean of its values over the prefix); columns [0, gain_cols)
  // are scaled by `gain` (o_proj's head-0 columns: that slowly varying mean becomes a sizeable
  // part of the residual stream, and so of every later router input).
  uint64_t zero_rows = 0;
  uint64_t gain_cols = 0;
  float gain = 1;
};

// RouterCol0: the popularity rank in [0, n) of expert `e`, an affine permutation from `key`.
uint64_t route_rank(uint64_t key, uint64_t e, uint64_t n);

uint64_t splitmix64(uint64_t x);
uint64_t tensor_key(uint64_t seed, std::string_view name);

// Writes elements [begin, begin + count) of the tensor described by `v` as `dtype` into `out`
// (count * dtype_size(dtype) bytes).
void fill_values(const ValueSpec& v, Dtype dtype, uint64_t begin, uint64_t count, uint8_t* out);

// Block scale (F32, the dequantisation multiplier) of FP8 block (br, bc); `key` is the weight's.
float fp8_block_scale(uint64_t key, float std, uint64_t br, uint64_t bc, uint64_t scale_cols);

}  // namespace mote::synth
