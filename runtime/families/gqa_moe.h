// The forward pass of the grouped-query-attention families: Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE
// and the dense Llama / Qwen2 (DeepSeek-R1 distills). They share one decoder,
// parameterised by HParams rather than copied:
//   h = embed[ids]; per layer: h += GQA(rms(h)); h += FFN(rms(h)); logits = rms(h) . lm_head^T
// where FFN is the routed MoE (+ shared expert) or, in the dense families, one SwiGLU MLP.
// Family features come from the file's config: q/k norm kind (Qwen3 per head, OLMoE whole
// projection), q/k/v biases (Qwen2-MoE, Qwen2), sliding window (Mixtral), Llama-3 rope scaling (in
// HParams::rope), router normalisation (norm_topk_prob: Mixtral and Qwen3 yes, OLMoE and Qwen2-MoE
// no), the shared expert, and gpt-oss's pieces (as openai/gpt-oss's torch/model.py): o_proj bias
// and attention sinks (AttentionWeights), the sliding window on the layers HParams::layer_sliding
// marks, softmax over the selected biased router logits, and MXFP4 experts with biases through the
// clamped SwiGLU (FfnWeights::swiglu_limit). Routed experts go through blocks::moe_ffn and the
// Model's ExpertStore, as for DeepSeek (with the same next-layer prefetch hint), so the expert
// budget works the same for every family.
//
// All activations live in a GqaMoeScratch carved once out of caller-owned arenas, so a forward
// never allocates. Thread-safety as deepseek_forward: distinct scratch and caches per caller.
#pragma once

#include <cstdint>

#include "blocks/ffn.h"
#include "blocks/gqa_attention.h"
#include "core/status.h"
#include "families/deepseek.h"  // LogitsMode, ScratchSize
#include "model/model.h"

namespace mote::families {

struct GqaMoeScratch {
  int64_t max_tokens = 0;     // tokens per forward call
  int64_t max_context = 0;    // positions in the KV cache
  float* hidden = nullptr;    // [max_tokens, H] residual stream
  float* normed = nullptr;    // [max_tokens, H] normalised input of the current block
  float* branch = nullptr;    // [max_tokens, H] output of the current block
  float* rope_cos = nullptr;  // [max_tokens, hd/2]
  float* rope_sin = nullptr;  // [max_tokens, hd/2]
  blocks::GqaScratch attn;
  blocks::FfnScratch ffn;
};

// Arena sizes (f32 and int32 elements) the scratch needs.
ScratchSize gqa_moe_scratch_size(const HParams& hp, int64_t max_tokens, int64_t max_context);
// Carves the scratch out of arenas of (at least) gqa_moe_scratch_size() elements.
GqaMoeScratch gqa_moe_carve_scratch(const HParams& hp, int64_t max_tokens, int64_t max_context, float* floats,
                                    int32_t* ints);

// Runs n_tokens tokens at positions start .. start+n_tokens-1.
// kv_cache: [n_layers][max_context][kv_cache_dim] f32 (K then V per row); rows < start must hold
// the earlier tokens. logits: see LogitsMode (may be null for kNone).
// Errors (nothing is written): n_tokens outside [1, max_tokens], context overflow, bad token id;
// an expert read error returns its status with the KV rows >= start undefined.
Status gqa_moe_forward(const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start, float* kv_cache,
                       const GqaMoeScratch& s, LogitsMode mode, float* logits);

}  // namespace mote::families
