#include "sampling/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <new>
#include <string>

namespace mote {

namespace {

// The draw sums the kept probabilities this many at a time before walking one block.
constexpr int64_t kDrawBlock = 64;
// top-k with k <= n / this takes the one-pass gather_top_k() path.
constexpr int64_t kSmallTopKFraction = 8;

// Sum of p over c[0, n) with four accumulators (a fixed order: deterministic).
double sum_p(const TokenCandidate* c, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += c[i].p;
    s1 += c[i + 1].p;
    s2 += c[i + 2].p;
    s3 += c[i + 3].p;
  }
  for (; i < n; ++i) s0 += c[i].p;
  return (s0 + s1) + (s2 + s3);
}

}  // namespace

Result<Sampler> Sampler::create(const SamplingParams& params, int64_t vocab_size) {
  MOTE_RETURN_IF_ERROR(params.validate());
  if (vocab_size < 1 || vocab_size > INT32_MAX)
    return invalid_argument("sampler: vocab_size = " + std::to_string(vocab_size) +
                            " must be in [1, 2^31)");
  const int32_t window = params.penalties_enabled() ? params.penalty_last_n : 0;
  MOTE_ASSIGN_OR_RETURN(PenaltyWindow history, PenaltyWindow::create(window, vocab_size));
  MOTE_ASSIGN_OR_RETURN(CutFinder cut_finder, CutFinder::create(vocab_size));
  Sampler s(params, vocab_size, std::move(history), std::move(cut_finder));
  s.work_.reset(new (std::nothrow) float[size_t(vocab_size)]);
  s.cand_.reset(new (std::nothrow) TokenCandidate[size_t(vocab_size)]);
  s.dense_.reset(new (std::nothrow) float[size_t(vocab_size)]);
  if (!s.work_ || !s.cand_ || !s.dense_)
    return Status(StatusCode::kOutOfMemory,
                  "sampler: cannot allocate buffers for vocab " + std::to_string(vocab_size));
  return s;
}

Status Sampler::accept(int32_t id) {
  if (id < 0 || id >= vocab_size_)
    return invalid_argument("sampler: accepted token id " + std::to_string(id) +
                            " outside [0, " + std::to_string(vocab_size_) + ")");
  history_.push(id);
  return Status::ok();
}

Status Sampler::accept_prompt(std::span<const int32_t> ids) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size_)
      return invalid_argument("sampler: prompt token " + std::to_string(i) + " has id " +
                              std::to_string(ids[i]) + " outside [0, " +
                              std::to_string(vocab_size_) + ")");
  // Only the last penalty_last_n tokens can still be in the window.
  size_t first = 0;
  const int32_t window = params_.penalty_last_n;
  if (window >= 0 && ids.size() > size_t(window)) first = ids.size() - size_t(window);
  for (size_t i = first; i < ids.size(); ++i) history_.push(ids[i]);
  return Status::ok();
}

void Sampler::reset() {
  history_.clear();
  rng_.reseed(params_.seed);
  n_kept_ = 0;
  dense_valid_ = false;
}

void Sampler::reseed(uint64_t seed) {
  params_.seed = seed;
  rng_.reseed(seed);
}

int32_t Sampler::sample(std::span<const float> logits) {
  const std::span<const TokenCandidate> dist = distribution(logits);
  if (params_.temperature == 0.0f) return dist[0].id;
  // Inverse CDF over the kept set in id order. One PRNG draw per call, always. Whole blocks are
  // skipped by their sums, then the crossing block is walked token by token.
  const double target = rng_.uniform() * kept_total_;
  const TokenCandidate* c = dist.data();
  const int64_t n = int64_t(dist.size());
  double cum = 0.0;
  int64_t i = 0;
  for (; i + kDrawBlock <= n; i += kDrawBlock) {
    const double block = sum_p(c + i, kDrawBlock);
    if (target < cum + block) break;
    cum += block;
  }
  for (; i < n; ++i) {
    cum += c[i].p;
    if (target < cum) return c[i].id;
  }
  for (int64_t j = n; j-- > 0;)  // rounding: target within the last ulps of the total
    if (c[j].p > 0.0f) return c[j].id;
  return c[0].id;
}

