// Rotary position embedding in its two layouts: DeepSeek's interleaved pairs
// (x[2j], x[2j+1]) and the half-rotated NeoX pairs (x[j], x[j+dim/2]) of Mixtral, Qwen and
// OLMoE, each rotated by theta_j = pos * inv_freq[j], with YaRN frequencies and the cos/sin
// multiplier (RopeParams, precomputed at load). Pure functions on caller-owned buffers;
// thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace mote {

// Rotary embedding on the qk_rope_head_dim dims (DeepSeek: interleaved pairs) or the whole
// head_dim (GQA families: half-rotated), with YaRN frequencies when configured (below).
struct RopeParams {
  int64_t dim = 0;                // rotary dims (even)
  std::vector<float> inv_freq;    // [dim / 2], YaRN-blended when yarn
  float attention_factor = 1.0f;  // multiplies both cos and sin (HF "attention_scaling")
  bool yarn = false;
  double yarn_low = 0, yarn_high = 0;  // correction range after floor/ceil and clamping
};

}  // namespace mote

namespace mote::kernels {

// cos/sin tables for positions start_pos .. start_pos+n_tokens-1:
// cos[t * dim/2 + j] = cos(pos_t * inv_freq[j]) * attention_factor (sin likewise).
// The angle is formed in fp32 as HF does (float(pos) * inv_freq).
void rope_tables(const RopeParams& rope, int64_t start_pos, int64_t n_tokens, float* cos, float* sin);

// Rotates x[0..dim) in place with one token's table row (cos, sin: [dim/2]):
// x'[2j] = x[2j] c - x[2j+1] s ; x'[2j+1] = x[2j] s + x[2j+1] c.
void rope_interleaved(float* x, int64_t dim, const float* cos, const float* sin);

// The half-rotated layout (HF rotate_half), same table row:
// x'[j] = x[j] c - x[j+dim/2] s ; x'[j+dim/2] = x[j+dim/2] c + x[j] s.
void rope_half(float* x, int64_t dim, const float* cos, const float* sin);

}  // namespace mote::kernels
