// C API: the conversation held by a session: its token ids, truncation, saving and loading, and
// token-level evaluation.
#include <cstring>
#include <string>
#include <vector>

#include "c_api/c_api_internal.h"
#include "session/session_file.h"

using mote::capi::fail;
using mote::capi::from_status;
using mote::capi::guarded;

MOTE_EXPORT mote_status mote_session_get_tokens(const mote_session* session, int32_t* ids, size_t capacity,
                                                size_t* out_count) {
  return guarded("mote_session_get_tokens", [&]() -> mote_status {
    if (session == nullptr || out_count == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_get_tokens: session or out_count is NULL");
    const std::span<const int32_t> tokens = session->session->tokens();
    *out_count = tokens.size();
    if (tokens.empty()) return MOTE_OK;
    if (ids == nullptr || capacity < tokens.size())
      return fail(MOTE_ERR_BUFFER_TOO_SMALL,
                  "mote_session_get_tokens: needs room for " + std::to_string(tokens.size()) + " ids");
    std::memcpy(ids, tokens.data(), tokens.size() * sizeof(int32_t));
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_session_truncate(mote_session* session, size_t n_tokens) {
  return guarded("mote_session_truncate", [&]() -> mote_status {
    if (session == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_truncate: session is NULL");
    const size_t held = session->session->tokens().size();
    if (n_tokens > held)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_truncate: n_tokens " + std::to_string(n_tokens) +
                                                 " > the " + std::to_string(held) + " tokens the session holds");
    return from_status(session->session->truncate(int64_t(n_tokens)));
  });
}

MOTE_EXPORT mote_status mote_session_save(const mote_session* session, const char* path) {
  return guarded("mote_session_save", [&]() -> mote_status {
    if (session == nullptr || path == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_save: session or path is NULL");
    // Plain steps of adaptive drafting may leave the MTP lagging; the file holds one lagging
    // row at most. Settling changes no observable state (it is work the next call would do).
    if (mote_status st = from_status(session->session->mtp_settle()); st != MOTE_OK) return st;
    return from_status(mote::save_session(*session->session, path));
  });
}

MOTE_EXPORT mote_status mote_session_load(mote_session* session, const char* path) {
  return guarded("mote_session_load", [&]() -> mote_status {
    if (session == nullptr || path == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_load: session or path is NULL");
    const mote::Status st = mote::load_session(*session->session, path);
    if (st) {
      session->stop_reason = MOTE_STOP_NONE;
      session->last_prompt_tokens = session->last_reused_tokens = session->last_generated_tokens = 0;
    }
    return from_status(st);
  });
}

MOTE_EXPORT mote_status mote_session_eval(mote_session* session, const int32_t* ids, size_t n_ids, int all_positions,
                                          float* logits, size_t capacity) {
  return guarded("mote_session_eval", [&]() -> mote_status {
    if (session == nullptr || (ids == nullptr && n_ids > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_eval: NULL argument");
    if (n_ids == 0) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_eval: no token ids");
    const mote::capi::ModelThreadsScope threads(session->owner);
    mote::Session& s = *session->session;
    const size_t vocab = size_t(s.vocab_size());
    const size_t needed = logits == nullptr ? 0 : (all_positions ? n_ids * vocab : vocab);
    if (logits != nullptr && capacity < needed)
      return fail(MOTE_ERR_BUFFER_TOO_SMALL, "mote_session_eval: logits needs " + std::to_string(needed) +
                                                 " floats, capacity is " + std::to_string(capacity));
    const mote::LogitsMode mode = logits == nullptr ? mote::LogitsMode::kNone
                                  : all_positions   ? mote::LogitsMode::kAll
                                                    : mote::LogitsMode::kLast;
    const int64_t evaluated = s.pending_count() + int64_t(n_ids);
    mote::Status st = s.prefill({ids, n_ids}, logits, mode);
    if (!st) return from_status(st);
    session->prompt_tokens += evaluated;
    return MOTE_OK;
  });
}
