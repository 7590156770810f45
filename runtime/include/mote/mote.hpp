// mote.hpp: a thin header-only C++ wrapper over the C API (mote.h). Handles are RAII objects;
// failures throw mote::Error carrying the status and the runtime's message. Everything below is
// inline, so the binary interface stays the C one.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mote/mote.h"

namespace mote {

class Error : public std::runtime_error {
 public:
  Error(mote_status status, const std::string& message)
      : std::runtime_error(std::string(mote_status_string(status)) + ": " + message), status_(status) {}
  mote_status status() const { return status_; }

 private:
  mote_status status_;
};

inline void check(mote_status status) {
  if (status != MOTE_OK) throw Error(status, mote_last_error());
}

// The library's version string ("0.3.0") and the API version it implements (compare with
// MOTE_API_VERSION, the header's).
inline std::string version() { return mote_version(); }
inline int32_t api_version() { return mote_api_version(); }

// Routes the runtime's diagnostics to `callback` (NULL: back to stderr); see mote_set_log_callback.
// A plain function pointer on purpose: the callback may run on any thread at any time, which a
// std::function replaced under it could not survive.
inline void set_log_callback(mote_log_callback callback, void* user_data = nullptr,
                             mote_log_level max_level = MOTE_LOG_WARN) {
  check(mote_set_log_callback(callback, user_data, max_level));
}

// (role, content) pairs: a conversation for chat_tokenize and chat_generate.
using ChatMessages = std::vector<std::pair<std::string, std::string>>;

// Called once per generated token with its id and text (text may be empty while bytes are held
// back; see mote_token_callback). Return false to stop: the generation call then returns
// normally with what was generated so far (stats().stop_reason is MOTE_STOP_CANCELLED).
using TokenCallback = std::function<bool(int32_t token, std::string_view text)>;

class ModelHandle {
 public:
  explicit ModelHandle(const std::string& path, const mote_model_params& params = mote_model_params_default()) {
    mote_model* m = nullptr;
    check(mote_model_open(path.c_str(), &params, &m));
    model_.reset(m);
  }
  // mote_model_open_memory: `data` must stay valid and unchanged while this handle lives.
  ModelHandle(const void* data, size_t size, const mote_model_params& params = mote_model_params_default()) {
    mote_model* m = nullptr;
    check(mote_model_open_memory(data, size, &params, &m));
    model_.reset(m);
  }
  mote_model* get() const { return model_.get(); }
  mote_model_info info() const {
    mote_model_info i;
    check(mote_model_get_info(model_.get(), &i));
    return i;
  }
  // Text -> ids (mote_tokenize_ex): add_special adds BOS/EOS, parse_special turns control-token
  // text into control ids (false for untrusted text).
  std::vector<int32_t> tokenize(const std::string& text, bool add_special = true, bool parse_special = true) const {
    std::vector<int32_t> ids(text.size() + 8);
    size_t n = 0;
    mote_status st = mote_tokenize_ex(model_.get(), text.data(), text.size(), add_special, parse_special,
                                      ids.data(), ids.size(), &n);
    if (st == MOTE_ERR_BUFFER_TOO_SMALL) {
      ids.resize(n);
      st = mote_tokenize_ex(model_.get(), text.data(), text.size(), add_special, parse_special, ids.data(),
                            ids.size(), &n);
    }
    check(st);
    ids.resize(n);
    return ids;
  }
  // A conversation -> ids with the template's control tokens and plain message text
  // (mote_chat_tokenize). Pairs of (role, content).
  std::vector<int32_t> chat_tokenize(const ChatMessages& messages, bool add_generation_prompt = true) const {
    std::vector<mote_chat_message> c;
    for (const auto& [role, content] : messages) c.push_back({role.c_str(), content.c_str()});
    size_t n = 0;
    mote_status st = mote_chat_tokenize(model_.get(), c.data(), c.size(), add_generation_prompt, nullptr, 0, &n);
    if (st != MOTE_ERR_BUFFER_TOO_SMALL && st != MOTE_OK) check(st);
    std::vector<int32_t> ids(n);
    check(mote_chat_tokenize(model_.get(), c.data(), c.size(), add_generation_prompt, ids.data(), ids.size(), &n));
    ids.resize(n);
    return ids;
  }

 private:
  struct Deleter { void operator()(mote_model* m) const { mote_model_destroy(m); } };
  std::unique_ptr<mote_model, Deleter> model_;
};

// One conversation (mote_session): use from one thread at a time; the model must outlive it.
class SessionHandle {
 public:
  explicit SessionHandle(const ModelHandle& model,
                         const mote_session_params& params = mote_session_params_default())
      : vocab_size_(size_t(model.info().vocab_size)) {
    mote_session* s = nullptr;
    check(mote_session_create(model.get(), &params, &s));
    session_.reset(s);
  }
  mote_session* get() const { return session_.get(); }
  void reset() { check(mote_session_reset(session_.get())); }
  mote_stats stats() const {
    mote_stats s;
    check(mote_session_get_stats(session_.get(), &s));
    return s;
  }

  // The conversation's ids, oldest first, a pending last generated token included
  // (mote_session_get_tokens).
  std::vector<int32_t> tokens() const {
    size_t n = 0;
    mote_status st = mote_session_get_tokens(session_.get(), nullptr, 0, &n);
    if (st != MOTE_ERR_BUFFER_TOO_SMALL && st != MOTE_OK) check(st);
    std::vector<int32_t> ids(n);
    check(mote_session_get_tokens(session_.get(), ids.data(), ids.size(), &n));
    ids.resize(n);
    return ids;
  }
  // Keeps the first n tokens (mote_session_truncate).
  void truncate(size_t n) { check(mote_session_truncate(session_.get(), n)); }
  // Conversation state to and from a file of the same model (mote_session_save/load).
  void save(const std::string& path) const { check(mote_session_save(session_.get(), path.c_str())); }
  void load(const std::string& path) { check(mote_session_load(session_.get(), path.c_str())); }

