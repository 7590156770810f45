// Text generation over a Session: prompt text -> tokens -> prefill -> sample/decode loop with
// streamed, UTF-8-safe text, stop strings, end-of-sequence tokens, cancellation and timing.
// Used by the C API (mote_generate) and the mote CLI (run, chat).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sampling/sampling_params.h"
#include "session/engine.h"
#include "session/session.h"

namespace mote {

struct TextGenerationOptions {
  SamplingParams sampling;          // temperature 0 = greedy
  int64_t max_tokens = 256;
  std::vector<std::string> stop;    // stop strings; not emitted
  bool ignore_eos = false;
  bool add_special = true;          // prepend BOS when the session is at position 0
  bool parse_special = true;        // control tokens in the prompt text become their ids
                                    // (false: untrusted text, control spellings stay plain)
  bool speculative = true;          // draft with the MTP module when the session has one
                                    // (SessionOptions::mtp), on the steps its DraftPolicy picks:
                                    // greedy and sampled tokens (same seed) are plain decoding's
  bool reuse_prefix = false;        // the prompt is the whole conversation: keep the session's
                                    // longest common prefix with it (at most all but its last
                                    // token) and evaluate only the rest
  bool context_shift = false;       // when the context is full: keep the first n_keep tokens,
                                    // drop the oldest half of the rest and go on (Session::shift);
                                    // false: a kOutOfRange error up front
  int64_t n_keep = 0;
  // Test hook (not in the C API; the C API reads it from the environment variable
  // MOTE_TEST_FORCED_ACCEPTANCE): in [0, 1], each draft is kept with this probability whatever
  // the model says, so the cost side of drafting can be measured on a model whose MTP head never
  // agrees (or always does). Changes the output; < 0 (default): off.
  double forced_acceptance = -1;
  // The per-step draft gate under an expert budget (families/draft_gate.h). Measurement hook
  // (the C API reads MOTE_TEST_DRAFT_GATE=0 to turn it off, for A/B runs of scripts/bench-mtp.sh).
  bool draft_gate = true;
};

// Called per generated token with the text that became safe to show (may be empty). Return
// false to cancel: generation stops and returns kCancelled.
using TokenCallback = std::function<bool(int32_t token, std::string_view text)>;

enum class StopReason { kMaxTokens, kEos, kStopString, kCancelled };

struct TextGenerationResult {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  StopReason reason = StopReason::kMaxTokens;
  int64_t draft_steps = 0;          // speculative verify passes
  int64_t drafts_accepted = 0;
  int64_t draft_skipped = 0;        // plain steps in an MTP session (the DraftPolicy declined)
  int64_t draft_probes = 0;         // draft steps taken only to refresh the estimates
  int64_t draft_dropped = 0;        // of draft_steps, those whose draft row the gate dropped
  int64_t reused_tokens = 0;        // kept from the session by reuse_prefix
  int64_t context_shifts = 0;
};

// Every logits row is checked before sampling (session/finite_check.h): NaN/Inf is a kNonFinite
// error naming the position.
// Appends `prompt` after the session's tokens and generates. The session keeps the context
// (prompt + every generated token; the last one stays pending and is evaluated by the next call),
// so a chat can continue with the next turn's text. The Session must belong to engine.model().
// Errors: no tokenizer, bad sampling params, context full. A cancel is not an error: the result
// says kCancelled and counts what was generated (the tokens stay in the session).
Result<TextGenerationResult> generate_text(const Engine& engine, Session& session, std::string_view prompt,
                                           const TextGenerationOptions& options, const TokenCallback& on_token);

// Same from token ids (no tokenization of the prompt). With reuse_prefix the ids may be empty only
// if the session is too (kInvalidArgument otherwise, as any empty prompt). Needs no tokenizer:
// without one the callback's text is empty (ids only) and stop strings are kInvalidArgument.
Result<TextGenerationResult> generate_from_ids(const Engine& engine, Session& session,
                                               std::span<const int32_t> prompt_ids,
                                               const TextGenerationOptions& options, const TokenCallback& on_token);

}  // namespace mote
