#include "session/draft_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mote {

namespace {

// Plain steps measured before the first decision (after the bootstrap's one draft step).
constexpr int64_t kBootstrapPlainSteps = 3;
// Predicted speed-ups at or above this are close enough to 1 that probes do not back off.
constexpr double kUndecided = 0.9;
// Until this many draft step times are measured, probes come at most kUntrustedGapMax plain
// steps apart (next_gap).
constexpr int64_t kTrustedDraftSamples = 2;
constexpr int64_t kUntrustedGapMax = 16;

// Moving average that resists the outliers of a shared machine: a step preempted by another
// process takes far longer, never shorter, so a sample is clipped at 1.5x the average before it
// counts. Symmetric otherwise: an estimator that leaned to the low side would drift further the
// more samples it gets, and plain and draft steps get very different numbers of samples (the
// policy mostly takes one kind), which would bias their ratio.
// The first samples are averaged with equal weights (weight 1/n until it falls to alpha), so
// that one unlucky first sample does not steer the decisions for many steps. The same clip
// applies the other way round to the first kTrimmedSamples: an average above 1.5x a new sample
// came from a slow first sample (the session's first draft step runs on cold scratch, or was
// preempted: a CI run measured 4.5x the usual cost there), and is cut to 1.5x before averaging.
constexpr int64_t kTrimmedSamples = 4;
void average(double& avg, int64_t& n, double x, double alpha) {
  ++n;
  if (n == 1 || avg <= 0) {
    avg = x;
    return;
  }
  if (n <= kTrimmedSamples) avg = std::min(avg, 1.5 * x);
  avg += std::max(alpha, 1.0 / double(n)) * (std::min(x, 1.5 * avg) - avg);
}

}  // namespace

double DraftPolicy::draft_seconds() const {
  const bool kept_known = t2_acc_ > 0 || t2_rej_ > 0;
  if (!kept_known && t2_drop_ <= 0) return 0;
  double kept = t2_drop_;
  if (kept_known) {  // a path not measured yet is priced as the other one
    const double acc = t2_acc_ > 0 ? t2_acc_ : t2_rej_, rej = t2_rej_ > 0 ? t2_rej_ : t2_acc_;
    const double a = acceptance();
    kept = a * acc + (1 - a) * rej;
  }
  const double d = drop_rate();
  return (1 - d) * kept + d * (t2_drop_ > 0 ? t2_drop_ : kept);
}

double DraftPolicy::cost_ratio() const {
  const double t2 = draft_seconds();
  return t1_ > 0 && t2 > 0 ? t2 / t1_ : 0;
}

double DraftPolicy::predicted_speedup() const {
  const double c = cost_ratio();
  return c > 0 ? (1 + (1 - drop_rate()) * acceptance()) / c : 0;
}

double DraftPolicy::miss_allowance() const {
  if (t1_ <= 0) return std::numeric_limits<double>::infinity();
  double base = 0;
  if (t2_acc_ > 0 || t2_rej_ > 0) {
    const double acc = t2_acc_ > 0 ? t2_acc_ : t2_rej_, rej = t2_rej_ > 0 ? t2_rej_ : t2_acc_;
    const double a = acceptance();
    base = a * acc + (1 - a) * rej - miss_;
  } else if (t2_drop_ > 0) {
    base = t2_drop_;
  } else {
    return std::numeric_limits<double>::infinity();
  }
  return std::max(0.0, (1 + acceptance()) * t1_ - base);
}

bool DraftPolicy::next_is_draft() {
  if (mode_ == DraftMode::kAlways) return true;
  // Bootstrap: one draft step, then kBootstrapPlainSteps plain steps, so that both times are known.
  if (t2_acc_ <= 0 && t2_rej_ <= 0 && t2_drop_ <= 0) return true;
  if (n1_ < kBootstrapPlainSteps) {  // plain steps are the baseline: measuring t1 costs nothing
    ++skipped_;
    return false;
  }
  if (drafting_) {
    // A draft step does all a plain step does and more, so a measured cost ratio below 1 means t1
    // is stale or was inflated by a slow sample: re-measure it sooner.
    const int64_t refresh = cost_ratio() < 1 ? std::min<int64_t>(4, config_.refresh) : config_.refresh;
    if (++since_refresh_ >= refresh) {
      since_refresh_ = 0;
      ++skipped_;
      return false;
    }
    return true;
  }
  if (burst_) return true;  // a probe goes on while its drafts are kept (draft_policy.h)
  if (countdown_ <= 0) {
    probing_ = burst_ = true;
    ++probes_;
    return true;
  }
  --countdown_;
  ++skipped_;
  return false;
}

