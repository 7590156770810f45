// Session: one conversation's state over a shared, immutable Model: the KV cache, the token ids,
// the position, and every activation buffer, all allocated once in create(). prefill/decode/
// generate never allocate (the decode loop is allocation-free; tests/runtime checks this).
//
// Per-layer state: one arena planned by plan_layer_state (session/layer_state.h): MLA latent rows,
// GQA K/V rows, or for sliding-window layers a ring of rows, each stored as SessionOptions::
// kv_type.
//
// Tokens vs position: tokens() are the conversation's ids; position() of them are evaluated
// (their KV rows are in the cache). The rest are pending: known but not evaluated yet, such as the
// last token a generation emitted, or tokens a truncate/shift rewound past. Every prefill/decode
// evaluates the pending tokens first, then its own ids, so nothing is lost between calls.
//
// Memory: the KV/state rows and the activation scratch are device memory of the model's backend
// (Backend::alloc, given back with Backend::free); tokens, logits and the small host arrays of
// the forward (routing) are host memory.
// Ownership: the Session borrows the Model (which must outlive it) and owns its buffers.
// Thread-safety: a Session is not thread-safe; use one Session per thread. Many Sessions may
// share one Model.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "core/kv_type.h"
#include "families/decoder.h"
#include "model/model.h"
#include "session/draft_policy.h"
#include "session/layer_state.h"

namespace mote {

using families::LogitsMode;

// The prefill pass length a session with max_batch 0 uses: 512, 256 or 128 tokens, the largest
// whose decoder scratch fits 256 MiB, else 64 (session.cpp says why).
int64_t auto_prefill_batch(const backend::Backend& b, const HParams& hp, int64_t max_context);

struct SessionOptions {
  int64_t max_context = 4096;  // positions the KV cache holds (prompt + generated tokens)
  int64_t max_batch = 64;      // tokens per forward pass; longer prefills are chunked; 0: auto_prefill_batch
  bool mtp = false;            // keep the MTP module's state for speculative decoding (model must have MTP)
  // Element type of the KV / latent cache rows (core/kv_type.h). The library default is exact f32
  // (tests compare its logits bit for bit); the C API's default (mote_session_params_default)
  // is the measured choice, README "KV cache precision".
  KvType kv_type = KvType::kF32;
  // Sliding-window layers keep a ring of window + max_batch rows instead of max_context rows
  // (session/layer_state.h). false: full rows (the same logits; for tests and comparisons).
  bool rings = true;
  // With mtp: whether text generation drafts every step (kAlways) or when the measured costs say
  // it pays (kAdaptive, session/draft_policy.h).
  DraftMode draft_mode = DraftMode::kAdaptive;
};

struct GenerateOptions {
  bool stop_at_eos = false;    // stop after emitting one of the model's eos_token_ids
  bool speculative = false;    // draft with the MTP module and verify two tokens per pass (needs
                               // SessionOptions::mtp); the output is the same as without
  // Speculative only: the draft gate's allowance for every step (families/draft_gate.h), in
  // seconds of priced draft-row misses; negative: no gate. Text generation takes it from the
  // DraftPolicy instead; this fixed one is for tests and measurements.
  double draft_miss_allowance = -1;
};

// Counters of speculative decoding since the session was created or reset.
struct SpeculationStats {
  int64_t steps = 0;      // verify passes
  int64_t accepted = 0;   // drafts accepted
  int64_t emitted = 0;    // tokens emitted by speculative steps
  int64_t dropped = 0;    // of steps, those whose draft row the gate dropped (draft_miss_allowance)
};

// Gives device memory back to its backend (the Session's DeviceBuffer).
struct DeviceFree {
  backend::Backend* backend = nullptr;
  void operator()(void* p) const {
    if (p != nullptr) backend->free(p);
  }
};

// Bytes a Session with `options` allocates on `model` (what its kv_cache_bytes() and
// scratch_bytes() report once created), computed without allocating: for the memory plan
// (experts/memory_plan.h). Same errors as Session::create's option checks. The model need only be
// bound (hparams, backend, has_mtp): Model::open calls it before the expert store exists.
struct SessionBytes {
  uint64_t kv = 0;       // the KV / state arena
  uint64_t scratch = 0;  // activation scratch, logits, token ids, the MTP buffers
};
Result<SessionBytes> session_bytes(const Model& model, const SessionOptions& options);

class Session {
 public:
  // Errors: options out of range (kInvalidArgument), allocation failure (kOutOfMemory).
  static Result<std::unique_ptr<Session>> create(const Model& model, const SessionOptions& options = {});

