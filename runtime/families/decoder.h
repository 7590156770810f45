// The decoder: one pre-norm transformer forward for every family the runtime supports, over the
// backend seam (backend/backend.h):
//   h = embed[ids]; per layer: h += Attention(rms(h)); h += FFN(rms(h)); logits = rms(h) . lm_head^T
// with the variants a model's family names (decoder_variants): attention MLA (DeepSeek-V2/V3,
// absorbed, blocks/mla.h) or GQA (Mixtral, Qwen2/3(-MoE), OLMoE, Llama, gpt-oss: window, sinks,
// q/k norms, biases; blocks/gqa_attention.h); FFN dense SwiGLU or the routed MoE with shared and
// gated-shared experts, plain or clamped (gpt-oss) SwiGLU experts (blocks/ffn.h), with the
// next layer's expert prefetch hint. mtp_forward runs DeepSeek-V3's MTP module.
//
// Memory: every activation lives in a DecoderScratch carved once out of a caller-owned device
// arena (Backend::alloc) and a small host arena (routed ids and weights, the slot sort), so a
// forward never allocates. Attention state is one LayerCache per layer (blocks/layer_cache.h).
// The decoder never reads or writes device memory itself: it computes addresses and calls
// backend ops; logits go straight to the caller's host buffer when the backend's memory is
// unified, else through a device buffer and Backend::download.
//
// Thread-safety: the forward only reads the Model and writes the scratch, the caches and the
// logits: concurrent forwards need distinct scratch and caches.
#pragma once

#include <cstdint>
#include <span>

#include "backend/backend.h"
#include "blocks/ffn.h"
#include "blocks/gqa_attention.h"
#include "blocks/layer_cache.h"
#include "blocks/mla.h"
#include "core/status.h"
#include "families/draft_gate.h"
#include "model/family.h"
#include "model/model.h"

namespace mote::families {

using blocks::LayerCache;

enum class LogitsMode {
  kNone,  // no logits (a prefill chunk that is not the last)
  kLast,  // logits of the last token only: [vocab]
  kAll,   // logits of every token: [n_tokens, vocab]
};

// The variant of each decoder part a model runs.
struct DecoderVariants {
  AttentionKind attention = AttentionKind::kMla;
  RopeStyle rope = RopeStyle::kInterleaved;
  ExpertKind experts = ExpertKind::kSwiglu;
};
// From the model's family (model/family.h, find_family(hp.arch)).
DecoderVariants decoder_variants(const HParams& hp);

struct DecoderScratch {
  int64_t max_tokens = 0;     // tokens per forward call
  int64_t max_context = 0;    // positions in each LayerCache
  DecoderVariants variants;
  // Device memory.
  float* hidden = nullptr;    // [max_tokens, H] residual stream
  float* normed = nullptr;    // [max_tokens, H] normalised input of the current block
  float* branch = nullptr;    // [max_tokens, H] output of the current block
  float* rope_cos = nullptr;  // [max_tokens, rope dim / 2]
  float* rope_sin = nullptr;  // [max_tokens, rope dim / 2]
  blocks::MlaScratch mla;     // MLA models only
  blocks::GqaScratch gqa;     // GQA models only
  blocks::FfnScratch ffn;     // device buffers and the host arrays (FfnScratch's HOST part)
  float* mtp_cat = nullptr;   // [max_tokens, 2H]: the MTP's [enorm(e); hnorm(h)] (models with MTP only)
  float* logits = nullptr;    // [max_tokens, vocab] when the backend's memory is not unified, else null
  // Set by the caller for one two-row verify forward under an expert budget (draft_gate.h), else
  // null. The forward may then drop row 1 part-way (draft_gate->dropped).
  DraftRowGate* draft_gate = nullptr;
};

// Arena bytes a DecoderScratch needs (each piece 64-byte aligned).
struct ScratchSize {
  uint64_t device_bytes = 0;
  uint64_t host_bytes = 0;
};
ScratchSize decoder_scratch_size(const backend::Backend& b, const HParams& hp, int64_t max_tokens,
                                 int64_t max_context);
// Carves the scratch out of a device arena (b.alloc) and a host arena of (at least)
// decoder_scratch_size() bytes, both 64-byte aligned.
DecoderScratch carve_decoder_scratch(const backend::Backend& b, const HParams& hp, int64_t max_tokens,
                                     int64_t max_context, void* device, void* host);

// Runs n_tokens tokens (ids: host) at positions start .. start+n_tokens-1.
// caches: one per layer (hp.n_layers); rows < start must hold the earlier tokens.
// logits: host, see LogitsMode (may be null for kNone).
// final_hidden (optional, device): [n_tokens, H] receives every token's hidden state after the
// final norm (the MTP module's input).
// Errors (nothing is written): n_tokens outside [1, max_tokens], context overflow, bad token id.
// An expert read error (ExpertStore) returns its status with the cache rows >= start and the
// scratch undefined; the Model stays usable.
Status forward(const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start,
               std::span<const LayerCache> caches, const DecoderScratch& s, LogitsMode mode, float* logits,
               float* final_hidden = nullptr);

// forward with an explicit family: its own_forward when it has one, else the shared decoder.
// forward() passes find_family(model's arch); tests pass a spec of their own.
Status forward_as(const FamilySpec& family, const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start,
                  std::span<const LayerCache> caches, const DecoderScratch& s, LogitsMode mode, float* logits,
                  float* final_hidden = nullptr);

// The MTP module (as vLLM's deepseek_mtp.py runs it; the model must have one) over n_tokens
// positions start..: at position i it takes the token after i (next_ids[i] = t_{i+1}, host) and
// the main model's final hidden state H_i (main_hidden [n_tokens, H], device), and its logits
// predict t_{i+2}:
//   z = eh_proj [enorm(embed(t_{i+1})); hnorm(H_i)] -> decoder block (own cache) -> head_norm -> head.
// mtp_cache: the MTP block's rows; rows < start hold earlier positions. Same errors and contracts
// as forward.
Status mtp_forward(const Model& model, const int32_t* next_ids, const float* main_hidden, int64_t n_tokens,
                   int64_t start, const LayerCache& mtp_cache, const DecoderScratch& s, LogitsMode mode,
                   float* logits);

}  // namespace mote::families
