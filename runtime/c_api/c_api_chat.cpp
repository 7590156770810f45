// C API: chat rendering (text) and chat tokenization (ids, message fields kept plain).
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