  // Appends `ids` at the current position, max_batch tokens per forward pass.
  // logits: kAll -> [ids.size(), vocab]; kLast -> [vocab]; kNone -> may be null.
  // Errors leave the session unchanged: empty ids, an id outside [0, vocab) (kInvalidArgument),
  // not enough room in the context (kOutOfRange), an expert read error (kIoError; the position
  // goes back to where it was, so the call can be retried).
  Status prefill(std::span<const int32_t> ids, float* logits, LogitsMode mode = LogitsMode::kLast);
  // One token at the current position; logits: [vocab]. Same errors as prefill.
  Status decode(int32_t id, float* logits);
  // Evaluates the pending tokens (at least one); logits of the last: [vocab]. Same errors.
  Status evaluate_pending(float* logits);
  // Greedy decoding: appends `prompt` (non-empty) at the current position, then writes up to out.size() argmax tokens (ties: lowest id) to `out`.
  // Returns how many were written (fewer only when stop_at_eos hits an eos token). The last
  // emitted token is not fed back, so position() grows by prompt.size() + count - 1.
  // Checks up front that everything fits in the context (kOutOfRange otherwise).
  Result<int64_t> generate_greedy(std::span<const int32_t> prompt, std::span<int32_t> out,
                                  const GenerateOptions& options = {});

  // Forgets every token (position 0); keeps the buffers.
  void reset();

  // The conversation's ids: [0, position()) evaluated, the rest pending.
  std::span<const int32_t> tokens() const { return {tokens_.get(), size_t(n_tokens_)}; }
  int64_t pending_count() const { return n_tokens_ - position_; }
  // Appends ids as pending (not evaluated): e.g. a generation's last token. kOutOfRange if the
  // tokens would exceed max_context + 1 (one pending token may sit past a full context).
  Status append_pending(std::span<const int32_t> ids);
  // Keeps the first n tokens (n <= tokens().size()). Never runs the model: KV rows past n are
  // dropped by moving the position back; with MTP the position goes back one more token, which
  // the next prefill re-evaluates to rebuild the draft state.
  // Rings: a sliding-window layer's ring has overwritten the rows of positions more than about
  // window + max_batch back. When the kept tokens need such a row (the rewind goes back further
  // than the ring's slack: RewindTracker::restart_from), the position goes back to 0 and every
  // kept token becomes pending: the next call re-evaluates them all (same output, more work).
  // The same holds for every other rewind below (shift, the rollback of a failed evaluation,
  // mtp_reject; the latter two never go past the slack).
  Status truncate(int64_t n);
  // Context shift: keeps tokens [0, n_keep), drops the n_discard after them, and moves the rest
  // down. The moved tokens become pending (their positions changed, so their KV rows must be
  // recomputed); the next prefill evaluates them. Afterwards the session equals one fed the
  // shortened token sequence. Requires n_keep + n_discard <= tokens().size().
  Status shift(int64_t n_keep, int64_t n_discard);

