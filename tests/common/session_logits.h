// Test helpers over a Model + Session (for the test binaries that link the runtime).
#pragma once

#include <cstdint>
#include <vector>

#include "core/kv_type.h"
#include "model/model.h"

namespace mote::test {

// Prefill logits [n, vocab] of `ids` (max_batch tokens per pass, so longer prompts reuse the KV
// cache across passes), then decode logits [n, vocab] one token at a time after a reset: [2n, vocab].
// kv_type: the session's KV cache element type (SessionOptions::kv_type).
std::vector<float> prefill_then_decode_logits(const Model& m, const std::vector<int32_t>& ids, int64_t max_batch = 16,
                                              KvType kv_type = KvType::kF32);

// Bit-for-bit equality of two float vectors.
bool same_bits(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace mote::test
