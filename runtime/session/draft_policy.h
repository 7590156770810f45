// DraftPolicy: the per-step decision whether MTP speculative decoding drafts, from measured
// acceptance and measured pass times (issue 17 item 3, README "Speculation that pays").
//
// A draft step (sample a draft from the MTP logits, verify [pending, draft] in one two-token
// pass, run the MTP head for the next draft) emits 1 + accepted tokens in t2 seconds; a plain
// step (one-token pass, no MTP) emits one token in t1 seconds. The predicted speed-up of drafting
// is tokens per draft step over its time in plain steps:
//   (1 + (1 - d) a) * t1 / ((1 - d) (a t2_acc + (1 - a) t2_rej) + d t2_drop)
// with a the acceptance estimate, d the fraction of draft steps whose draft row the per-step gate
// dropped (families/draft_gate.h: its own expert misses would cost more than the draft saves),
// and t2_acc / t2_rej / t2_drop the measured times of accepted, rejected and dropped draft steps
// (their MTP and expert work differ). Times are measured wall times of whole steps (steady
// clock), so whatever a step costs is in them: the draft head, the second token's compute, and
// under an expert budget the extra routed experts the draft token pulls in and their reads.
//
// The gate's allowance (miss_allowance): a step may let the draft row's priced misses cost what a
// draft step is expected to save before any such miss: (1 + a) t1 - t2_base, where t2_base is the
// kept draft steps' time less the misses the gate let through (record_draft's miss_seconds).
//
// Acceptance: a Beta(1, 1) posterior mean over exponentially forgotten counts (forget per draft
// step), so it tracks a drifting rate. Times: moving averages that clip slow outliers
// (draft_policy.cpp).
// Decision (kAdaptive): start drafting when the prediction is >= enter with the acceptance taken
// one posterior standard deviation below its mean (a few lucky drafts are not evidence), stop
// when the prediction (at the mean) falls below leave (hysteresis: enter > leave). While not drafting, probe draft steps keep the estimates
// fresh. A probe's expected loss against plain steps is priced, the MTP's catch-up after plain
// steps included (record_switch): loss = switch + t2 - (1 + a) t1. The gap before the next probe
// is loss / (probe_budget t1) plain steps (so probes cost at most probe_budget of the decode
// time), at least probe_first and at most probe_max; a probe expected to gain comes soon, and
// probes that keep confirming a loss back off (the gap at least doubles). While only one draft
// time is known (the bootstrap's, often slow: the session's first draft step), the gap is at
// most 16 plain steps.
// A probe is a run: it goes on drafting while its drafts are kept and the prediction is at least
// leave, so the catch-up is paid once per run and kept drafts quickly become evidence (a few
// lucky drafts are not: entering still needs the cautious prediction).
// While drafting, one plain step every `refresh` steps keeps t1 fresh.
// kAlways: every step drafts (the behaviour before the policy; for measurement).
//
// No allocation, no lock; plain value type. Thread-safety: one per Session, same rules.
#pragma once

#include <cstdint>

namespace mote {

enum class DraftMode : uint8_t { kAdaptive, kAlways };

struct DraftPolicyConfig {
  double forget = 0.95;        // acceptance counts are multiplied by this per draft step (window ~20)
  double time_alpha = 0.125;   // weight of a new time in the moving averages
  double probe_alpha = 0.5;    // the same for a probe's time (rare, so the average is stale)
  double enter = 1.05;         // start drafting at predicted speed-up >= enter
  double leave = 1.0;          // stop drafting below leave
  double probe_budget = 0.01;  // probes may lose at most this fraction of the decode time
  int64_t probe_first = 4;     // fewest plain steps between probes (a probe expected to gain)
  int64_t probe_max = 512;     // most plain steps between probes
  int64_t refresh = 32;        // while drafting: one plain step per `refresh` steps
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
  // A draft step took `seconds`; `accepted`: the model agreed with the draft; miss_seconds: the
  // priced draft-row misses the gate let through (DraftRowGate::spent_seconds; 0 ungated).
  void record_draft(double seconds, bool accepted, double miss_seconds = 0);
  // A draft step whose draft row the gate dropped took `seconds` (one token emitted).
  void record_dropped(double seconds);
  // Drafting resumed after plain steps: the MTP's catch-up took `seconds` (part of a probe's cost).
  void record_switch(double seconds);
  // Seconds of draft-row expert misses the next draft step may let through (DraftRowGate): what a
  // draft step is expected to save before such misses, >= 0; infinity until t1 is measured.
  double miss_allowance() const;

