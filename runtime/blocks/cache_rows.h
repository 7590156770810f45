// Writing a chunk's new attention-state rows into a layer's cache (blocks/layer_cache.h), shared
// by the attention blocks. The block computes the rows in f32 (one row per token, `pieces`
// pieces of `piece_values` floats back to back: GQA [K head 0 .. | V head 0 ..], MLA one latent
// piece) and store_cache_rows converts them to the cache's element type at the rows of their
// positions: row = position, or position % ring_rows for a ring, where a chunk may wrap (then
// two stores). The cache rows hold the pieces back to back with no padding
// (row_bytes == pieces * kv_piece_bytes(type, piece_values); session/layer_state.h).
// Only backend ops touch the rows (device memory). Thread-safety: as the backend's ops.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backend/backend.h"
#include "blocks/layer_cache.h"

namespace mote::blocks {

// Whether the block may write its rows straight into the cache (f32, one row per position): the
// layout every layer had before typed and ring caches, kept so f32 logits stay bit-identical.
inline bool writes_cache_directly(const LayerCache& c) { return c.type == KvType::kF32 && c.ring_rows == 0; }

// The cache row of position p.
inline int64_t cache_row(const LayerCache& c, int64_t p) { return c.ring_rows > 0 ? p % c.ring_rows : p; }

// src: device [n_tokens, pieces * piece_values] f32 rows of positions start .. start+n_tokens-1.
inline void store_cache_rows(backend::Backend& b, const LayerCache& c, const float* src, int64_t n_tokens,
                             int64_t start, int64_t pieces, int64_t piece_values) {
  const int64_t piece_bytes = kv_piece_bytes(c.type, piece_values);
  for (int64_t done = 0; done < n_tokens;) {
    const int64_t row = cache_row(c, start + done);
    const int64_t run = c.ring_rows > 0 ? std::min(n_tokens - done, c.ring_rows - row) : n_tokens - done;
    b.store_kv(c.type, src + done * pieces * piece_values, piece_values, run * pieces, piece_values,
               c.rows + row * c.row_bytes, piece_bytes);
    done += run;
  }
}

}  // namespace mote::blocks
