#include "sampling/sampling_params.h"

#include <cmath>
#include <string>

namespace mote {

namespace {

Status bad(const char* field, float value, const char* rule) {
  return invalid_argument(std::string("sampling: ") + field + " = " + std::to_string(value) +
                          " " + rule);
}

}  // namespace

Status SamplingParams::validate() const {
  // Every float check is written so that NaN fails it (comparisons with NaN are false).
  if (!(temperature >= 0.0f && std::isfinite(temperature)))
    return bad("temperature", temperature, "must be finite and >= 0 (0 = greedy)");
  if (top_k < 0)
    return invalid_argument("sampling: top_k = " + std::to_string(top_k) +
                            " must be >= 0 (0 = off)");
  if (!(top_p > 0.0f && top_p <= 1.0f))
    return bad("top_p", top_p, "must be in (0, 1] (1 = off)");
  if (!(min_p >= 0.0f && min_p <= 1.0f))
    return bad("min_p", min_p, "must be in [0, 1] (0 = off)");
  if (!(repetition_penalty > 0.0f && std::isfinite(repetition_penalty)))
    return bad("repetition_penalty", repetition_penalty, "must be finite and > 0 (1 = off)");
  if (!std::isfinite(presence_penalty))
    return bad("presence_penalty", presence_penalty, "must be finite (0 = off)");
  if (!std::isfinite(frequency_penalty))
    return bad("frequency_penalty", frequency_penalty, "must be finite (0 = off)");
  if (penalty_last_n < -1 || penalty_last_n > kMaxPenaltyWindow)
    return invalid_argument("sampling: penalty_last_n = " + std::to_string(penalty_last_n) +
                            " must be in [-1, " + std::to_string(kMaxPenaltyWindow) +
                            "] (-1 = whole context, 0 = off)");
  return Status::ok();
}

}  // namespace mote