  // Appends and evaluates ids (mote_session_eval). Returns the last id's logits (vocab_size
  // floats) or, with all_positions, ids.size() rows of vocab_size floats, row i for ids[i].
  std::vector<float> eval(const std::vector<int32_t>& ids, bool all_positions = false) {
    std::vector<float> logits((all_positions ? ids.size() : 1) * vocab_size_);
    check(mote_session_eval(session_.get(), ids.data(), ids.size(), all_positions, logits.data(), logits.size()));
    return logits;
  }
  // Evaluates ids without returning logits.
  void eval_only(const std::vector<int32_t>& ids) {
    check(mote_session_eval(session_.get(), ids.data(), ids.size(), 0, nullptr, 0));
  }

  // Continues the conversation with prompt text (mote_generate) and returns the generated text.
  // A callback that returns false ends the call early without an error (see TokenCallback).
  std::string generate(const std::string& prompt, const mote_generate_params& params = mote_generate_params_default(),
                       const TokenCallback& on_token = {}) {
    return run(on_token, [&](mote_token_callback cb, void* user) {
      return mote_generate(session_.get(), prompt.data(), prompt.size(), &params, cb, user);
    });
  }
  // As generate, from prompt ids (mote_generate_tokens).
  std::string generate_tokens(const std::vector<int32_t>& prompt_ids,
                              const mote_generate_params& params = mote_generate_params_default(),
                              const TokenCallback& on_token = {}) {
    return run(on_token, [&](mote_token_callback cb, void* user) {
      return mote_generate_tokens(session_.get(), prompt_ids.data(), prompt_ids.size(), &params, cb, user);
    });
  }
  // The assistant's reply to the whole conversation so far (mote_chat_generate): pass every
  // message each turn, the previous replies included; the session reuses what it holds.
  std::string chat_generate(const ChatMessages& messages,
                            const mote_generate_params& params = mote_generate_params_default(),
                            const TokenCallback& on_token = {}) {
    std::vector<mote_chat_message> c;
    c.reserve(messages.size());
    for (const auto& [role, content] : messages) c.push_back({role.c_str(), content.c_str()});
    return run(on_token, [&](mote_token_callback cb, void* user) {
      return mote_chat_generate(session_.get(), c.data(), c.size(), &params, cb, user);
    });
  }

 private:
  // The C callback's context: collects the text and keeps an exception thrown by the user's
  // callback (it must not unwind through the C library), rethrown once the call has returned.
  struct Stream {
    const TokenCallback* on_token;
    std::string text;
    bool stopped = false;
    std::exception_ptr error;
  };
  static int trampoline(void* user, int32_t token, const char* text, size_t len) {
    auto* s = static_cast<Stream*>(user);
    try {
      if (len > 0) s->text.append(text, len);
      if (*s->on_token && !(*s->on_token)(token, std::string_view(text, len))) s->stopped = true;
    } catch (...) {
      s->error = std::current_exception();
      s->stopped = true;
    }
    return s->stopped ? 1 : 0;
  }
  template <typename Call>
  std::string run(const TokenCallback& on_token, Call&& call) {
    Stream s{&on_token, {}, false, nullptr};
    const mote_status st = call(&SessionHandle::trampoline, &s);
    if (s.error) std::rethrow_exception(s.error);
    if (!(st == MOTE_ERR_CANCELLED && s.stopped)) check(st);
    return std::move(s.text);
  }

  size_t vocab_size_;
  struct Deleter { void operator()(mote_session* s) const { mote_session_destroy(s); } };
  std::unique_ptr<mote_session, Deleter> session_;
};

// A sampler for the token-level API (mote_sampler_*): the same code generation samples with.
// Named SamplerHandle like the other handles (the runtime has its own mote::Sampler class).
// Stateful (penalty window, random stream); not thread-safe.
class SamplerHandle {
 public:
  explicit SamplerHandle(const ModelHandle& model,
                         const mote_sampling_params& params = mote_sampling_params_default()) {
    mote_sampler* s = nullptr;
    check(mote_sampler_create(model.get(), &params, &s));
    sampler_.reset(s);
  }
  mote_sampler* get() const { return sampler_.get(); }
  // Chooses a token from one row of vocab_size logits and accepts it into the penalty window.
  int32_t sample(const float* logits, size_t n_logits) {
    int32_t token = -1;
    check(mote_sampler_sample(sampler_.get(), logits, n_logits, &token));
    return token;
  }
  int32_t sample(const std::vector<float>& logits) { return sample(logits.data(), logits.size()); }
  // Adds tokens it did not choose (the prompt) to the penalty window.
  void accept(const std::vector<int32_t>& ids) { check(mote_sampler_accept(sampler_.get(), ids.data(), ids.size())); }
  // Empties the penalty window and restarts the random stream from the seed.
  void reset() { check(mote_sampler_reset(sampler_.get())); }

 private:
  struct Deleter { void operator()(mote_sampler* s) const { mote_sampler_destroy(s); } };
  std::unique_ptr<mote_sampler, Deleter> sampler_;
};

}  // namespace mote
