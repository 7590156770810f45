// Streams one checkpoint tensor into an output weight type, chunk by chunk:
//   pread a chunk of source rows -> decode to f32 (F16/BF16/F32, FP8 x block scale) ->
//   quantize_row into the output type -> hand the bytes to a sink (the writer).
//
// Memory: three buffers, reused across tensors and never larger than
//   src <= R*C*4, f32 = R*C*4, out <= R*C*4 bytes, with R = max(1, chunk_bytes / (4*C)) rows,
// i.e. each <= max(chunk_bytes, 4*C) (C = columns; with row groups R is a multiple of 16, so
// <= max(chunk_bytes, 64*C)), plus one row group of scratch (16 output rows) and the scale rows of an FP8 chunk
// (<= (R/128 + 2) * ceil(C/128) * 8 bytes). Nothing else grows with the tensor size. When the
// source already has the output encoding (F32->F32, BF16->BF16, F16->F16) the source bytes are
// passed through and f32/out are not used.
//
// Not thread-safe (one converter per thread); internally splits a chunk's rows across
// `threads` worker threads for decoding and quantisation, with the row encoders of
// encode_simd.h (bit-identical to quantize_row). While a chunk is quantised the kernel is asked
// to read the next one into the page cache (TensorRef::prefetch), which costs no buffer here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "core/tensor.h"
#include "hf/checkpoint.h"
#include "quant/encode_simd.h"

namespace mote::convert {

struct SourceTensor {
  TensorRef data;
  TensorRef scale;   // weight_scale_inv when data is F8_E4M3 (kMxfp4Rows: the *_scales), else empty
  uint64_t rows = 0; // 1 for 1-D tensors
  uint64_t cols = 0;
  // gpt-oss fused experts (arch/expected.h SourceSlice): output row r (kBiasRows: entry r) is
  // source row (entry) row0 + r * row_step of expert `expert` in a fused tensor of `src_rows`
  // rows (kBiasRows: entries) per expert. kMxfp4Rows converts only to WeightType::MXFP4 (bytes
  // copied, scale first in each block); kBiasRows decodes and re-encodes like a plain vector.
  enum class Slice : uint8_t { kNone, kMxfp4Rows, kBiasRows } slice = Slice::kNone;
  uint64_t expert = 0, row0 = 0, row_step = 1, src_rows = 0;
};

// Receives converted bytes in order.
using ByteSink = std::function<void(const uint8_t* data, uint64_t size)>;

class TensorConverter {
 public:
  TensorConverter(uint64_t chunk_bytes, unsigned threads);
  ~TensorConverter();

  // Converts `src` to `type`, calling `sink` once per chunk with rows * weight_row_bytes bytes.
  // row_group kRowGroup (16): the rows are quantised as usual and then interleaved into row
  // groups (interleave_row_group, lossless); chunks then hold whole groups (a multiple of 16
  // rows). Needs a 2-D Q8_0/Q4_0/Q2_1 source with rows % 16 == 0 and no slice.
  void convert(const SourceTensor& src, WeightType type, const ByteSink& sink, int row_group = 1);

  // Rows per chunk for a tensor of `cols` columns: max(1, chunk_bytes / (4 * cols)), or with
  // row groups that rounded down to a multiple of 16 and at least 16.
  uint64_t chunk_rows(uint64_t cols, int row_group = 1) const;
  // The row encoder in use (encode_simd.h; MOTE_CONVERT_REFERENCE=1 forces the reference).
  EncoderIsa encoder_isa() const { return isa_; }
  // Bytes currently allocated by the buffers.
  uint64_t buffer_bytes() const;

 private:
  // A grow-only buffer that reallocates to exactly the requested size (std::vector may double).
  struct Buffer {
    std::unique_ptr<uint8_t[]> data;
    uint64_t capacity = 0;
    uint8_t* ensure(uint64_t bytes);
  };
  // The gpt-oss slices (SourceTensor::slice != kNone); same chunking and buffers.
  void convert_slice(const SourceTensor& src, WeightType type, const ByteSink& sink);
  // Rewrites `rows` (a multiple of 16) encoded row-major rows in `data` into row groups, in place,
  // through a scratch copy of one group (group_: 16 * weight_row_bytes bytes).
  void interleave_in_place(WeightType type, uint8_t* data, uint64_t rows, uint64_t cols);
  // Converts rows [row0, row0 + rows); returns the output bytes (in src_ or out_).
  const uint8_t* convert_chunk(const SourceTensor& src, WeightType type, uint64_t row0, uint64_t rows);

  uint64_t chunk_bytes_;
  unsigned threads_;
  EncoderIsa isa_;  // best_encoder_isa() at construction
  Buffer src_, f32_, out_, scale_raw_, scale_, group_;
};

}  // namespace mote::convert
