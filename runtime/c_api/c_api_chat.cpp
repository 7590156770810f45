// C API: chat rendering (text) and chat tokenization (ids, message fields kept plain).
#include <algorithm>
#include <string>
#include <vector>

#include "c_api/c_api_internal.h"
#include "chat/chat_tokenize.h"

using mote::capi::fail;
using mote::capi::from_status;
using mote::capi::guarded;

namespace {

// C messages -> runtime messages; MOTE_OK or MOTE_ERR_INVALID_ARGUMENT naming the message.
mote_status to_messages(const mote_chat_message* messages, size_t count, const char* fn,
                        std::vector<mote::ChatMessage>* list) {
  for (size_t i = 0; i < count; ++i) {
    if (messages[i].role == nullptr || messages[i].content == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, std::string(fn) + ": message " + std::to_string(i) + " has a NULL field");
    mote::ChatMessage m;
    m.role = messages[i].role;
    m.content = messages[i].content;
    list->push_back(std::move(m));
  }
  return MOTE_OK;
}

// bos/eos as the template writes them, from the model's tokenizer (empty without one).
mote::ChatRenderOptions render_options(const mote_model* model, int add_generation_prompt) {
  mote::ChatRenderOptions options;
  options.add_generation_prompt = add_generation_prompt != 0;
  if (const mote::Tokenizer* tok = model->engine->tokenizer()) {
    options.bos_token = tok->bos_id() >= 0 ? tok->token_text(tok->bos_id()) : "";
    options.eos_token = tok->eos_ids().empty() ? "" : tok->token_text(tok->eos_ids().front());
  }
  return options;
}

}  // namespace

MOTE_EXPORT mote_status mote_chat_render(const mote_model* model, const mote_chat_message* messages, size_t count,
                                         int add_generation_prompt, char* out, size_t capacity, size_t* out_len) {
  return guarded("mote_chat_render", [&]() -> mote_status {
    if (model == nullptr || (messages == nullptr && count > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_chat_render: NULL argument");
    auto family = model->engine->chat_family();
    if (!family) return from_status(family.status());
    std::vector<mote::ChatMessage> list;
    if (mote_status st = to_messages(messages, count, "mote_chat_render", &list); st != MOTE_OK) return st;
    auto rendered = mote::render_chat(*family, list, render_options(model, add_generation_prompt));
    if (!rendered) return from_status(rendered.status());
    return mote::capi::copy_out(*rendered, out, capacity, out_len, "mote_chat_render");
  });
}

MOTE_EXPORT mote_status mote_chat_tokenize(const mote_model* model, const mote_chat_message* messages, size_t count,
                                           int add_generation_prompt, int32_t* ids, size_t capacity,
                                           size_t* out_count) {
  return guarded("mote_chat_tokenize", [&]() -> mote_status {
    if (model == nullptr || (messages == nullptr && count > 0) || out_count == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_chat_tokenize: NULL argument");
    auto family = model->engine->chat_family();
    if (!family) return from_status(family.status());
    auto tokenizer = model->engine->require_tokenizer();
    if (!tokenizer) return from_status(tokenizer.status());
    std::vector<mote::ChatMessage> list;
    if (mote_status st = to_messages(messages, count, "mote_chat_tokenize", &list); st != MOTE_OK) return st;
    std::vector<int32_t> result;
    const mote::Status st =
        mote::tokenize_chat(*family, list, render_options(model, add_generation_prompt), **tokenizer, &result);
    if (!st) return from_status(st);
    return mote::capi::copy_ids(result, ids, capacity, out_count, "mote_chat_tokenize");
  });
}

namespace {

// Token count of the rendered system prompt: the common prefix of `ids` with the rendering of the
// leading system messages alone (0 without any, or when the family cannot render them alone).
size_t system_prefix_tokens(mote::ChatFamily family, const std::vector<mote::ChatMessage>& list,
                            const mote::ChatRenderOptions& options, const mote::Tokenizer& tok,
                            const std::vector<int32_t>& ids) {
  size_t n_system = 0;
  while (n_system < list.size() && list[n_system].role == "system") ++n_system;
  if (n_system == 0) return 0;
  mote::ChatRenderOptions alone = options;
  alone.add_generation_prompt = false;
  std::vector<int32_t> system_ids;
  const std::span<const mote::ChatMessage> head(list.data(), n_system);
  if (!mote::tokenize_chat(family, head, alone, tok, &system_ids)) return 0;
  size_t common = 0;
  while (common < system_ids.size() && common < ids.size() && system_ids[common] == ids[common]) ++common;
  return common;
}

// Drops the oldest turn after the leading system messages: one user message and every message up
// to the next user message. False when only the last user turn is left.
bool drop_oldest_turn(std::vector<mote::ChatMessage>& list) {
  size_t first = 0;
  while (first < list.size() && list[first].role == "system") ++first;
  size_t next = first + 1;
  while (next < list.size() && list[next].role != "user") ++next;
  if (next >= list.size()) return false;
  list.erase(list.begin() + std::ptrdiff_t(first), list.begin() + std::ptrdiff_t(next));
  return true;
}

}  // namespace

MOTE_EXPORT mote_status mote_chat_generate(mote_session* session, const mote_chat_message* messages, size_t count,
                                           const mote_generate_params* params, mote_token_callback callback,
                                           void* user_data) {
  return guarded("mote_chat_generate", [&]() -> mote_status {
    if (session == nullptr || (messages == nullptr && count > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_chat_generate: NULL argument");
    if (count == 0) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_chat_generate: no messages");
    const mote_model* model = session->owner;
    const mote::capi::ModelThreadsScope threads(session->owner);
    auto family = model->engine->chat_family();
    if (!family) return from_status(family.status());
    auto tokenizer = model->engine->require_tokenizer();
    if (!tokenizer) return from_status(tokenizer.status());
    std::vector<mote::ChatMessage> list;
    if (mote_status st = to_messages(messages, count, "mote_chat_generate", &list); st != MOTE_OK) return st;
    const mote::ChatRenderOptions options = render_options(model, 1);
    std::vector<int32_t> ids;
    if (const mote::Status st = mote::tokenize_chat(*family, list, options, **tokenizer, &ids); !st)
      return from_status(st);
    const int64_t max_context = session->session->max_context();
    const int32_t max_tokens = params ? params->max_tokens : mote_generate_params_default().max_tokens;
    // Room for the reply (at most half the context: longer replies shift as they go).
    const int64_t room = std::max<int64_t>(1, std::min<int64_t>(max_tokens, max_context / 2));
    while (session->context_policy == MOTE_CONTEXT_SHIFT && int64_t(ids.size()) + room > max_context &&
           drop_oldest_turn(list)) {
      if (const mote::Status st = mote::tokenize_chat(*family, list, options, **tokenizer, &ids); !st)
        return from_status(st);
    }
    const size_t system_tokens = system_prefix_tokens(*family, list, options, **tokenizer, ids);
    return mote::capi::run_generation(session, params, callback, user_data, [&](auto& run_options, const auto& on_token) {
      run_options.reuse_prefix = true;
      run_options.n_keep = std::max<int64_t>(run_options.n_keep, int64_t(system_tokens));
      return mote::generate_from_ids(*model->engine, *session->session, ids, run_options, on_token);
    });
  });
}
