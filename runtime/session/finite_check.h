// The check generation runs on every logits row before choosing a token from it: NaN or Inf
// (from a corrupt weight or scale, or an overflow) must be an error that names the position,
// not a silently wrong token (argmax over NaNs returns 0).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "core/status.h"

namespace mote {

// True when no value of `row` is NaN or Inf. One branch-free pass that vectorises even for plain
// SSE2 (compare + or): a float is non-finite exactly when its exponent bits are all ones.
inline bool all_finite(std::span<const float> row) {
  uint32_t bad = 0;
  for (const float x : row) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bad |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

// kNonFinite "generate: non-finite logits at position P ..." unless `row` is all finite.
// `position` is the context index of the token whose logits these are.
inline Status check_logits(std::span<const float> row, int64_t position, const char* what = "logits") {
  if (all_finite(row)) return Status::ok();
  return non_finite(std::string("generate: non-finite ") + what + " at position " + std::to_string(position) +
                    " (NaN or Inf: corrupt weights or overflow)");
}

}  // namespace mote
