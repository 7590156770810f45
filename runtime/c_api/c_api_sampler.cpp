// C API: sampling parameters and their defaults (the one default shared with the CLI), and the
// token-level sampler (mote_sampler_*).
#include "c_api/c_api_internal.h"

namespace mote::capi {

SamplingParams to_sampling(const mote_sampling_params& p) {
  SamplingParams s;
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

}  // namespace mote::capi

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
