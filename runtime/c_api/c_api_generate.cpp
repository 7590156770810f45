// C API: tokenization, text generation with a streaming callback. Chat: c_api_chat.cpp.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "c_api/c_api_internal.h"
#include "session/text_generation.h"

using mote::capi::fail;
using mote::capi::from_status;
using mote::capi::guarded;

namespace {

// Copies `text` into a caller buffer under the "capacity in, length out" rule: on success *out_len
// is the text length (bytes, NUL excluded, as strlen); when the buffer is too small it is the
// capacity needed, NUL included, so a second call with that capacity succeeds.
}  // namespace

namespace mote::capi {

mote_status copy_out(const std::string& text, char* out, size_t capacity, size_t* out_len, const char* fn) {
  if (out_len == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, std::string(fn) + ": out_len is NULL");
  if (out == nullptr || capacity < text.size() + 1) {
    *out_len = text.size() + 1;
    return fail(MOTE_ERR_BUFFER_TOO_SMALL, std::string(fn) + ": needs " + std::to_string(text.size() + 1) + " bytes");
  }
  *out_len = text.size();
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return MOTE_OK;
}

mote_status copy_ids(const std::vector<int32_t>& result, int32_t* ids, size_t capacity, size_t* out_count,
                     const char* fn) {
  *out_count = result.size();
  if (result.empty()) return MOTE_OK;
  if (ids == nullptr || capacity < result.size())
    return fail(MOTE_ERR_BUFFER_TOO_SMALL, std::string(fn) + ": needs room for " + std::to_string(result.size()) + " ids");
  std::memcpy(ids, result.data(), result.size() * sizeof(int32_t));
  return MOTE_OK;
}

}  // namespace mote::capi