  // --- MTP speculative decoding (SessionOptions::mtp), one draft token ---
  // With mtp, prefill also runs the MTP module over the prompt, one position behind (the last
  // position needs the token chosen after it). The caller then works with a "pending" token: the
  // last emitted one, not yet in the cache:
  //   mtp_begin(t, q):        after prefill: t follows the prompt; q [vocab] = MTP logits drafting
  //                           the token after t.
  //   mtp_verify(t, d, p2):   one forward over [t, d]; p2 [2, vocab]: row 0 judges d, row 1 is the
  //                           token after d. Then exactly one of:
  //   mtp_accept(d, b, q):    d was right; b (chosen from row 1) is the new pending token.
  //   mtp_reject(y, q):       d was wrong; y (chosen from row 0) is the new pending token.
  // Each leaves q = the MTP's logits for the token after the pending one, and the MTP and main
  // caches in step. Errors roll the positions back to before the call.
  Status mtp_begin(int32_t next, float* mtp_logits);
  // gate (optional, families/draft_gate.h): under an expert budget the pass may drop the draft
  // row part-way when its own expert misses would cost more than gate->allowance_seconds; then
  // only p2's row 0 is written and the caller must go on with mtp_reject. Ignored when every
  // expert is resident (nothing to read).
  Status mtp_verify(int32_t pending, int32_t draft, float* logits2, families::DraftRowGate* gate = nullptr);
  Status mtp_accept(int32_t draft, int32_t bonus, float* mtp_logits);
  Status mtp_reject(int32_t corrected, float* mtp_logits);
  // Plain steps between drafts (the DraftPolicy declined): evaluates the one pending token
  // without running the MTP; its final hidden row is kept. Logits [vocab]. The MTP is then
  // position() - mtp_position() >= 1 behind. When it drafts again (mtp_begin) or at the next
  // prefill, the MTP runs, batched, over the last kMtpWindow lagging positions only; older ones
  // are skipped (as here when the rows are full). Running the MTP over every position would cost
  // its layer on every token, which on a compute-bound model is most of what skipping drafts
  // saves. A skipped position keeps a zero (or stale, finite) row in the MTP's own cache: drafts
  // attend to it and may agree less often (the policy measures the acceptance it gets), but the
  // output never depends on drafts (each is verified). Errors as evaluate_pending.
  Status evaluate_pending_without_mtp(float* logits);
  static constexpr int64_t kMtpWindow = 8;
  // Leaves at most one position lagging (skipped as above): the state prefill leaves, and the
  // only one session files save (call it before save_session).
  Status mtp_settle();
  bool has_mtp() const { return mtp_cache_ != nullptr; }
  // The per-session draft decision and its estimates (kept across reset(): they measure the
  // model and machine, not the conversation).
  // Under an expert budget: lets the MTP block's resident experts be evicted first (call when the
  // draft policy stopped drafting, so that they do not hold slots the main layers miss). Returns
  // how many were demoted; 0 when resident or without MTP.
  int64_t demote_mtp_experts();
  DraftPolicy& draft_policy() { return draft_policy_; }
  const DraftPolicy& draft_policy() const { return draft_policy_; }
  const SpeculationStats& speculation_stats() const { return spec_stats_; }

  int64_t position() const { return position_; }  // tokens in the KV cache (evaluated)
  int64_t max_context() const { return options_.max_context; }
  int64_t max_batch() const { return options_.max_batch; }
  int64_t vocab_size() const { return model_.hparams().vocab_size; }
  const Model& model() const { return model_; }
  // Bytes this session allocated for its KV cache and for activations (+ logits).
  uint64_t kv_cache_bytes() const { return kv_cache_bytes_; }
  uint64_t scratch_bytes() const { return scratch_bytes_; }
  // Logits of the last token processed by generate_greedy ([vocab]); valid after it returns.
  std::span<const float> last_logits() const { return {logits_.get(), size_t(vocab_size())}; }

  KvType kv_type() const { return options_.kv_type; }

  // Raw state for saving and restoring a session (session/session_file.cpp), DEVICE memory of
  // model().backend() (read and write it with Backend::download / upload). The state arena holds
  // every layer's rows as layer_state_plan() describes (main layers, then the MTP block's when
  // has_mtp()); the MTP pending hidden row is [hidden_size] f32. Null when absent.
  const LayerStatePlan& layer_state_plan() const { return plan_; }
  uint8_t* state_data() { return static_cast<uint8_t*>(state_.get()); }
  const uint8_t* state_data() const { return static_cast<const uint8_t*>(state_.get()); }
  float* mtp_pending_hidden() { return static_cast<float*>(mtp_hidden_.get()); }
  const float* mtp_pending_hidden() const { return static_cast<const float*>(mtp_hidden_.get()); }
  int64_t mtp_position() const { return mtp_position_; }
  // The ring floors (session/layer_state.h), one per plan layer.
  const RewindTracker& rewind_tracker() const { return tracker_; }
  // Installs a restored state: tokens (all), evaluated position, MTP position and the ring floors
  // (the first floors.size() plan layers, or empty: none rewound, floor = max(0, position - rows)). Checked against
  // max_context; the caller has filled the caches.
  Status restore_state(std::span<const int32_t> tokens, int64_t position, int64_t mtp_position,
                       std::span<const int64_t> floors = {});