void DraftPolicy::record_plain(double seconds) {
  average(t1_, n1_, seconds, config_.time_alpha);
  update_state();
}

void DraftPolicy::record_draft(double seconds, bool accepted, double miss_seconds) {
  accepted_ = accepted_ * config_.forget + (accepted ? 1 : 0);
  drafts_ = drafts_ * config_.forget + 1;
  dropped_ *= config_.forget;
  decided_ = decided_ * config_.forget + 1;
  // A probe is the first fresh draft time after many plain steps: it weighs more.
  const double alpha = probing_ ? config_.probe_alpha : config_.time_alpha;
  double& avg = accepted ? t2_acc_ : t2_rej_;
  probe_improved_ = probing_ && seconds < 0.8 * avg;
  average(avg, accepted ? n_acc_ : n_rej_, seconds, alpha);
  miss_ += alpha * (std::max(0.0, miss_seconds) - miss_);  // unclipped: misses come in bursts
  after_probe(accepted);
}

void DraftPolicy::record_dropped(double seconds) {
  dropped_ = dropped_ * config_.forget + 1;
  decided_ = decided_ * config_.forget + 1;
  ++drops_;
  probe_improved_ = probing_ && seconds < 0.8 * t2_drop_;
  average(t2_drop_, n_drop_, seconds, probing_ ? config_.probe_alpha : config_.time_alpha);
  after_probe(false);
}

void DraftPolicy::record_switch(double seconds) { average(switch_, n_switch_, seconds, config_.probe_alpha); }

void DraftPolicy::after_probe(bool kept) {
  probing_ = false;
  update_state();
  if (!burst_) return;
  // The probe run ends when drafting starts, at the first draft not kept, or when the prediction
  // says drafting loses; then the gap before the next probe.
  if (drafting_ || !kept || predicted_speedup() < config_.leave) {
    burst_ = false;
    if (!drafting_) countdown_ = gap_ = next_gap();
  }
}

int64_t DraftPolicy::next_gap() const {
  // The expected loss of one probe against plain steps, in plain steps; the gap spreads it so
  // that probes lose at most probe_budget of the time.
  const double t2 = draft_seconds();
  if (t1_ <= 0 || t2 <= 0) return config_.probe_first;
  const double tokens = 1 + (1 - drop_rate()) * acceptance();
  const double loss = (switch_ + t2 - tokens * t1_) / t1_;
  if (!(loss > 0)) return config_.probe_first;  // a probe expected to gain: soon
  // Probes that keep confirming a clear loss also back off (at least double the gap), so that over
  // a long run their cost falls towards zero rather than staying at the budget. No backoff after
  // a probe that measured a clearly cheaper step than the average (the cost changed), nor while
  // the prediction is close to 1: there the acceptance is what is unknown, and only drafts tell.
  const double backoff = probe_improved_ || predicted_speedup() >= kUndecided ? 0.0 : 2.0 * double(gap_);
  const double gap = std::max(std::ceil(loss / config_.probe_budget), backoff);
  if (!(gap > double(config_.probe_first))) return config_.probe_first;
  // One draft time is no evidence to wait long on: the bootstrap's step is the session's first
  // draft step (cold scratch, or preempted on a shared machine: measured up to 4x the usual cost
  // ratio), and a gap of probe_max from it alone would keep a model where drafting pays from
  // drafting for hundreds of steps.
  const int64_t most = draft_samples() < kTrustedDraftSamples ? kUntrustedGapMax : config_.probe_max;
  return gap < double(most) ? int64_t(gap) : most;
}

double DraftPolicy::cautious_speedup() const {
  const double c = cost_ratio();
  if (c <= 0) return 0;
  // One standard deviation below the Beta posterior's mean.
  const double al = accepted_ + 1.0, be = drafts_ - accepted_ + 1.0, n = al + be;
  const double low = std::max(0.0, acceptance() - std::sqrt(al * be / (n * n * (n + 1))));
  return (1 + (1 - drop_rate()) * low) / c;
}

void DraftPolicy::update_state() {
  const double s = predicted_speedup();
  if (s <= 0) return;
  if (drafting_ && s < config_.leave) {
    drafting_ = false;
    gap_ = 0;  // no backoff carried over from before this drafting stretch
    countdown_ = gap_ = next_gap();
  } else if (!drafting_ && cautious_speedup() >= config_.enter) {
    drafting_ = true;
    since_refresh_ = 0;
  } else if (!drafting_ && gap_ == 0) {  // the bootstrap found drafting does not pay
    countdown_ = gap_ = next_gap();
  }
}

}  // namespace mote
