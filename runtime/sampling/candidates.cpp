#include "sampling/candidates.h"

#include <algorithm>
#include <new>
#include <string>
#include <utility>

namespace mote {

namespace {

// Below this many candidates the histogram pass is not worth it: search them all directly.
constexpr int64_t kDirectBelow = 256;
// Below this many candidates select_cut() sorts instead of partitioning further.
constexpr int64_t kSortBelow = 64;
// Partition rounds before select_cut() stops choosing pivots and sorts (bounds the worst case).
constexpr int kMaxRounds = 64;

// Index of the median of s[a], s[b], s[c] in better order.
int64_t median_of_3(const TokenCandidate* s, int64_t a, int64_t b, int64_t c) {
  if (better(s[a], s[b])) return better(s[b], s[c]) ? b : (better(s[a], s[c]) ? c : a);
  return better(s[a], s[c]) ? a : (better(s[b], s[c]) ? c : b);
}

// The first element of s[0, n), walked in better order, at which acc + the running weight
// reaches target (the last one if it never does). A quickselect that carries the weight: each
// round partitions around a pivot, sums the better side and keeps the side holding the crossing
// point; only a short final range is sorted. Reorders s. n >= 1.
template <typename Weight>
TokenCandidate select_cut(TokenCandidate* s, int64_t n, double acc, double target, Weight weight) {
  int64_t lo = 0, hi = n;  // acc = weight of everything better than s[lo, hi)
  for (int round = 0; hi - lo > kSortBelow && round < kMaxRounds; ++round) {
    std::swap(s[hi - 1], s[median_of_3(s, lo, lo + (hi - lo) / 2, hi - 1)]);
    const TokenCandidate pivot = s[hi - 1];
    int64_t mid = lo;  // Lomuto: s[lo, mid) better than the pivot
    double upper = 0.0;
    for (int64_t i = lo; i < hi - 1; ++i)
      if (better(s[i], pivot)) {
        upper += weight(s[i]);
        std::swap(s[i], s[mid++]);
      }
    std::swap(s[mid], s[hi - 1]);  // the pivot between the two sides
    if (mid > lo && acc + upper >= target) {
      hi = mid;  // the crossing point is strictly better than the pivot
      continue;
    }
    acc += upper + weight(pivot);
    if (acc >= target || mid + 1 == hi) return pivot;  // (or rounding: nothing left in range)
    lo = mid + 1;
  }
  std::sort(s + lo, s + hi, better);
  for (int64_t i = lo; i < hi; ++i) {
    acc += weight(s[i]);
    if (acc >= target) return s[i];
  }
  return s[hi - 1];  // rounding: the sum fell short; keep the whole range
}

}  // namespace

Result<CutFinder> CutFinder::create(int64_t capacity) {
  CutFinder f;
  f.scratch_.reset(new (std::nothrow) TokenCandidate[size_t(std::max<int64_t>(capacity, 1))]);
  f.buckets_.reset(new (std::nothrow) double[size_t(kBuckets)]);
  if (!f.scratch_ || !f.buckets_)
    return Status(StatusCode::kOutOfMemory,
                  "sampler: cannot allocate selection scratch for " + std::to_string(capacity) +
                      " candidates");
  return f;
}

int64_t CutFinder::keep_top_k(std::span<TokenCandidate> c, int64_t k, float lo, float hi) {
  if (k >= int64_t(c.size())) return int64_t(c.size());
  return keep(c, double(k), lo, hi, [](const TokenCandidate&) { return 1.0; });
}

int64_t CutFinder::keep_top_mass(std::span<TokenCandidate> c, double target, float lo, float hi) {
  return keep(c, target, lo, hi, [](const TokenCandidate& t) { return double(t.p); });
}

namespace {

// Keeps, in place and in order, the candidates c[0, n) at or above `cut` in better order.
// Branch-free (write always, advance if kept): the test is a coin flip to the predictor.
int64_t keep_at_least(TokenCandidate* c, int64_t n, const TokenCandidate cut) {
  int64_t out = 0;
  for (int64_t i = 0; i < n; ++i) {
    const TokenCandidate t = c[i];
    c[out] = t;
    out += (t.logit > cut.logit) | ((t.logit == cut.logit) & (t.id <= cut.id));
  }
  return out;
}

}  // namespace

template <typename Weight>
int64_t CutFinder::keep(std::span<TokenCandidate> c, double target, float lo, float hi,
                        Weight weight) {
  const int64_t n = int64_t(c.size());
  TokenCandidate* s = scratch_.get();
  if (n <= kDirectBelow || !(hi > lo)) {
    std::copy(c.begin(), c.end(), s);
    return keep_at_least(c.data(), n, select_cut(s, n, 0.0, target, weight));
  }
  // Bucket 0 holds the highest logits. Computed in double: hi - lo may overflow a float.
  const double top = hi;
  const double scale = double(kBuckets - 1) / (top - double(lo));
  auto bucket = [top, scale](float logit) {
    return std::clamp<int64_t>(int64_t((top - double(logit)) * scale), 0, kBuckets - 1);
  };
  double* mass = buckets_.get();
  std::fill(mass, mass + kBuckets, 0.0);
  for (const TokenCandidate& t : c) mass[bucket(t.logit)] += weight(t);
  double acc = 0.0;  // weight of the buckets before the crossing one
  int64_t b = 0;
  for (; b < kBuckets - 1 && acc + mass[b] < target; ++b) acc += mass[b];
  // One branch-free pass: compact the buckets up to b in place (in order) and copy bucket b to
  // the scratch; each write always happens, the index advances only when the token belongs.
  TokenCandidate* out = c.data();
  int64_t kept = 0, m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const TokenCandidate t = out[i];
    const int64_t bt = bucket(t.logit);
    out[kept] = t;
    kept += bt <= b;
    s[m] = t;
    m += bt == b;
  }
  if (m == 0) return kept;  // rounding carried the total past the last non-empty bucket
  return keep_at_least(c.data(), kept, select_cut(s, m, acc, target, weight));
}

}  // namespace mote