 private:
  Session(const Model& model, const SessionOptions& options) : model_(model), options_(options) {}
  // Room to evaluate every pending token plus n_tokens new ones.
  Status check_room(int64_t n_tokens) const;
  // Evaluates tokens_[position_, end) in max_batch chunks; logits as prefill (kAll: one row per
  // evaluated token). On error position_ (and the MTP state) go back to where they were.
  Status evaluate(int64_t end, LogitsMode mode, float* logits);
  Status check_ids(std::span<const int32_t> ids) const;
  // Moves position_ back to `to` (<= position_) through the RewindTracker: to `to`, or to 0 when
  // a ring no longer holds the rows the token at `to` needs (the kept tokens become pending).
  // The MTP position follows (min with the new position). Returns the new position.
  int64_t rewind_to(int64_t to);
  // Bookkeeping after a main forward of n_tokens tokens from position_ (rows were overwritten).
  void forwarded(int64_t n_tokens) { tracker_.forwarded(plan_, position_, n_tokens); }
  Status allocate_mtp();
  // The LayerCache of plan_.layers[plan_layer] in state_.
  families::LayerCache cache_of(size_t plan_layer) const;
  // One prefill chunk with MTP catch-up (see prefill).
  Status forward_chunk_mtp(const int32_t* ids, int64_t count, LogitsMode mode, float* logits);
  // MTP over positions mtp_position_ .. + n: next ids [n], main hidden rows [n, H]; logits of the
  // last position (optional) -> mtp_logits [vocab].
  Status run_mtp(const int32_t* next_ids, const float* hidden, int64_t n, float* mtp_logits);
  // Runs the MTP over the lagging positions [mtp_position_, position_ - keep) (their next ids
  // are known), moving the kept rows to the front; logits of the last (optional).
  Status mtp_catch_up(int64_t keep, float* mtp_logits);
  // Skips the lagging positions [mtp_position_, position_ - keep) without running the MTP, moving
  // the kept rows to the front.
  void mtp_skip(int64_t keep);
  // Rows of mtp_hidden_ usable for lagging positions (the rest is the backup row).
  int64_t mtp_row_capacity() const { return std::max<int64_t>(options_.max_batch, 2) + 1; }
  Result<int64_t> generate_speculative(std::span<int32_t> out, const GenerateOptions& options);
  // mtp_hidden_ row 0 <-> its backup row (a failed prefill restores the pending hidden state).
  void backup_pending_row();
  void restore_pending_row();

  using DeviceBuffer = std::unique_ptr<void, DeviceFree>;
  DeviceBuffer device_alloc(uint64_t bytes) const;
  float* mtp_rows() const { return static_cast<float*>(mtp_hidden_.get()); }
  std::span<const families::LayerCache> layer_caches() const {
    return {layer_caches_.get(), size_t(model_.hparams().n_layers)};
  }

  const Model& model_;
  SessionOptions options_;
  int64_t position_ = 0;
  int64_t n_tokens_ = 0;                    // tokens_ in use (>= position_)
  std::unique_ptr<int32_t[]> tokens_;       // [max_context + 1] the conversation's ids
  LayerStatePlan plan_;                     // per-layer state (main layers, then MTP's)
  RewindTracker tracker_{plan_};            // ring floors (re-made in create())
  DeviceBuffer state_;                      // device arena, plan_.total_bytes
  std::unique_ptr<families::LayerCache[]> layer_caches_;  // [n_layers] descriptors into state_
  DeviceBuffer arena_;                      // device activation scratch
  std::unique_ptr<uint8_t[]> host_arena_;   // host part of the scratch (routing)
  std::unique_ptr<float[]> logits_;         // [vocab], generate_greedy's logits
  families::DecoderScratch scratch_;
  uint64_t kv_cache_bytes_ = 0;
  uint64_t scratch_bytes_ = 0;
  // MTP state (SessionOptions::mtp only).
  uint8_t* mtp_cache_ = nullptr;          // the MTP block's own rows in state_ (null: no MTP)
  families::LayerCache mtp_layer_cache_;  // their descriptor
  DeviceBuffer mtp_hidden_;              // device [max_batch + 1, H] main final hidden states; row 0:
                                         // the position the MTP has not consumed yet
  std::unique_ptr<float[]> mtp_logits_;  // [vocab] generate's draft logits
  std::unique_ptr<float[]> verify_logits_;  // [2, vocab] generate's verify logits
  int64_t mtp_position_ = 0;             // positions the MTP cache holds (position_ or position_ - 1)
  SpeculationStats spec_stats_;
  DraftPolicy draft_policy_;
};

// Index of the largest logit; the lowest index wins ties. logits: [n], n >= 1.
int32_t argmax(const float* logits, int64_t n);

}  // namespace mote
