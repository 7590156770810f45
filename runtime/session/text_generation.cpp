#include "session/text_generation.h"

#include <chrono>
#include <memory>
#include <optional>

#include <algorithm>

#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"
#include "session/finite_check.h"

namespace mote {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Emits decoded text through the stop matcher; returns false if the callback cancelled.
bool emit(const TokenCallback& on_token, int32_t token, std::string_view text) {
  return !on_token || on_token(token, text);
}

}  // namespace

namespace {

// Per generated token: EOS check, streamed UTF-8-safe text through the stop matcher, callback.
// Without a tokenizer (null) every token's text is empty: ids only.
class Emitter {
 public:
  Emitter(const Engine& engine, const TextGenerationOptions& options, const TokenCallback& on_token,
          const Tokenizer* tokenizer, StopMatcher& stops, TextGenerationResult& result)
      : engine_(engine), options_(options), on_token_(on_token), stops_(stops), result_(result) {
    if (tokenizer != nullptr) decoder_.emplace(*tokenizer);
  }

  // Handles one token; returns false when generation must stop (EOS, stop string, cancel, max).
  bool push(int32_t token) {
    ++result_.generated_tokens;
    if (!options_.ignore_eos && is_eos_token(token, engine_.eos_ids())) {
      result_.reason = StopReason::kEos;
      return false;
    }
    piece_.clear();
    if (decoder_) decoder_->push(token, &piece_);
    const StopFeedResult fed = stops_.feed(piece_);
    if (!emit(on_token_, token, fed.text)) {
      result_.reason = StopReason::kCancelled;
      return false;
    }
    if (fed.stopped) {
      result_.reason = StopReason::kStopString;
      return false;
    }
    return result_.generated_tokens < options_.max_tokens;
  }

  // The held-back text (incomplete UTF-8, partial stop strings) once generation ends.
  void finish() {
    if (result_.reason == StopReason::kCancelled || result_.reason == StopReason::kStopString) return;
    piece_.clear();
    if (decoder_) decoder_->flush(&piece_);
    std::string tail(stops_.feed(piece_).text);
    tail += stops_.flush();
    if (!tail.empty() && !emit(on_token_, -1, tail)) result_.reason = StopReason::kCancelled;
  }

 private:
  const Engine& engine_;
  const TextGenerationOptions& options_;
  const TokenCallback& on_token_;
  std::optional<StreamDecoder> decoder_;
  StopMatcher& stops_;
  TextGenerationResult& result_;
  std::string piece_;
};

// Makes room for `needed` more tokens when the options allow a context shift: keeps the first
// n_keep tokens and drops at least half of the rest (fewer shifts, each re-evaluating the kept
// tail). kOutOfRange when not allowed or not possible.
Status make_room(Session& session, int64_t needed, const TextGenerationOptions& options,
                 TextGenerationResult& result) {
  const int64_t held = int64_t(session.tokens().size());
  const int64_t over = held + needed - session.max_context();
  if (over <= 0) return Status::ok();
  const int64_t keep = std::min(std::max<int64_t>(options.n_keep, 0), held);
  const int64_t discard = std::min(held - keep, std::max(over, (held - keep) / 2));
  if (!options.context_shift || discard < over)
    return out_of_range("context full: " + std::to_string(held) + " tokens held + " + std::to_string(needed) +
                        " new > max_context " + std::to_string(session.max_context()) +
                        (options.context_shift ? " even after dropping every token past the kept " +
                                                     std::to_string(keep)
                                               : std::string(" (reset, truncate, or use the shift context policy)")));
  MOTE_RETURN_IF_ERROR(session.shift(keep, discard));
  ++result.context_shifts;
  return Status::ok();
}

// Plain decoding: sample, emit, feed back. The last emitted token stays pending in the session.
Status decode_loop(Session& session, Sampler& sampler, Emitter& out, std::vector<float>& logits,
                   const TextGenerationOptions& options, TextGenerationResult& result) {
  for (;;) {
    MOTE_RETURN_IF_ERROR(check_logits(logits, session.position() - 1));
    const int32_t token = sampler.sample(logits);
    if (!out.push(token)) return session.append_pending({&token, 1});
    MOTE_RETURN_IF_ERROR(sampler.accept(token));
    MOTE_RETURN_IF_ERROR(make_room(session, 1, options, result));
    MOTE_RETURN_IF_ERROR(session.decode(token, logits.data()));
  }
}

// Draws from a dense distribution [n] (sums to ~1) with one uniform; the last nonzero id absorbs rounding.
int32_t draw(const float* p, int64_t n, double u) {
  double acc = 0;
  int32_t last = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] <= 0) continue;
    acc += p[i];
    last = int32_t(i);
    if (u < acc) return last;
  }
  return last;
}