  DraftMode mode() const { return mode_; }
  void set_mode(DraftMode mode) { mode_ = mode; }
  bool drafting() const { return drafting_; }
  // Adaptive and not drafting: the next steps are plain but for rare probes.
  bool idle() const { return mode_ == DraftMode::kAdaptive && !drafting_; }
  // Posterior mean of the acceptance of verified drafts (0.5 before any draft step).
  double acceptance() const { return (accepted_ + 1.0) / (drafts_ + 2.0); }
  // Forgotten fraction of draft steps the gate dropped (0 before any).
  double drop_rate() const { return decided_ > 0 ? dropped_ / decided_ : 0.0; }
  // t2 / t1: the cost of a draft step in plain steps; 0 while either time is unknown.
  double cost_ratio() const;
  // (1 + acceptance) / cost_ratio; 0 while unknown.
  double predicted_speedup() const;
  // Steps the policy declined to draft (plain steps decided by next_is_draft), probe steps, and
  // draft steps the gate dropped.
  int64_t skipped() const { return skipped_; }
  int64_t probes() const { return probes_; }
  int64_t drops() const { return drops_; }
  // Plain steps before the next probe when not drafting (the current gap).
  int64_t probe_gap() const { return gap_; }
  // The measured step times in seconds (0: not measured yet): plain, accepted draft, rejected draft.
  double plain_seconds() const { return t1_; }
  double accepted_seconds() const { return t2_acc_; }
  double rejected_seconds() const { return t2_rej_; }
  double dropped_seconds() const { return t2_drop_; }
  double switch_seconds() const { return switch_; }
  // Takes another policy's estimates and state (a previous session on the same model), keeping
  // this one's mode, config and zero counters.
  void inherit(const DraftPolicy& other) {
    const DraftMode mode = mode_;
    const DraftPolicyConfig config = config_;
    *this = other;
    mode_ = mode, config_ = config;
    skipped_ = probes_ = drops_ = 0;
  }
  // Forgets the estimates and counters (keeps mode and config).
  void reset() { *this = DraftPolicy(mode_, config_); }

 private:
  void update_state();  // drafting_ from the current prediction (with hysteresis)
  void after_probe(bool kept);  // after a draft step: the probe run goes on or ends (then the gap)
  double draft_seconds() const;  // the expected time of a draft step (0: unknown)
  int64_t next_gap() const;      // plain steps before the next probe, from a probe's expected loss
  double cautious_speedup() const;  // the prediction with the acceptance one deviation lower
  int64_t draft_samples() const { return n_acc_ + n_rej_ + n_drop_; }  // draft step times measured

  DraftMode mode_;
  DraftPolicyConfig config_;
  double accepted_ = 0, drafts_ = 0;          // forgotten counts (verified drafts)
  double dropped_ = 0, decided_ = 0;          // forgotten counts (draft steps, dropped or not)
  double t1_ = 0, t2_acc_ = 0, t2_rej_ = 0;   // seconds per step; 0: not measured yet
  double t2_drop_ = 0, switch_ = 0;           // dropped draft steps; the MTP's catch-up
  double miss_ = 0;                           // gated-in draft-row misses per kept draft step
  int64_t n1_ = 0, n_acc_ = 0, n_rej_ = 0, n_drop_ = 0, n_switch_ = 0;  // samples of each average
  bool drafting_ = false;
  bool probing_ = false;                      // the last decision was a probe
  bool probe_improved_ = false;               // the last probe was clearly cheaper than the average
  bool burst_ = false;                        // in a probe run (draft steps while drafts are kept)
  int64_t gap_ = 0;                           // plain steps between probes
  int64_t countdown_ = 0;                     // plain steps left before the next probe
  int64_t since_refresh_ = 0;                 // draft steps since the last plain step while drafting
  int64_t skipped_ = 0, probes_ = 0, drops_ = 0;
};

}  // namespace mote
