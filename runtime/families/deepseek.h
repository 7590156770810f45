// DeepSeek-V2 / V3 forward pass (as DeepSeek's inference/model.py), composed from the blocks:
//   h = embed[ids]; per layer: h += MLA(rms(h)); h += (MoE or dense MLP)(rms(h));
//   logits = rms(h; output_norm) . lm_head^T
// deepseek_mtp_forward runs the MTP module (speculative decoding drafts).
//
// All activations live in a DeepSeekScratch carved, once, out of caller-owned arenas (the
// Session's), so a forward pass never allocates. The forward only reads the Model and writes the
// scratch, the KV cache and the logits: concurrent forwards need distinct scratch and caches.
#pragma once

#include <cstdint>

#include "blocks/ffn.h"
#include "blocks/mla.h"
#include "kernels/router.h"
#include "core/status.h"
#include "model/model.h"

namespace mote::families {

enum class LogitsMode {
  kNone,  // no logits (a prefill chunk that is not the last)
  kLast,  // logits of the last token only: [vocab]
  kAll,   // logits of every token: [n_tokens, vocab]
};

struct DeepSeekScratch {
  int64_t max_tokens = 0;   // tokens per forward call
  int64_t max_context = 0;  // positions in the KV cache
  float* hidden = nullptr;  // [max_tokens, H] residual stream
  float* normed = nullptr;  // [max_tokens, H] normalised input of the current block
  float* branch = nullptr;  // [max_tokens, H] output of the current block
  float* rope_cos = nullptr;  // [max_tokens, dr/2]
  float* rope_sin = nullptr;  // [max_tokens, dr/2]
  blocks::MlaScratch mla;
  blocks::FfnScratch ffn;
  float* mtp_cat = nullptr;  // [max_tokens, 2H]: the MTP's [enorm(e); hnorm(h)] (models with MTP only)
};

// Arena sizes the scratch needs: `floats` f32 values and `ints` int32 values.
struct ScratchSize {
  int64_t floats = 0;
  int64_t ints = 0;
};
ScratchSize deepseek_scratch_size(const HParams& hp, int64_t max_tokens, int64_t max_context);
// Carves the scratch out of arenas of (at least) deepseek_scratch_size() elements.
DeepSeekScratch deepseek_carve_scratch(const HParams& hp, int64_t max_tokens, int64_t max_context,
                                       float* floats, int32_t* ints);

// Runs n_tokens tokens at positions start .. start+n_tokens-1.
// kv_cache: [n_layers][max_context][kv_cache_dim] f32; rows < start must hold the earlier tokens.
// logits: see LogitsMode (may be null for kNone).
// Errors (nothing is written): n_tokens outside [1, max_tokens], context overflow, bad token id.
// An expert read error (ExpertStore) returns its status with the KV rows >= start and the
// scratch undefined; the Model stays usable.
// final_hidden (optional): [n_tokens, H] receives every token's hidden state after the final
// norm (the MTP module's input).
Status deepseek_forward(const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start,
                        float* kv_cache, const DeepSeekScratch& s, LogitsMode mode, float* logits,
                        float* final_hidden = nullptr);

// The MTP module (as vLLM's deepseek_mtp.py runs it; the model must have one) over n_tokens
// positions start..: at position i it takes the token after i (next_ids[i] = t_{i+1}) and the main
// model's final hidden state H_i (main_hidden [n_tokens, H]), and its logits predict t_{i+2}:
//   z = eh_proj [enorm(embed(t_{i+1})); hnorm(H_i)] -> decoder block (own KV cache) -> head_norm -> head.
// mtp_cache: [max_context][kv_cache_dim], rows < start hold earlier positions. Same errors and
// contracts as deepseek_forward.
Status deepseek_mtp_forward(const Model& model, const int32_t* next_ids, const float* main_hidden, int64_t n_tokens,
                            int64_t start, float* mtp_cache, const DeepSeekScratch& s, LogitsMode mode,
                            float* logits);

}  // namespace mote::families