// Speculative decoding with the MTP module (one draft token), drafting on the steps the
// session's DraftPolicy chooses (session/draft_policy.h); the other steps are plain one-token
// passes that skip the MTP (Session::evaluate_pending_without_mtp). Greedy: the draft is the
// MTP's argmax and is kept when the verify pass agrees, so the output is the plain greedy
// output. Sampling: the token is drawn from the verify row exactly as plain decoding would draw
// it and the draft (the MTP's argmax) is kept only if equal, so the emitted tokens are plain
// sampling's for the same seed (this replaced the speculative-sampling rule min(1, p/q), which
// keeps drafts more often but makes the tokens depend on which steps drafted). Either way the
// choice to draft, which depends on measured times only, changes no token.
// Each step is timed (steady clock, from the decision to the emitted tokens, the callback
// excluded) and reported to the policy; a draft step's time leaves out mtp_begin's catch-up of
// the MTP after plain steps, which is reported apart (DraftPolicy::record_switch: paid once per
// switch, it is part of a probe's price).
// Runs until generation ends, or (*shifted) until the context was shifted: the session is then in
// the after-prefill state with `logits` for the next token, and speculation starts over.
Status speculative_run(Session& session, Sampler& sampler, Emitter& out, std::vector<float>& logits,
                       const TextGenerationOptions& options, TextGenerationResult& result, bool* shifted) {
  const int64_t V = session.vocab_size();
  const size_t n = static_cast<size_t>(V);
  std::vector<float> q_logits(n), verify(2 * n), q(n), residual(n);
  Rng rng(sampler.params().seed ^ 0x5bd1e995u);
  Rng forced_rng(sampler.params().seed ^ 0x9e3779b9u);
  DraftPolicy& policy = session.draft_policy();
  const int64_t probes_before = policy.probes();
  MOTE_RETURN_IF_ERROR(check_logits(logits, session.position() - 1));
  int32_t pending = sampler.sample(logits);
  if (!out.push(pending)) return session.append_pending({&pending, 1});
  bool q_ready = false;  // q_logits draft the token after pending (after mtp_begin/accept/reject)
  for (;;) {
    result.draft_probes = policy.probes() - probes_before;
    MOTE_RETURN_IF_ERROR(sampler.accept(pending));
    if (!q_ready) MOTE_RETURN_IF_ERROR(session.append_pending({&pending, 1}));  // after a plain step
    if (session.position() + 2 > session.max_context()) {  // no room to verify two
      if (options.context_shift) {
        MOTE_RETURN_IF_ERROR(make_room(session, 1, options, result));
        *shifted = true;
        return session.evaluate_pending(logits.data());
      }
      MOTE_RETURN_IF_ERROR(session.evaluate_pending(logits.data()));  // plain steps to the end
      return decode_loop(session, sampler, out, logits, options, result);
    }
    Clock::time_point t0 = Clock::now();
    if (!policy.next_is_draft()) {
      MOTE_RETURN_IF_ERROR(session.evaluate_pending_without_mtp(logits.data()));
      q_ready = false;
      MOTE_RETURN_IF_ERROR(check_logits(logits, session.position() - 1));
      pending = sampler.sample(logits);
      policy.record_plain(seconds_since(t0));
      ++result.draft_skipped;
      if (!out.push(pending)) return session.append_pending({&pending, 1});
      continue;
    }
    if (!q_ready) {
      MOTE_RETURN_IF_ERROR(session.mtp_begin(pending, q_logits.data()));
      policy.record_switch(seconds_since(t0));
      q_ready = true;
      t0 = Clock::now();
    }
    // pending sits at index position(); the draft's MTP logits and verify row 0 predict index
    // position() + 1, verify row 1 the one after.
    const int64_t at = session.position();
    MOTE_RETURN_IF_ERROR(check_logits(q_logits, at, "MTP draft logits"));
    const bool greedy = sampler.params().temperature <= 0;
    int32_t draft = 0;
    if (greedy) {
      draft = sampler.sample(q_logits);
      const std::span<const float> qp = sampler.probabilities();
      std::copy(qp.begin(), qp.end(), q.begin());
    } else {
      draft = argmax(q_logits.data(), V);  // the sampler's random stream is left to the emitted tokens
    }
    // Under an expert budget the pass drops the draft row when its own misses would cost more
    // than the policy's allowance (families/draft_gate.h); the step is then a rejected draft.
    families::DraftRowGate gate{policy.miss_allowance(), session.model().expert_store().read_seconds_per_byte()};
    MOTE_RETURN_IF_ERROR(session.mtp_verify(pending, draft, verify.data(), options.draft_gate ? &gate : nullptr));
    // Both rows (pending's and the draft's), or row 0 alone when the draft row was dropped.
    MOTE_RETURN_IF_ERROR(check_logits({verify.data(), gate.dropped ? n : 2 * n}, at));
    ++result.draft_steps;
    result.draft_dropped += gate.dropped ? 1 : 0;
    // Sampling: the token at this position is drawn exactly as plain decoding draws it (same
    // sampler, same random stream, one draw per token) and the draft is kept only if it is that
    // token. The emitted tokens are then those of plain sampling with the same seed, whichever
    // steps drafted (the policy's choice depends on measured times, so anything else would make a
    // seed's output depend on the machine's load), and follow the sampler's distribution.
    int32_t target = -1;
    bool keep = false;
    if (greedy) {
      sampler.distribution({verify.data(), size_t(V)});
      keep = sampler.probabilities()[size_t(draft)] > 0;
    } else {
      target = sampler.sample({verify.data(), size_t(V)});
      keep = target == draft;
    }
    if (options.forced_acceptance >= 0) keep = forced_rng.uniform() < options.forced_acceptance;
    if (gate.dropped) keep = false;  // row 1 was not computed
    if (!keep) {
      int32_t corrected = target;
      if (greedy) {  // p and q are one-hot: the residual normalise(max(0, p - q)) is p's token
        const std::span<const float> p = sampler.probabilities();
        double total = 0;
        for (int64_t i = 0; i < V; ++i) total += residual[size_t(i)] = std::max(0.0f, p[size_t(i)] - q[size_t(i)]);
        corrected = total > 0 ? draw(residual.data(), V, rng.uniform() * total) : draw(p.data(), V, rng.uniform());
      }
      MOTE_RETURN_IF_ERROR(session.mtp_reject(corrected, q_logits.data()));
      if (gate.dropped)
        policy.record_dropped(seconds_since(t0));
      else
        policy.record_draft(seconds_since(t0), false, gate.spent_seconds);
      if (policy.idle()) session.demote_mtp_experts();  // a probe that did not pay
      pending = corrected;
      if (!out.push(corrected)) return Status::ok();
      continue;
    }
    ++result.drafts_accepted;
    if (!out.push(draft)) return session.mtp_reject(draft, q_logits.data());  // d ends it: d is pending
    MOTE_RETURN_IF_ERROR(sampler.accept(draft));
    const int32_t bonus = sampler.sample({verify.data() + V, size_t(V)});
    MOTE_RETURN_IF_ERROR(session.mtp_accept(draft, bonus, q_logits.data()));
    policy.record_draft(seconds_since(t0), true, gate.spent_seconds);
    if (policy.idle()) session.demote_mtp_experts();
    pending = bonus;
    if (!out.push(bonus)) return Status::ok();
  }
}

