// C API: sampling parameters and their defaults (the one default shared with the CLI), and the
// token-level sampler (mote_sampler_*): the runtime's Sampler, the one mote_generate uses, over
// logits the caller got from mote_session_eval (or anywhere else).
#include <span>
#include <string>

#include "c_api/c_api_internal.h"
#include "sampling/sampler.h"
#include "session/finite_check.h"

using mote::capi::fail;
using mote::capi::from_status;
using mote::capi::guarded;

// Owns its Sampler (all buffers are allocated at create, so sample/accept/reset do not
// allocate). Does not keep the model: only its vocab_size is needed, so the sampler may outlive
// it. Not thread-safe (the penalty window and the random stream are mutable state).
struct mote_sampler {
  mote::Sampler sampler;
};

namespace mote::capi {

SamplingParams to_sampling(const mote_sampling_params& p) {
  SamplingParams s;
  s.temperature = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repetition_penalty = p.repetition_penalty;
  s.presence_penalty = p.presence_penalty;
  s.frequency_penalty = p.frequency_penalty;
  s.penalty_last_n = p.penalty_last_n;
  s.seed = p.seed;
  return s;
}

}  // namespace mote::capi

// Greedy by default (mote.h): the filters only matter once a caller sets temperature > 0, and
// the CLI (samples/mote generation_options) uses the same numbers.
MOTE_EXPORT mote_sampling_params mote_sampling_params_default(void) {
  mote_sampling_params p{};
  p.temperature = 0.0f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.0f;
  p.penalty_last_n = 64;
  p.seed = 0;
  return p;
}

MOTE_EXPORT mote_status mote_sampler_create(const mote_model* model, const mote_sampling_params* params,
                                            mote_sampler** out_sampler) {
  return guarded("mote_sampler_create", [&]() -> mote_status {
    if (out_sampler == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_create: out_sampler is NULL");
    *out_sampler = nullptr;
    if (model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_create: model is NULL");
    const mote_sampling_params p = params ? *params : mote_sampling_params_default();
    auto sampler = mote::Sampler::create(mote::capi::to_sampling(p), model->model().hparams().vocab_size);
    if (!sampler) {
      return fail(static_cast<mote_status>(sampler.status().code()),
                  "mote_sampler_create: " + sampler.status().message());
    }
    *out_sampler = new mote_sampler{std::move(sampler).value()};
    return MOTE_OK;
  });
}

MOTE_EXPORT void mote_sampler_destroy(mote_sampler* sampler) { delete sampler; }

MOTE_EXPORT mote_status mote_sampler_sample(mote_sampler* sampler, const float* logits, size_t n_logits,
                                            int32_t* out_token) {
  return guarded("mote_sampler_sample", [&]() -> mote_status {
    if (sampler == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_sample: sampler is NULL");
    if (logits == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_sample: logits is NULL");
    if (out_token == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_sample: out_token is NULL");
    const int64_t vocab = sampler->sampler.vocab_size();
    if (n_logits != size_t(vocab)) {
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_sample: n_logits " + std::to_string(n_logits) +
                                                 " is not the model's vocab_size " + std::to_string(vocab));
    }
    const std::span<const float> row(logits, n_logits);
    // The Sampler reads NaN as -inf and would pick a token from garbage; generation refuses
    // such rows, and so does this.
    if (!mote::all_finite(row)) {
      return fail(MOTE_ERR_NON_FINITE,
                  "mote_sampler_sample: non-finite logits (NaN or Inf: corrupt weights or overflow); no token chosen");
    }
    const int32_t token = sampler->sampler.sample(row);
    if (const mote::Status st = sampler->sampler.accept(token); !st) return from_status(st);
    *out_token = token;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_sampler_accept(mote_sampler* sampler, const int32_t* ids, size_t n_ids) {
  return guarded("mote_sampler_accept", [&]() -> mote_status {
    if (sampler == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_accept: sampler is NULL");
    if (ids == nullptr && n_ids > 0) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_accept: ids is NULL");
    if (n_ids == 0) return MOTE_OK;
    // accept_prompt checks every id before recording any, so a bad id leaves the window as it was.
    if (const mote::Status st = sampler->sampler.accept_prompt({ids, n_ids}); !st) {
      return fail(static_cast<mote_status>(st.code()), "mote_sampler_accept: " + st.message());
    }
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_sampler_reset(mote_sampler* sampler) {
  return guarded("mote_sampler_reset", [&]() -> mote_status {
    if (sampler == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_sampler_reset: sampler is NULL");
    sampler->sampler.reset();
    return MOTE_OK;
  });
}
