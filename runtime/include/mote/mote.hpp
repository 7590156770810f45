// mote.hpp: a thin header-only C++ wrapper over the C API (mote.h). Handles are RAII objects;
// failures throw mote::Error carrying the status and the runtime's message. Everything below is
// inline, so the binary interface stays the C one.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

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