Status speculative_loop(Session& session, Sampler& sampler, Emitter& out, std::vector<float>& logits,
                        const TextGenerationOptions& options, TextGenerationResult& result) {
  for (bool shifted = true; shifted;) {
    shifted = false;
    MOTE_RETURN_IF_ERROR(speculative_run(session, sampler, out, logits, options, result, &shifted));
  }
  // The MTP may lag behind after plain steps: the next prefill (or mote_session_save, through
  // Session::mtp_settle) catches it up in one batched pass, outside the decode loop's time.
  return Status::ok();
}

}  // namespace

namespace {

// reuse_prefix: keeps the session's longest common prefix with `prompt` (leaving at least the
// prompt's last token to evaluate, for its logits) and returns the part still to evaluate.
Result<std::span<const int32_t>> reuse_prefix(Session& session, std::span<const int32_t> prompt,
                                              TextGenerationResult& result) {
  const std::span<const int32_t> held = session.tokens();
  size_t common = 0;
  const size_t limit = std::min(held.size(), prompt.size() - 1);
  while (common < limit && held[common] == prompt[common]) ++common;
  MOTE_RETURN_IF_ERROR(session.truncate(int64_t(common)));
  result.reused_tokens = std::min<int64_t>(int64_t(common), session.position());
  return prompt.subspan(common);
}

}  // namespace