MOTE_EXPORT mote_status mote_tokenize_ex(const mote_model* model, const char* text, size_t text_len, int add_special,
                                         int parse_special, int32_t* ids, size_t capacity, size_t* out_count) {
  return guarded("mote_tokenize", [&]() -> mote_status {
    if (model == nullptr || (text == nullptr && text_len > 0) || out_count == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_tokenize: NULL argument");
    auto tokenizer = model->engine->require_tokenizer();
    if (!tokenizer) return from_status(tokenizer.status());
    std::vector<int32_t> result;
    mote::EncodeOptions options;
    options.add_special = add_special != 0;
    options.parse_special = parse_special != 0;
    const mote::Status st = (*tokenizer)->encode(std::string_view(text ? text : "", text_len), options, &result);
    if (!st) return from_status(st);
    return mote::capi::copy_ids(result, ids, capacity, out_count, "mote_tokenize");
  });
}

MOTE_EXPORT mote_status mote_tokenize(const mote_model* model, const char* text, size_t text_len, int add_special,
                                      int32_t* ids, size_t capacity, size_t* out_count) {
  return mote_tokenize_ex(model, text, text_len, add_special, add_special, ids, capacity, out_count);
}

MOTE_EXPORT mote_status mote_detokenize(const mote_model* model, const int32_t* ids, size_t count, int skip_special,
                                        char* out, size_t capacity, size_t* out_len) {
  return guarded("mote_detokenize", [&]() -> mote_status {
    if (model == nullptr || (ids == nullptr && count > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_detokenize: NULL argument");
    auto tokenizer = model->engine->require_tokenizer();
    if (!tokenizer) return from_status(tokenizer.status());
    // Real configs pad vocab_size past the tokenizer (DeepSeek-V3: 129280 rows, 128818 tokens).
    // Ids the model can emit but the tokenizer lacks decode as empty text, as in streaming
    // generation and Hugging Face tokenizers; ids outside the model's vocabulary stay an error.
    const int64_t model_vocab = model->model().hparams().vocab_size, tok_vocab = (*tokenizer)->vocab_size();
    std::vector<int32_t> kept;
    kept.reserve(count);
    for (size_t i = 0; i < count; ++i)
      if (ids[i] < tok_vocab || ids[i] >= model_vocab) kept.push_back(ids[i]);
    auto text = (*tokenizer)->decode(kept, skip_special != 0);
    if (!text) return from_status(text.status());
    return mote::capi::copy_out(*text, out, capacity, out_len, "mote_detokenize");
  });
}

MOTE_EXPORT mote_generate_params mote_generate_params_default(void) {
  mote_generate_params p{};
  p.sampling = mote_sampling_params_default();
  p.max_tokens = 256;
  p.stop = nullptr;
  p.n_stop = 0;
  p.ignore_eos = 0;
  p.add_special = 1;
  p.parse_special = 1;
  p.reuse_prefix = 0;
  return p;
}

namespace {

// mote_generate_params -> runtime options; MOTE_OK or the argument error.
mote_status generation_options(const mote_generate_params* params, mote::TextGenerationOptions* options) {
  const mote_generate_params p = params ? *params : mote_generate_params_default();
  options->sampling = mote::capi::to_sampling(p.sampling);
  options->max_tokens = p.max_tokens;
  options->ignore_eos = p.ignore_eos != 0;
  options->add_special = p.add_special != 0;
  options->parse_special = p.parse_special != 0;
  options->reuse_prefix = p.reuse_prefix != 0;
  for (size_t i = 0; i < p.n_stop; ++i) {
    if (p.stop == nullptr || p.stop[i] == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_generate: stop string " + std::to_string(i) + " is NULL");
    options->stop.emplace_back(p.stop[i]);
  }
  return MOTE_OK;
}

mote_stop_reason to_stop_reason(mote::StopReason reason) {
  switch (reason) {
    case mote::StopReason::kMaxTokens: return MOTE_STOP_MAX_TOKENS;
    case mote::StopReason::kEos: return MOTE_STOP_EOS;
    case mote::StopReason::kStopString: return MOTE_STOP_STRING;
    case mote::StopReason::kCancelled: return MOTE_STOP_CANCELLED;
  }
  return MOTE_STOP_NONE;
}

}  // namespace

namespace mote::capi {

namespace {

// Test hook (TextGenerationOptions::forced_acceptance): MOTE_TEST_FORCED_ACCEPTANCE=R in [0, 1]
// keeps each MTP draft with probability R whatever the model says (changes the output; for
// measuring what drafting costs, scripts/bench-mtp.sh). Unset or invalid: -1 (off).
double forced_acceptance_for_testing() {
  const char* v = std::getenv("MOTE_TEST_FORCED_ACCEPTANCE");
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  const double r = std::strtod(v, &end);
  return (*end == '\0' && r >= 0 && r <= 1) ? r : -1;
}

}  // namespace

mote_status run_generation(mote_session* session, const mote_generate_params* params, mote_token_callback callback,
                           void* user_data, const GenerationRun& run) {
  session->stop_reason = MOTE_STOP_NONE;
  session->last_prompt_tokens = session->last_reused_tokens = session->last_generated_tokens = 0;
  mote::TextGenerationOptions options;
  if (mote_status st = generation_options(params, &options); st != MOTE_OK) return st;
  options.context_shift = session->context_policy == MOTE_CONTEXT_SHIFT;
  options.n_keep = session->n_keep;
  options.forced_acceptance = forced_acceptance_for_testing();
  const char* gate = std::getenv("MOTE_TEST_DRAFT_GATE");  // measurement hook: "0" turns the gate off
  options.draft_gate = gate == nullptr || std::string_view(gate) != "0";
  int64_t streamed = 0;  // tokens the callback saw: the count an error mid-generation reports
  mote::TokenCallback on_token = [&](int32_t token, std::string_view text) {
    if (token >= 0) ++streamed;
    return callback == nullptr || callback(user_data, token, text.data(), text.size()) == 0;
  };
  auto result = run(options, on_token);
  if (!result) {
    if (streamed > 0) session->stop_reason = MOTE_STOP_ERROR;
    session->last_generated_tokens = streamed;
    return from_status(result.status());
  }
  session->prompt_tokens += result->prompt_tokens;
  session->generated_tokens += result->generated_tokens;
  session->prefill_seconds += result->prefill_seconds;
  session->decode_seconds += result->decode_seconds;
  session->context_shifts += result->context_shifts;
  session->draft_steps += result->draft_steps;
  session->drafts_accepted += result->drafts_accepted;
  session->draft_skipped += result->draft_skipped;
  session->draft_probes += result->draft_probes;
  session->draft_dropped += result->draft_dropped;
  if (const mote::DraftPolicy& policy = session->session->draft_policy();
      session->session->has_mtp() && policy.mode() == mote::DraftMode::kAdaptive) {
    std::lock_guard<std::mutex> lock(session->owner->draft_mu);  // the next session starts from here
    session->owner->draft_prior = policy;
  }
  session->stop_reason = to_stop_reason(result->reason);
  session->last_prompt_tokens = result->prompt_tokens;
  session->last_reused_tokens = result->reused_tokens;
  session->last_generated_tokens = result->generated_tokens;
  if (result->reason == mote::StopReason::kCancelled)
    return fail(MOTE_ERR_CANCELLED, "generation cancelled by the token callback after " +
                                        std::to_string(result->generated_tokens) + " tokens");
  return MOTE_OK;
}

}  // namespace mote::capi

using mote::capi::run_generation;

MOTE_EXPORT mote_status mote_generate(mote_session* session, const char* prompt, size_t prompt_len,
                                      const mote_generate_params* params, mote_token_callback callback,
                                      void* user_data) {
  return guarded("mote_generate", [&]() -> mote_status {
    if (session == nullptr || (prompt == nullptr && prompt_len > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_generate: NULL argument");
    const mote::capi::ModelThreadsScope threads(session->owner);  // the model's kernel threads
    const std::string_view text(prompt ? prompt : "", prompt_len);
    return run_generation(session, params, callback, user_data, [&](auto& options, const auto& on_token) {
      return mote::generate_text(*session->owner->engine, *session->session, text, options, on_token);
    });
  });
}

MOTE_EXPORT mote_status mote_generate_tokens(mote_session* session, const int32_t* prompt_ids, size_t n_ids,
                                             const mote_generate_params* params, mote_token_callback callback,
                                             void* user_data) {
  return guarded("mote_generate_tokens", [&]() -> mote_status {
    if (session == nullptr || (prompt_ids == nullptr && n_ids > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_generate_tokens: NULL argument");
    const mote::capi::ModelThreadsScope threads(session->owner);  // the model's kernel threads
    const std::span<const int32_t> ids(prompt_ids, n_ids);
    return run_generation(session, params, callback, user_data, [&](auto& options, const auto& on_token) {
      return mote::generate_from_ids(*session->owner->engine, *session->session, ids, options, on_token);
    });
  });
}
