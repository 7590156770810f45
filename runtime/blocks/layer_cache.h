// LayerCache: where one decoder layer keeps its attention state (the GQA K/V rows or the MLA
// latent rows) and how. The decoder (families/decoder.h) hands each layer's attention block its
// own descriptor, so element types and ring buffers can differ per layer without touching the
// decoder's layer loop: only the attention blocks (blocks/mla.cpp, blocks/gqa_attention.cpp)
// interpret it.
//
// Position p lives in row p (ring_rows 0) or p % ring_rows (a ring, sliding-window layers) at
// rows + row * row_bytes; a row holds the layer's pieces stored as `type` (core/kv_type.h,
// layout in session/layer_state.h; the Session fills these from its LayerStatePlan). `rows` is
// DEVICE memory (backend/backend.h): the blocks compute addresses in it, only backend ops read
// or write it (blocks/cache_rows.h).
#pragma once

#include <cstdint>

#include "core/kv_type.h"

namespace mote::blocks {

struct LayerCache {
  uint8_t* rows = nullptr;       // device memory: [max_context (or ring_rows)] rows of row_bytes
  KvType type = KvType::kF32;    // element type of the rows
  int64_t ring_rows = 0;         // 0: one row per position; > 0: a ring of that many rows (sliding window)
  int64_t row_bytes = 0;         // bytes of one row

  // The rows as floats (meaningful for type kF32 only).
  float* f32() const { return reinterpret_cast<float*>(rows); }
};

}  // namespace mote::blocks