std::span<const TokenCandidate> Sampler::distribution(std::span<const float> logits) {
  dense_valid_ = false;
  int64_t n = load(logits);
  if (params_.temperature == 0.0f) {
    keep_argmax(n);
    return candidates();
  }
  const int64_t k = params_.top_k;
  n = (k > 0 && k <= n / kSmallTopKFraction) ? gather_top_k(n, k) : top_k(gather(n));
  if (n == 0) {  // nothing finite: fall back to id 0, as greedy would
    cand_[0] = {0, work_[0], 1.0f};
    n_kept_ = 1;
    kept_total_ = 1.0;
    return candidates();
  }
  // llama.cpp runs top-k, top-p, then min-p. top-p and min-p both keep a prefix of the better
  // order, and min-p's threshold does not depend on normalization, so the kept set is the
  // shorter of the two prefixes whichever runs first. min-p runs first here: one cheap pass
  // that shrinks top-p's search; top-p still measures mass against the whole post-top-k set.
  const double mass = params_.top_p < 1.0f ? weigh(n) : 0.0;
  n = top_p(min_p(n), mass);
  finalize(n);
  return candidates();
}

std::span<const float> Sampler::probabilities() {
  if (!dense_valid_) {
    std::fill(dense_.get(), dense_.get() + vocab_size_, 0.0f);
    for (int64_t i = 0; i < n_kept_; ++i) dense_[size_t(cand_[size_t(i)].id)] = cand_[size_t(i)].p;
    dense_valid_ = true;
  }
  return {dense_.get(), size_t(vocab_size_)};
}

// Copies the logits into work_ and applies the penalties: the HF/CTRL repetition penalty first,
// then the OpenAI presence/frequency terms (llama.cpp's order).
int64_t Sampler::load(std::span<const float> logits) {
  const int64_t n = std::min<int64_t>(int64_t(logits.size()), vocab_size_);
  std::copy(logits.begin(), logits.begin() + n, work_.get());
  if (n == 0) work_[0] = -INFINITY;
  if (!params_.penalties_enabled()) return n;
  const float rep = params_.repetition_penalty;
  for (const int32_t id : history_.distinct()) {
    if (id >= n) continue;
    float& logit = work_[size_t(id)];
    logit = logit > 0.0f ? logit / rep : logit * rep;
    logit -= float(history_.count(id)) * params_.frequency_penalty + params_.presence_penalty;
  }
  return n;
}

void Sampler::keep_argmax(int64_t n) {
  const float* w = work_.get();
  int64_t best = 0;
  float best_logit = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] > best_logit) {  // false for NaN: NaN never wins; the first maximum wins
      best_logit = w[i];
      best = i;
    }
  }
  cand_[0] = {int32_t(best), w[best], 1.0f};
  n_kept_ = 1;
  kept_total_ = 1.0;
}

// Builds the candidate list in id order, dropping -inf and NaN, clamping +inf to FLT_MAX (so
// that exp(l - max) stays finite and +inf logits share the mass); records the logit bounds.
int64_t Sampler::gather(int64_t n) {
  const float* w = work_.get();
  TokenCandidate* c = cand_.get();
  float lo = FLT_MAX, hi = -FLT_MAX;
  int64_t out = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(w[i] > -INFINITY)) continue;  // rare, so the branch predicts well
    const float logit = std::min(w[i], FLT_MAX);
    lo = std::min(lo, logit);
    hi = std::max(hi, logit);
    c[out++] = {int32_t(i), logit, 0.0f};
  }
  min_logit_ = lo;
  max_logit_ = hi;
  return out;
}

