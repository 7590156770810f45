#include "session/text_generation.h"

#include <chrono>
#include <memory>

#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"

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

Result<TextGenerationResult> generate_from_ids(const Engine& engine, Session& session,
                                               std::span<const int32_t> prompt_ids,
                                               const TextGenerationOptions& options, const TokenCallback& on_token) {
  MOTE_ASSIGN_OR_RETURN(const Tokenizer* tokenizer, engine.require_tokenizer());
  if (prompt_ids.empty()) return invalid_argument("generate: the prompt is empty");
  if (options.max_tokens < 1) return invalid_argument("generate: max_tokens must be >= 1");
  MOTE_ASSIGN_OR_RETURN(Sampler sampler, Sampler::create(options.sampling, session.vocab_size()));
  MOTE_ASSIGN_OR_RETURN(StopMatcher stops, StopMatcher::create(options.stop));
  // Fail before any work if prompt + generation cannot fit (the last token is never fed back).
  if (session.position() + int64_t(prompt_ids.size()) + options.max_tokens - 1 > session.max_context())
    return out_of_range("generate: " + std::to_string(session.position()) + " tokens in context + " +
                        std::to_string(prompt_ids.size()) + " prompt + " + std::to_string(options.max_tokens) +
                        " new exceed max_context " + std::to_string(session.max_context()));
  MOTE_RETURN_IF_ERROR(sampler.accept_prompt(prompt_ids));

  std::vector<float> logits(size_t(session.vocab_size()));
  TextGenerationResult result;
  result.prompt_tokens = int64_t(prompt_ids.size());
  auto start = Clock::now();
  MOTE_RETURN_IF_ERROR(session.prefill(prompt_ids, logits.data(), LogitsMode::kLast));
  result.prefill_seconds = seconds_since(start);

  StreamDecoder decoder(*tokenizer);
  std::string piece;
  start = Clock::now();
  for (int64_t i = 0; i < options.max_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    ++result.generated_tokens;
    if (!options.ignore_eos && is_eos_token(token, engine.eos_ids())) {
      result.reason = StopReason::kEos;
      break;
    }
    piece.clear();
    decoder.push(token, &piece);
    const StopFeedResult fed = stops.feed(piece);
    if (!emit(on_token, token, fed.text)) {
      result.reason = StopReason::kCancelled;
      break;
    }
    if (fed.stopped) {
      result.reason = StopReason::kStopString;
      break;
    }
    if (i + 1 == options.max_tokens) break;
    MOTE_RETURN_IF_ERROR(sampler.accept(token));
    MOTE_RETURN_IF_ERROR(session.decode(token, logits.data()));
  }
  result.decode_seconds = seconds_since(start);
  if (result.reason != StopReason::kCancelled && result.reason != StopReason::kStopString) {
    piece.clear();
    decoder.flush(&piece);
    std::string tail(stops.feed(piece).text);
    tail += stops.flush();
    if (!tail.empty() && !emit(on_token, -1, tail)) result.reason = StopReason::kCancelled;
  }
  if (result.reason == StopReason::kCancelled) return Status(StatusCode::kCancelled, "generation cancelled");
  return result;
}

Result<TextGenerationResult> generate_text(const Engine& engine, Session& session, std::string_view prompt,
                                           const TextGenerationOptions& options, const TokenCallback& on_token) {
  MOTE_ASSIGN_OR_RETURN(const Tokenizer* tokenizer, engine.require_tokenizer());
  std::vector<int32_t> ids;
  MOTE_RETURN_IF_ERROR(tokenizer->encode(prompt, options.add_special && session.position() == 0, &ids));
  return generate_from_ids(engine, session, ids, options, on_token);
}

}  // namespace mote
