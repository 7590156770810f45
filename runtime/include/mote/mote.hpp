// mote.hpp: a thin header-only C++ wrapper over the C API (mote.h). Handles are RAII objects;
// failures throw mote::Error carrying the status and the runtime's message. Everything below is
// inline, so the binary interface stays the C one.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
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

class ModelHandle {
 public:
  explicit ModelHandle(const std::string& path, const mote_model_params& params = mote_model_params_default()) {
    mote_model* m = nullptr;
    check(mote_model_open(path.c_str(), &params, &m));
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
  std::vector<int32_t> chat_tokenize(const std::vector<std::pair<std::string, std::string>>& messages,
                                     bool add_generation_prompt = true) const {
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

class SessionHandle {
 public:
  explicit SessionHandle(const ModelHandle& model,
                         const mote_session_params& params = mote_session_params_default()) {
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

 private:
  struct Deleter { void operator()(mote_session* s) const { mote_session_destroy(s); } };
  std::unique_ptr<mote_session, Deleter> session_;
};

}  // namespace mote
