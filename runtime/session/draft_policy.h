// DraftPolicy: the per-step decision whether MTP speculative decoding drafts, from measured
// acceptance and measured pass times (issue 17 item 3, README "Speculation that pays").
//
// A draft step (sample a draft from the MTP logits, verify [pending, draft] in one two-token
// pass, run the MTP head for the next draft) emits 1 + accepted tokens in t2 seconds; a plain
// step (one-token pass, no MTP) emits one token in t1 seconds. The predicted speed-up of drafting
// is (1 + a) * t1 / t2, with a the acceptance estimate and t2 mixed from the measured times of
// accepted and rejected draft steps (their MTP work differs): t2 = a * t2_acc + (1 - a) * t2_rej.
// The times are measured wall times of whole steps (steady clock), so whatever a step costs is in
// them: the draft head, the second token's compute, and under an expert budget the extra routed
// experts the draft token pulls in and the reads of those not resident.
//
// Acceptance: a Beta(1, 1) posterior mean over exponentially forgotten counts (forget per draft
// step), so it tracks a drifting rate. Times: moving averages that clip slow outliers
// (draft_policy.cpp).
// Decision (kAdaptive): start drafting when the prediction is >= enter, stop when it falls below
// leave (hysteresis: enter > leave). While not drafting, one probe draft step every `gap` plain
// steps keeps the estimates fresh; the gap doubles after every probe that does not start drafting
// (probe_first .. probe_max), so probes are at most 1 / (probe_first + 1) of the steps and fall
// to 1 / (probe_max + 1). While drafting, one plain step every `refresh` steps keeps t1 fresh.
// kAlways: every step drafts (the behaviour before the policy; for measurement).
//
// No allocation, no lock; plain value type. Thread-safety: one per Session, same rules.
#pragma once

#include <cstdint>

namespace mote {

enum class DraftMode : uint8_t { kAdaptive, kAlways };

struct DraftPolicyConfig {
  double forget = 0.95;       // acceptance counts are multiplied by this per draft step (window ~20)
  double time_alpha = 0.125;  // weight of a new time in the moving averages
  double probe_alpha = 0.5;   // the same for a probe's time (rare, so the average is stale)
  double enter = 1.05;        // start drafting at predicted speed-up >= enter
  double leave = 1.0;         // stop drafting below leave
  int64_t probe_first = 16;   // plain steps before the first probe once drafting stopped
  int64_t probe_max = 512;    // the gap between probes doubles up to this
  int64_t refresh = 16;       // while drafting: one plain step per `refresh` steps
};

class DraftPolicy {
 public:
  explicit DraftPolicy(DraftMode mode = DraftMode::kAdaptive, const DraftPolicyConfig& config = {})
      : mode_(mode), config_(config) {}

  // Whether the next step drafts; call exactly once per step, then record_plain or record_draft
  // with that step's time (a step that ends generation early may go unrecorded).
  bool next_is_draft();
  // A plain step took `seconds`.
  void record_plain(double seconds);
  // A draft step took `seconds`; `accepted`: the model agreed with the draft.
  void record_draft(double seconds, bool accepted);

  DraftMode mode() const { return mode_; }
  void set_mode(DraftMode mode) { mode_ = mode; }
  bool drafting() const { return drafting_; }
  // Posterior mean of the acceptance (0.5 before any draft step).
  double acceptance() const { return (accepted_ + 1.0) / (drafts_ + 2.0); }
  // t2 / t1: the cost of a draft step in plain steps; 0 while either time is unknown.
  double cost_ratio() const;
  // (1 + acceptance) / cost_ratio; 0 while unknown.
  double predicted_speedup() const;
  // Steps the policy declined to draft (plain steps decided by next_is_draft) and probe steps.
  int64_t skipped() const { return skipped_; }
  int64_t probes() const { return probes_; }
  // The measured step times in seconds (0: not measured yet): plain, accepted draft, rejected draft.
  double plain_seconds() const { return t1_; }
  double accepted_seconds() const { return t2_acc_; }
  double rejected_seconds() const { return t2_rej_; }
  // Forgets the estimates and counters (keeps mode and config).
  void reset() { *this = DraftPolicy(mode_, config_); }

 private:
  void update_state();  // drafting_ from the current prediction (with hysteresis)

  DraftMode mode_;
  DraftPolicyConfig config_;
  double accepted_ = 0, drafts_ = 0;          // forgotten counts
  double t1_ = 0, t2_acc_ = 0, t2_rej_ = 0;   // seconds per step; 0: not measured yet
  bool drafting_ = false;
  bool probing_ = false;                      // the last decision was a probe
  int64_t gap_ = 0;                           // plain steps between probes
  int64_t countdown_ = 0;                     // plain steps left before the next probe
  int64_t since_refresh_ = 0;                 // draft steps since the last plain step while drafting
  int64_t skipped_ = 0, probes_ = 0;
};

}  // namespace mote
