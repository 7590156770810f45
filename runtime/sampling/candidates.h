// TokenCandidate, the order the sampling filters agree on, and CutFinder, which applies a
// filter's cut to that order without sorting the vocabulary.
//
// Every filter (top-k, top-p, min-p) keeps a prefix of the candidates taken in "better" order:
// higher logit first, lower id on ties. A filter is then one question: at which candidate does
// a running total (a count for top-k, probability mass for top-p) reach a target? CutFinder
// answers it in expected O(n): a histogram of the logits over kBuckets equal-width buckets
// (monotone in the logit, so bucket order agrees with better order) finds the one bucket where
// the total crosses the target, then a quickselect carrying the running total searches only
// that bucket. The cut is exact (the element a full sort would give) and deterministic. The
// same pass that gathers the crossing bucket compacts the candidates of the buckets above it,
// so that keeping the prefix costs a pass over the survivors, not over the vocabulary.
//
// Ownership: CutFinder owns its scratch, sized in create(); its calls never allocate.
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"

namespace mote {

// One token of a distribution.
struct TokenCandidate {
  int32_t id;
  float logit;  // after the penalties, before temperature
  float p;      // a probability or an unnormalized weight, depending on the stage
};

// The strict total order of the filters (ids are unique): a before b.
inline bool better(const TokenCandidate& a, const TokenCandidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

class CutFinder {
 public:
  static constexpr int64_t kBuckets = 4096;

  // capacity: the most candidates one call sees (the vocab size). Errors: kOutOfMemory.
  static Result<CutFinder> create(int64_t capacity);

  // Both calls keep, in place and in their original order, the candidates of c up to and
  // including a cut in better order, and return how many they kept. Every logit in c must lie
  // in [lo, hi] (finite, no NaN); c must not be empty.

  // Cut: the k-th best candidate (k >= 1; k >= c.size() keeps everything).
  int64_t keep_top_k(std::span<TokenCandidate> c, int64_t k, float lo, float hi);
  // Cut: the first candidate, in better order, at which the running sum of p (>= 0) reaches
  // target; everything if the sum falls short (rounding).
  int64_t keep_top_mass(std::span<TokenCandidate> c, double target, float lo, float hi);

 private:
  template <typename Weight>
  int64_t keep(std::span<TokenCandidate> c, double target, float lo, float hi, Weight weight);

  std::unique_ptr<TokenCandidate[]> scratch_;  // [capacity] the crossing bucket's candidates
  std::unique_ptr<double[]> buckets_;          // [kBuckets] total weight per bucket
};

}  // namespace mote
