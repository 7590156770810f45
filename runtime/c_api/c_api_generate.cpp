// C API: tokenization, text generation with a streaming callback, chat rendering.
#include <cstring>
#include <string>
#include <vector>

#include "c_api/c_api_internal.h"
#include "session/text_generation.h"

using mote::capi::fail;
using mote::capi::from_status;
using mote::capi::guarded;

namespace {

// Copies `text` into a caller buffer under the "capacity in, length out" rule (NUL-terminated
// when it fits).
mote_status copy_out(const std::string& text, char* out, size_t capacity, size_t* out_len, const char* fn) {
  if (out_len == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, std::string(fn) + ": out_len is NULL");
  *out_len = text.size();
  if (out == nullptr || capacity < text.size() + 1)
    return fail(MOTE_ERR_BUFFER_TOO_SMALL, std::string(fn) + ": needs " + std::to_string(text.size() + 1) + " bytes");
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return MOTE_OK;
}

mote::SamplingParams to_sampling(const mote_sampling_params& p) {
  mote::SamplingParams s;
  s.temperature = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repetition_penalty = p.repetition_penalty;
  s.presence_penalty = p.presence_penalty;
  s.penalty_last_n = p.penalty_last_n;
  s.seed = p.seed;
  return s;
}

}  // namespace

MOTE_EXPORT mote_status mote_tokenize(const mote_model* model, const char* text, size_t text_len, int add_special,
                                      int32_t* ids, size_t capacity, size_t* out_count) {
  return guarded("mote_tokenize", [&]() -> mote_status {
    if (model == nullptr || (text == nullptr && text_len > 0) || out_count == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_tokenize: NULL argument");
    auto tokenizer = model->engine->require_tokenizer();
    if (!tokenizer) return from_status(tokenizer.status());
    std::vector<int32_t> result;
    const mote::Status st = (*tokenizer)->encode(std::string_view(text ? text : "", text_len), add_special != 0, &result);
    if (!st) return from_status(st);
    *out_count = result.size();
    if (ids == nullptr || capacity < result.size())
      return fail(MOTE_ERR_BUFFER_TOO_SMALL, "mote_tokenize: needs room for " + std::to_string(result.size()) + " ids");
    std::memcpy(ids, result.data(), result.size() * sizeof(int32_t));
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_detokenize(const mote_model* model, const int32_t* ids, size_t count, int skip_special,
                                        char* out, size_t capacity, size_t* out_len) {
  return guarded("mote_detokenize", [&]() -> mote_status {
    if (model == nullptr || (ids == nullptr && count > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_detokenize: NULL argument");
    auto tokenizer = model->engine->require_tokenizer();
    if (!tokenizer) return from_status(tokenizer.status());
    auto text = (*tokenizer)->decode(std::span<const int32_t>(ids, count), skip_special != 0);
    if (!text) return from_status(text.status());
    return copy_out(*text, out, capacity, out_len, "mote_detokenize");
  });
}

MOTE_EXPORT mote_sampling_params mote_sampling_params_default(void) {
  mote_sampling_params p{};
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.penalty_last_n = 64;
  p.seed = 0;
  return p;
}

MOTE_EXPORT mote_generate_params mote_generate_params_default(void) {
  mote_generate_params p{};
  p.sampling = mote_sampling_params_default();
  p.max_tokens = 256;
  p.stop = nullptr;
  p.n_stop = 0;
  p.ignore_eos = 0;
  p.add_special = 1;
  return p;
}

MOTE_EXPORT mote_status mote_generate(mote_session* session, const char* prompt, size_t prompt_len,
                                      const mote_generate_params* params, mote_token_callback callback,
                                      void* user_data) {
  return guarded("mote_generate", [&]() -> mote_status {
    if (session == nullptr || (prompt == nullptr && prompt_len > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_generate: NULL argument");
    const mote_generate_params p = params ? *params : mote_generate_params_default();
    mote::TextGenerationOptions options;
    options.sampling = to_sampling(p.sampling);
    options.max_tokens = p.max_tokens;
    options.ignore_eos = p.ignore_eos != 0;
    options.add_special = p.add_special != 0;
    for (size_t i = 0; i < p.n_stop; ++i) {
      if (p.stop == nullptr || p.stop[i] == nullptr)
        return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_generate: stop string " + std::to_string(i) + " is NULL");
      options.stop.emplace_back(p.stop[i]);
    }
    mote::TokenCallback on_token;
    if (callback != nullptr) {
      on_token = [&](int32_t token, std::string_view text) {
        return callback(user_data, token, text.data(), text.size()) == 0;
      };
    }
    auto result = mote::generate_text(*session->owner->engine, *session->session,
                                      std::string_view(prompt ? prompt : "", prompt_len), options, on_token);
    if (!result) return from_status(result.status());
    session->prompt_tokens += result->prompt_tokens;
    session->generated_tokens += result->generated_tokens;
    session->prefill_seconds += result->prefill_seconds;
    session->decode_seconds += result->decode_seconds;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_chat_render(const mote_model* model, const mote_chat_message* messages, size_t count,
                                         int add_generation_prompt, char* out, size_t capacity, size_t* out_len) {
  return guarded("mote_chat_render", [&]() -> mote_status {
    if (model == nullptr || (messages == nullptr && count > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_chat_render: NULL argument");
    auto family = model->engine->chat_family();
    if (!family) return from_status(family.status());
    std::vector<mote::ChatMessage> list;
    for (size_t i = 0; i < count; ++i) {
      if (messages[i].role == nullptr || messages[i].content == nullptr)
        return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_chat_render: message " + std::to_string(i) + " has a NULL field");
      mote::ChatMessage m;
      m.role = messages[i].role;
      m.content = messages[i].content;
      list.push_back(std::move(m));
    }
    mote::ChatRenderOptions options;
    options.add_generation_prompt = add_generation_prompt != 0;
    if (const mote::Tokenizer* tok = model->engine->tokenizer()) {
      options.bos_token = tok->bos_id() >= 0 ? tok->token_text(tok->bos_id()) : "";
      options.eos_token = tok->eos_ids().empty() ? "" : tok->token_text(tok->eos_ids().front());
    }
    auto rendered = mote::render_chat(*family, list, options);
    if (!rendered) return from_status(rendered.status());
    return copy_out(*rendered, out, capacity, out_len, "mote_chat_render");
  });
}
