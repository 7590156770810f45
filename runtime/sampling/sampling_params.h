// SamplingParams: how a Sampler turns logits into a token. Defaults give greedy decoding with
// every filter and penalty off. Field semantics follow llama.cpp / Hugging Face so that settings
// carry over from those tools unchanged.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace mote {

struct SamplingParams {
  // Softmax temperature, applied after the filters. 0 = greedy (argmax after penalties, ties to
  // the lowest id); must be finite and >= 0.
  float temperature = 0.0f;
  // Keep the k highest logits (ties broken towards the lowest id). 0 = off; must be >= 0.
  int32_t top_k = 0;
  // Nucleus: keep the smallest set of most probable tokens whose probability (softmax at
  // temperature 1 over the tokens top-k kept) reaches top_p. In (0, 1]; 1 = off.
  float top_p = 1.0f;
  // Keep tokens whose probability is >= min_p * the top token's probability. In [0, 1]; 0 = off.
  float min_p = 0.0f;
  // CTRL / Hugging Face repetition penalty over the tokens in the window: a positive logit is
  // divided by it, a negative one multiplied. Must be finite and > 0; 1 = off.
  float repetition_penalty = 1.0f;
  // OpenAI style, per token in the window: logit -= presence_penalty (once) +
  // frequency_penalty * (times it occurs). Must be finite; 0 = off; negative values encourage.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  // How many of the most recent accepted tokens the penalties look at. 0 = none (penalties
  // off), -1 = the whole context since the last reset(). At most kMaxPenaltyWindow.
  int32_t penalty_last_n = 64;
  // Seed of the sampler's PRNG (xoshiro256**). Same seed, params and logits -> same tokens on
  // every platform. A caller that wants fresh randomness picks a random seed itself.
  uint64_t seed = 0;

  static constexpr int32_t kMaxPenaltyWindow = 1 << 24;

  // True when any penalty would change a logit (and penalty_last_n != 0).
  bool penalties_enabled() const {
    return penalty_last_n != 0 &&
           (repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f);
  }

  // kInvalidArgument naming the first field out of range (NaN is out of every range).
  Status validate() const;
};

}  // namespace mote