Result<TextGenerationResult> generate_from_ids(const Engine& engine, Session& session,
                                               std::span<const int32_t> prompt_ids,
                                               const TextGenerationOptions& options, const TokenCallback& on_token) {
  // Ids need no tokenizer; text (the streamed pieces, stop strings) does.
  const Tokenizer* tokenizer = engine.tokenizer();
  if (tokenizer == nullptr && !options.stop.empty())
    return invalid_argument("generate: stop strings need a tokenizer: " +
                            engine.require_tokenizer().status().message());
  if (prompt_ids.empty()) return invalid_argument("generate: the prompt is empty");
  if (options.max_tokens < 1) return invalid_argument("generate: max_tokens must be >= 1");
  MOTE_ASSIGN_OR_RETURN(Sampler sampler, Sampler::create(options.sampling, session.vocab_size()));
  MOTE_ASSIGN_OR_RETURN(StopMatcher stops, StopMatcher::create(options.stop));
  TextGenerationResult result;
  std::span<const int32_t> fresh = prompt_ids;
  if (options.reuse_prefix) {
    MOTE_ASSIGN_OR_RETURN(fresh, reuse_prefix(session, prompt_ids, result));
  }
  // Fail before any work if prompt + generation cannot fit (the last token stays pending); with
  // the shift policy only the prompt must fit now, generation shifts as it goes.
  const int64_t held = int64_t(session.tokens().size()), n_fresh = int64_t(fresh.size());
  if (options.context_shift) {
    MOTE_RETURN_IF_ERROR(make_room(session, n_fresh, options, result));
  } else if (held + n_fresh + options.max_tokens - 1 > session.max_context()) {
    return out_of_range("generate: " + std::to_string(held) + " tokens in context + " + std::to_string(n_fresh) +
                        " prompt + " + std::to_string(options.max_tokens) + " new exceed max_context " +
                        std::to_string(session.max_context()));
  }
  MOTE_RETURN_IF_ERROR(sampler.accept_prompt(prompt_ids));

  std::vector<float> logits(size_t(session.vocab_size()));
  result.prompt_tokens = session.pending_count() + n_fresh;
  auto start = Clock::now();
  MOTE_RETURN_IF_ERROR(session.prefill(fresh, logits.data(), LogitsMode::kLast));
  result.prefill_seconds = seconds_since(start);

  Emitter out(engine, options, on_token, tokenizer, stops, result);
  start = Clock::now();
  const Status st = options.speculative && session.has_mtp()
                        ? speculative_loop(session, sampler, out, logits, options, result)
                        : decode_loop(session, sampler, out, logits, options, result);
  result.decode_seconds = seconds_since(start);
  MOTE_RETURN_IF_ERROR(st);
  out.finish();
  return result;
}

Result<TextGenerationResult> generate_text(const Engine& engine, Session& session, std::string_view prompt,
                                           const TextGenerationOptions& options, const TokenCallback& on_token) {
  MOTE_ASSIGN_OR_RETURN(const Tokenizer* tokenizer, engine.require_tokenizer());
  std::vector<int32_t> ids;
  EncodeOptions encode;
  encode.add_special = options.add_special && (session.tokens().empty() || options.reuse_prefix);
  encode.parse_special = options.parse_special;
  MOTE_RETURN_IF_ERROR(tokenizer->encode(prompt, encode, &ids));
  return generate_from_ids(engine, session, ids, options, on_token);
}

}  // namespace mote
