#include "session/draft_policy.h"

#include <algorithm>

namespace mote {

namespace {

// Moving average that resists the outliers of a shared machine: a step preempted by another
// process takes far longer, never shorter, so a sample is clipped at 1.5x the average before it
// counts. Symmetric otherwise: an estimator that leaned to the low side would drift further the
// more samples it gets, and plain and draft steps get very different numbers of samples (the
// policy mostly takes one kind), which would bias their ratio.
void average(double& avg, double x, double alpha) {
  avg = avg <= 0 ? x : avg + alpha * (std::min(x, 1.5 * avg) - avg);
}

}  // namespace

double DraftPolicy::cost_ratio() const {
  if (t1_ <= 0 || (t2_acc_ <= 0 && t2_rej_ <= 0)) return 0;
  // A path not measured yet is priced as the other one.
  const double acc = t2_acc_ > 0 ? t2_acc_ : t2_rej_, rej = t2_rej_ > 0 ? t2_rej_ : t2_acc_;
  const double a = acceptance();
  return (a * acc + (1 - a) * rej) / t1_;
}

double DraftPolicy::predicted_speedup() const {
  const double c = cost_ratio();
  return c > 0 ? (1 + acceptance()) / c : 0;
}

bool DraftPolicy::next_is_draft() {
  if (mode_ == DraftMode::kAlways) return true;
  // Bootstrap: one draft step, then one plain step, so that both times are known.
  if (t2_acc_ <= 0 && t2_rej_ <= 0) return true;
  if (t1_ <= 0) {
    ++skipped_;
    return false;
  }
  if (drafting_) {
    if (++since_refresh_ >= config_.refresh) {
      since_refresh_ = 0;
      ++skipped_;
      return false;
    }
    return true;
  }
  if (countdown_ <= 0) {
    probing_ = true;
    ++probes_;
    return true;
  }
  --countdown_;
  ++skipped_;
  return false;
}

void DraftPolicy::record_plain(double seconds) {
  average(t1_, seconds, config_.time_alpha);
  update_state();
}

void DraftPolicy::record_draft(double seconds, bool accepted) {
  accepted_ = accepted_ * config_.forget + (accepted ? 1 : 0);
  drafts_ = drafts_ * config_.forget + 1;
  // A probe is the first fresh draft time after many plain steps: it weighs more.
  average(accepted ? t2_acc_ : t2_rej_, seconds, probing_ ? config_.probe_alpha : config_.time_alpha);
  const bool probe = probing_;
  probing_ = false;
  update_state();
  if (probe && !drafting_) {  // the probe did not pay: wait longer for the next one
    gap_ = std::min(config_.probe_max, std::max(config_.probe_first, gap_ * 2));
    countdown_ = gap_;
  }
}

void DraftPolicy::update_state() {
  const double s = predicted_speedup();
  if (s <= 0) return;
  if (drafting_ && s < config_.leave) {
    drafting_ = false;
    gap_ = config_.probe_first;
    countdown_ = gap_;
  } else if (!drafting_ && s >= config_.enter) {
    drafting_ = true;
    since_refresh_ = 0;
  } else if (!drafting_ && gap_ == 0) {  // the bootstrap found drafting does not pay
    gap_ = config_.probe_first;
    countdown_ = gap_;
  }
}

}  // namespace mote
