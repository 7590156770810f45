// Internals shared by the C API translation units: the handle structs, the thread-local last
// error, and the guard that turns every C++ failure into a mote_status.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "kernels/kernels.h"
#include "model/active_weights.h"
#include "session/engine.h"
#include "mote/mote.h"
#include "sampling/sampling_params.h"
#include "session/session.h"
#include "session/text_generation.h"

#define MOTE_EXPORT extern "C" __attribute__((visibility("default")))

struct mote_model {
  std::unique_ptr<mote::Engine> engine;  // model + tokenizer + chat family
  mote_model_params params;
  // The kernel threads of this model's calls: the pool of the model's CPU backend
  // (mote_model_params.n_threads > 0, backend/cpu_backend.h; owned by the backend, so there is
  // one pool per model, not two); null: the process-wide arena (all cores).
  const mote::kernels::ThreadPool* threads = nullptr;
  // Computed once at open for mote_model_info (a pass over every tensor of the file).
  mote::ActiveWeights active;
  uint64_t dense_bytes = 0;
  // What the adaptive draft policy of this model's last MTP session measured (acceptance, step
  // times, drafting or not): a new session starts from it, so that only the first session of a
  // model pays the bootstrap draft and the first probes (session/draft_policy.h). Guarded by
  // draft_mu; copied at mote_session_create and after each generation call, never inside one.
  std::mutex draft_mu;
  std::optional<mote::DraftPolicy> draft_prior;
  const mote::Model& model() const { return engine->model(); }
};

struct mote_session {
  mote_model* owner = nullptr;
  std::unique_ptr<mote::Session> session;
  mote_context_policy context_policy = MOTE_CONTEXT_ERROR;
  int32_t n_keep = 0;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  // The last generation call (mote_stats API version 3 fields).
  mote_stop_reason stop_reason = MOTE_STOP_NONE;
  int64_t last_prompt_tokens = 0;
  int64_t last_reused_tokens = 0;
  int64_t last_generated_tokens = 0;
  int64_t context_shifts = 0;
  int64_t draft_steps = 0;
  int64_t drafts_accepted = 0;
  int64_t draft_skipped = 0;  // API version 5
  int64_t draft_probes = 0;
  int64_t draft_dropped = 0;
};

namespace mote::capi {

// mote_stats' API version 7 fields: the model's device placement and expert tier counters
// (c_api_tiers.cpp); left 0 on a backend with unified memory.
void fill_tier_stats(const Model& model, mote_stats* out);

// Records `message` as the calling thread's last error and returns `status`.
mote_status fail(mote_status status, const std::string& message);
// Maps a runtime Status (ok -> MOTE_OK) and records its message.
mote_status from_status(const Status& status);

// Copies text out under the "capacity in, length out" rule (mote.h): on success *out_len is the
// length without NUL; on MOTE_ERR_BUFFER_TOO_SMALL it is the capacity needed, NUL included.
mote_status copy_out(const std::string& text, char* out, size_t capacity, size_t* out_len, const char* fn);
// Copies ids out: *out_count = ids needed (no terminator), MOTE_ERR_BUFFER_TOO_SMALL if short.
mote_status copy_ids(const std::vector<int32_t>& result, int32_t* ids, size_t capacity, size_t* out_count,
                     const char* fn);

// One generation call (generate_text, generate_from_ids, chat) given the options built from the
// caller's params (the run may adjust them, e.g. n_keep); see run_generation.
using GenerationRun = std::function<mote::Result<mote::TextGenerationResult>(mote::TextGenerationOptions& options,
                                                                             const mote::TokenCallback& on_token)>;
// Builds the options from `params` and the session's context policy, runs `run`, and records the
// statistics and stop reason, for cancelled calls too (c_api_generate.cpp).
mote_status run_generation(mote_session* session, const mote_generate_params* params, mote_token_callback callback,
                           void* user_data, const GenerationRun& run);

// mote_sampling_params -> runtime SamplingParams (c_api_sampler.cpp); validated by the Sampler.
SamplingParams to_sampling(const mote_sampling_params& p);

// While alive, the kernels this thread runs use `model`'s thread pool (mote_model_params.n_threads;
// the process-wide arena for n_threads 0 or a NULL model). Every entry point that runs kernels
// (generation, evaluation, truncation, loading a session) holds one for its session's model, so
// models opened with different thread counts run side by side. Scopes nest; allocates nothing.
class ModelThreadsScope {
 public:
  explicit ModelThreadsScope(const mote_model* model) : scope_(model != nullptr ? model->threads : nullptr) {}

 private:
  mote::kernels::ThreadPoolScope scope_;
};

// fn() under ModelThreadsScope(model); returns what fn returns.
template <typename F>
auto with_model_threads(const mote_model* model, F&& fn) {
  const ModelThreadsScope scope(model);
  return fn();
}

// Runs `body` (returning mote_status); any exception becomes MOTE_ERR_OUT_OF_MEMORY or
// MOTE_ERR_INTERNAL with its message, so nothing propagates into C callers.
template <typename Body>
mote_status guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(MOTE_ERR_OUT_OF_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(MOTE_ERR_INTERNAL, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(MOTE_ERR_INTERNAL, std::string(function) + ": unknown exception");
  }
}

}  // namespace mote::capi
