// LayerCache: where one decoder layer keeps its attention state (the GQA K/V rows or the MLA
// latent rows) and how. The decoder (families/decoder.h) hands each layer's attention block its
// own descriptor, so element types and ring buffers can differ per layer without touching the
// decoder's layer loop: only the attention blocks (blocks/mla.cpp, blocks/gqa_attention.cpp)
// interpret it.
//
// Today every layer is f32 (kF32) and full length (ring_rows 0): row p (position p) holds
// row_bytes = cache_dim * 4 bytes at rows + p * row_bytes. `rows` is DEVICE memory
// (backend/backend.h): the blocks compute addresses in it, only backend ops read or write it.
#pragma once

#include <cstdint>

#include "core/kv_type.h"

namespace mote::blocks {

struct LayerCache {
  uint8_t* rows = nullptr;       // device memory: [max_context (or ring_rows)] rows of row_bytes
  KvType type = KvType::kF32;    // element type of the rows
  int64_t ring_rows = 0;         // 0: one row per position; > 0: a ring of that many rows (sliding window)
  int64_t row_bytes = 0;         // bytes of one row

  // The f32 rows of a full-length f32 cache (the only kind the blocks accept today).
  float* f32() const { return reinterpret_cast<float*>(rows); }
};

}  // namespace mote::blocks
