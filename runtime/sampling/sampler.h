// Sampler: turns one position's logits into a token id. Applies, in llama.cpp's order,
//   penalties (repetition, presence, frequency; over the recent accepted tokens)
//   -> top-k -> top-p -> min-p -> temperature -> a draw from the sampler's own seeded PRNG,
// or, at temperature 0, the argmax after the penalties (ties: lowest id).
//
// top-p and min-p see the distribution at temperature 1 (as in llama.cpp); temperature only
// reshapes what the filters kept. Same seed, params, history and logits -> same tokens: the
// PRNG (rng.h) is our own and gives the same stream everywhere, ties are broken by id, and the
// kept set is walked in id order. (Probabilities use std::exp, so another libm may differ in
// the last ulp; that changes a draw only when it lands within an ulp of a boundary.)
//
// Cost per call on a vocab of n: a few O(n) passes and one exp per surviving token (plus one
// per token with top-p); nothing is sorted. A small top-k (k <= n/8) is one compare per token
// against a running threshold; a larger top-k and top-p find their cut with CutFinder
// (candidates.h). Every filter keeps the kept set in id order, the canonical order the draw
// walks. Every buffer is allocated in create(): sample(), distribution(), accept(),
// probabilities() and reset() never allocate.
//
// Usage in a decode loop:
//   auto s = Sampler::create(params, vocab);  s->accept_prompt(prompt);
//   loop: id = s->sample(logits); s->accept(id); session.decode(id, logits);
// sample() does not record the token it returns (speculative decoding may reject it): call
// accept() for every token that enters the context.
//
// Ownership: owns its buffers; movable, not copyable. Thread-safety: none; one per sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "sampling/candidates.h"
#include "sampling/penalty_window.h"
#include "sampling/rng.h"
#include "sampling/sampling_params.h"

namespace mote {

class Sampler {
 public:
  // Errors: params.validate() fails or vocab_size outside [1, 2^31) (kInvalidArgument),
  // allocation failure (kOutOfMemory).
  static Result<Sampler> create(const SamplingParams& params, int64_t vocab_size);

  Sampler(Sampler&&) noexcept = default;
  Sampler& operator=(Sampler&&) noexcept = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Records a token that entered the context (for the penalties). kInvalidArgument if `id` is
  // outside [0, vocab_size); the sampler is then unchanged.
  Status accept(int32_t id);
  // Records prompt tokens, oldest first. All ids are checked before any is recorded.
  Status accept_prompt(std::span<const int32_t> ids);

  // Picks a token. logits: [vocab_size] (a shorter span is read as far as it goes, ids past it
  // are never chosen; a longer one is cut). NaN logits count as -inf; if no logit is finite
  // or +inf, returns 0. Advances the PRNG by one draw unless greedy.
  int32_t sample(std::span<const float> logits);

  // The distribution sample() would draw from, without drawing: the kept tokens with their
  // final probabilities (TokenCandidate::p, summing to 1) in ascending id order; greedy: the
  // argmax alone with p = 1. With no filter on, every token with a finite logit is kept,
  // however small its p. Valid until the next call on this sampler.
  std::span<const TokenCandidate> distribution(std::span<const float> logits);

  // The last distribution (from sample() or distribution()) as a dense [vocab_size] array of
  // probabilities, zero outside the kept set; filled on first use after each call (O(vocab)).
  std::span<const float> probabilities();
  // The last distribution's kept tokens (see distribution()).
  std::span<const TokenCandidate> candidates() const { return {cand_.get(), size_t(n_kept_)}; }

  // Forgets the accepted tokens and restarts the PRNG from params().seed, so that a reset
  // sampler repeats its sequence.
  void reset();
  // Restarts the PRNG from `seed` (params().seed becomes `seed`).
  void reseed(uint64_t seed);

  const SamplingParams& params() const { return params_; }
  int64_t vocab_size() const { return vocab_size_; }
  // The penalty window (its distinct tokens and their counts).
  const PenaltyWindow& history() const { return history_; }

 private:
  Sampler(const SamplingParams& params, int64_t vocab_size, PenaltyWindow history, CutFinder cut)
      : params_(params), vocab_size_(vocab_size), history_(std::move(history)),
        cut_finder_(std::move(cut)), rng_(params.seed) {}

  int64_t load(std::span<const float> logits);  // copy + penalties into work_
  void keep_argmax(int64_t n);
  int64_t gather(int64_t n);                     // work_ -> cand_, without NaN / -inf
  int64_t gather_top_k(int64_t n, int64_t k);    // gather + top-k in one pass, for a small k
  int64_t top_k(int64_t n);
  double weigh(int64_t n);
  int64_t min_p(int64_t n);
  int64_t top_p(int64_t n, double mass);
  void finalize(int64_t n);                      // temperature + normalization

  SamplingParams params_;
  int64_t vocab_size_ = 0;
  PenaltyWindow history_;
  CutFinder cut_finder_;
  Rng rng_;
  std::unique_ptr<float[]> work_;               // [vocab] logits after the penalties
  std::unique_ptr<TokenCandidate[]> cand_;      // [vocab] kept set, ascending id; [0, n_kept_)
  int64_t n_kept_ = 0;
  float max_logit_ = 0.0f;                      // bounds of cand_'s logits during a call
  float min_logit_ = 0.0f;
  double kept_total_ = 0.0;                     // sum of cand_[i].p in double, for the draw
  std::unique_ptr<float[]> dense_;              // [vocab] probabilities(), filled lazily
  bool dense_valid_ = false;
};

}  // namespace mote