// top-k for a small k, straight from work_ in one pass: cand_ buffers the tokens better than
// the current k-th best (tokens arrive in id order, so a later token with an equal logit is
// worse: a plain `>` on the logit is the whole test, and it drops NaN and -inf too). When the
// buffer reaches 2k it is cut back to the best k with nth_element. Typical cost: one compare
// per token. Leaves the kept set in id order and records its logit bounds.
int64_t Sampler::gather_top_k(int64_t n, int64_t k) {
  const float* w = work_.get();
  TokenCandidate* c = cand_.get();
  float threshold = -INFINITY;
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(w[i] > threshold)) continue;
    c[m++] = {int32_t(i), std::min(w[i], FLT_MAX), 0.0f};
    if (m == 2 * k) {
      std::nth_element(c, c + (k - 1), c + m, better);
      threshold = c[k - 1].logit;
      m = k;
    }
  }
  if (m > k) std::nth_element(c, c + (k - 1), c + m, better);
  m = std::min(m, k);
  std::sort(c, c + m, [](const TokenCandidate& a, const TokenCandidate& b) { return a.id < b.id; });
  min_logit_ = FLT_MAX;
  max_logit_ = -FLT_MAX;
  for (int64_t i = 0; i < m; ++i) {
    min_logit_ = std::min(min_logit_, c[i].logit);
    max_logit_ = std::max(max_logit_, c[i].logit);
  }
  return m;
}

int64_t Sampler::top_k(int64_t n) {
  const int64_t k = params_.top_k;
  if (k <= 0 || k >= n) return n;
  return cut_finder_.keep_top_k({cand_.get(), size_t(n)}, k, min_logit_, max_logit_);
}

// Keeps p >= min_p * p_max, i.e. logit >= max + log(min_p) (llama.cpp's form), in id order.
int64_t Sampler::min_p(int64_t n) {
  if (params_.min_p <= 0.0f) return n;
  const float threshold = max_logit_ + std::log(params_.min_p);
  TokenCandidate* c = cand_.get();
  int64_t out = 0;
  for (int64_t i = 0; i < n; ++i) {
    const TokenCandidate t = c[i];
    c[out] = t;
    out += t.logit >= threshold;
  }
  min_logit_ = std::max(min_logit_, threshold);
  return out;
}

// Sets p to each candidate's weight at temperature 1, exp(logit - max); returns their sum.
double Sampler::weigh(int64_t n) {
  TokenCandidate* c = cand_.get();
  const float max_logit = max_logit_;  // a local: stores through c could alias the member
  for (int64_t i = 0; i < n; ++i) c[i].p = std::exp(c[i].logit - max_logit);
  return sum_p(c, n);
}

// Keeps the shortest better-order prefix whose weight (p, from weigh()) reaches top_p of
// `mass`, the weight of everything top-k kept, including what min-p has removed since.
int64_t Sampler::top_p(int64_t n, double mass) {
  if (params_.top_p >= 1.0f) return n;
  return cut_finder_.keep_top_mass({cand_.get(), size_t(n)}, double(params_.top_p) * mass,
                                  min_logit_, max_logit_);
}

// Temperature, then normalization. Multiplies by 1/T unless 1/T overflows (a tiny T): then
// divides, since (l - max) * inf is NaN for the top token.
void Sampler::finalize(int64_t n) {
  TokenCandidate* c = cand_.get();
  const float t = params_.temperature;
  const float inv_t = 1.0f / t;
  const bool multiply = std::isfinite(inv_t);
  const float max_logit = max_logit_;
  if (multiply) {
    for (int64_t i = 0; i < n; ++i) c[i].p = std::exp((c[i].logit - max_logit) * inv_t);
  } else {
    for (int64_t i = 0; i < n; ++i) c[i].p = std::exp((c[i].logit - max_logit) / t);
  }
  const float inv_sum = float(1.0 / sum_p(c, n));  // sum >= 1: the top token weighs exp(0)
  for (int64_t i = 0; i < n; ++i) c[i].p *= inv_sum;
  kept_total_ = sum_p(c, n);
  n_kept_ = n;
}

}  // namespace mote
