// Upper bounds on every hyper-parameter of a .mote file, and the check of the layer count against
// the tensor table. Both run before any loop or allocation is sized by a number from the file:
// the metadata checksum is no defence (anyone can recompute it), so a crafted ModelConfig must be
// rejected in bounded time and memory, not after a 2^32-step loop or a terabyte allocation.
//
// The bounds are far above every released model (DeepSeek-V3: hidden 7168, 61 layers, 256
// experts, vocab 129280; gpt-oss: vocab 201088) and low enough that every product the runtime
// forms from them (KV cache floats, scratch sizes, expert tables) fits in int64 without overflow.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "model/hparams.h"

namespace mote {

class MoteFile;

struct HParamLimits {
  static constexpr int64_t kVocab = int64_t(1) << 22;        // tokens
  static constexpr int64_t kWidth = int64_t(1) << 17;        // hidden, intermediate, LoRA ranks
  static constexpr int64_t kLayers = 1024;                   // num_hidden_layers
  static constexpr int64_t kMtpLayers = 16;                  // num_nextn_predict_layers
  static constexpr int64_t kHeads = 1024;                    // attention / KV heads
  static constexpr int64_t kHeadDim = 4096;                  // head_dim and the MLA head dims
  static constexpr int64_t kExperts = 1 << 16;               // routed and shared experts
  static constexpr int64_t kPositions = int64_t(1) << 26;    // max_position_embeddings, windows
  static constexpr int64_t kKvCacheDim = int64_t(1) << 20;   // floats per token per layer
};

// Every integer field in [0, its bound], every float finite and in a sane range; errors name the
// field ("model config: hidden_size 4294967295 exceeds the limit 131072").
Status check_hparam_limits(const HParams& hp);

// The tensor table must hold exactly the layers the config declares: layer indices
// 0..num_hidden_layers-1 (plus the MTP layers when the file has them) and nothing beyond.
// O(tensor count); no allocation sized by the config.
Status check_layers_against_tensors(const MoteFile& file, const HParams& hp);

}  // namespace mote
