#include "quant/tensor_convert.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "hf/error.h"
#include "kernels/quant.h"
#include "quant/encode_simd.h"
#include "quant/source_decode.h"

namespace mote::convert {

namespace {

// Same element encoding on both sides: bytes are copied unchanged.
bool is_identity(StDtype from, WeightType to) {
  return (from == StDtype::F32 && to == WeightType::F32) ||
         (from == StDtype::F16 && to == WeightType::F16) ||
         (from == StDtype::BF16 && to == WeightType::BF16);
}

// Runs fn(begin, end) over [0, n) split into up to `threads` contiguous parts.
template <typename Fn>
void parallel_rows(uint64_t n, unsigned threads, uint64_t work_per_row, Fn fn) {
  // Below ~256K elements per thread, thread start-up costs more than it saves.
  const uint64_t max_parts = std::max<uint64_t>(1, n * work_per_row / (uint64_t(1) << 18));
  const unsigned parts = unsigned(std::min<uint64_t>({threads, n, max_parts}));
  if (parts <= 1) {
    fn(uint64_t(0), n);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(parts - 1);
  const uint64_t per = (n + parts - 1) / parts;
  for (unsigned p = 1; p < parts; ++p) {
    const uint64_t b = std::min(n, p * per), e = std::min(n, b + per);
    workers.emplace_back([=] { fn(b, e); });
  }
  fn(0, std::min(n, per));
  for (auto& w : workers) w.join();
}

}  // namespace

uint8_t* TensorConverter::Buffer::ensure(uint64_t bytes) {
  if (bytes > capacity) {
    data.reset();  // free first so old and new never coexist
    data.reset(new uint8_t[bytes]);
    capacity = bytes;
  }
  return data.get();
}

TensorConverter::TensorConverter(uint64_t chunk_bytes, unsigned threads)
    : chunk_bytes_(chunk_bytes), threads_(std::max(1u, threads)), isa_(best_encoder_isa()) {}

TensorConverter::~TensorConverter() = default;

uint64_t TensorConverter::chunk_rows(uint64_t cols, int row_group) const {
  const uint64_t rows = std::max<uint64_t>(1, chunk_bytes_ / (cols * sizeof(float)));
  if (row_group <= 1) return rows;
  const uint64_t g = uint64_t(row_group);
  return std::max<uint64_t>(g, rows / g * g);
}

uint64_t TensorConverter::buffer_bytes() const {
  return src_.capacity + f32_.capacity + out_.capacity + scale_raw_.capacity + scale_.capacity + group_.capacity;
}

void TensorConverter::convert(const SourceTensor& src, WeightType type, const ByteSink& sink, int row_group) {
  const bool grouped = row_group > 1;
  if (grouped && (row_group != kRowGroup || !row_group_type(type) || src.rows % kRowGroup != 0 ||
                  src.slice != SourceTensor::Slice::kNone))
    fail("internal: cannot write row groups of " + std::to_string(row_group) + " for a " + weight_type_name(type) +
         " tensor of " + std::to_string(src.rows) + " rows");
  if (src.slice != SourceTensor::Slice::kNone) return convert_slice(src, type, sink);
  const uint64_t rows_per_chunk = chunk_rows(src.cols, row_group);
  const uint64_t row_bytes = weight_row_bytes(type, int64_t(src.cols));
  const uint64_t src_row_bytes = src.cols * st_dtype_size(src.data.info->dtype);
  for (uint64_t row0 = 0; row0 < src.rows; row0 += rows_per_chunk) {
    const uint64_t rows = std::min(rows_per_chunk, src.rows - row0);  // a multiple of 16 when grouped
    // Overlap: the kernel reads the next chunk while this one is decoded and quantised (the
    // bytes wait in the page cache, not in our buffers, so the memory bound is unchanged).
    const uint64_t next = row0 + rows;
    if (next < src.rows) src.data.prefetch(next * src_row_bytes, std::min(rows_per_chunk, src.rows - next) * src_row_bytes);
    const uint8_t* bytes = convert_chunk(src, type, row0, rows);
    // Quantised types are never the identity path, so the bytes are in out_ and writable.
    if (grouped) interleave_in_place(type, out_.data.get(), rows, src.cols);
    sink(bytes, rows * row_bytes);
  }
}

void TensorConverter::interleave_in_place(WeightType type, uint8_t* data, uint64_t rows, uint64_t cols) {
  const uint64_t group_bytes = weight_row_bytes(type, int64_t(cols)) * kRowGroup;
  uint8_t* scratch = group_.ensure(group_bytes);
  for (uint64_t g = 0; g < rows / kRowGroup; ++g) {
    uint8_t* group = data + g * group_bytes;
    std::memcpy(scratch, group, group_bytes);
    interleave_row_group(type, scratch, int64_t(cols), group);
  }
}

void TensorConverter::convert_slice(const SourceTensor& src, WeightType type, const ByteSink& sink) {
  const uint64_t step = src.row_step;
  if (src.slice == SourceTensor::Slice::kBiasRows) {  // one expert's bias row: small, read whole
    const StDtype dtype = src.data.info->dtype;
    const uint64_t esize = st_dtype_size(dtype), n = src.src_rows;
    uint8_t* raw = src_.ensure(n * esize);
    src.data.read(src.expert * n * esize, raw, n * esize);
    auto* all = reinterpret_cast<float*>(f32_.ensure((n + src.cols) * sizeof(float)));
    decode_to_f32(dtype, raw, n, all);
    float* picked = all + n;
    for (uint64_t i = 0; i < src.cols; ++i) picked[i] = all[src.row0 + i * step];
    uint8_t* out = out_.ensure(weight_row_bytes(type, int64_t(src.cols)));
    quantize_row(type, picked, int64_t(src.cols), out);
    sink(out, weight_row_bytes(type, int64_t(src.cols)));
    return;
  }
  if (type != WeightType::MXFP4) fail("internal: MXFP4 expert slices can only be kept as MXFP4");
  const uint64_t nb = src.cols / kQuantBlock, block_row = nb * 16;  // 16 bytes per block of 32
  const uint64_t rows_per_chunk = std::max<uint64_t>(1, chunk_bytes_ / (block_row * step + nb * step));
  for (uint64_t r0 = 0; r0 < src.rows; r0 += rows_per_chunk) {
    const uint64_t rows = std::min(rows_per_chunk, src.rows - r0);
    // The contiguous source rows [first, first + span) cover this chunk's rows (every step-th).
    const uint64_t first = src.expert * src.src_rows + src.row0 + r0 * step, span = (rows - 1) * step + 1;
    uint8_t* blocks = src_.ensure(span * block_row);
    uint8_t* scales = scale_raw_.ensure(span * nb);
    src.data.read(first * block_row, blocks, span * block_row);
    src.scale.read(first * nb, scales, span * nb);
    uint8_t* out = out_.ensure(rows * weight_row_bytes(type, int64_t(src.cols)));
    repack_mxfp4_rows(blocks, scales, int64_t(nb), 0, int64_t(step), int64_t(rows), out);
    sink(out, rows * weight_row_bytes(type, int64_t(src.cols)));
  }
}

const uint8_t* TensorConverter::convert_chunk(const SourceTensor& src, WeightType type, uint64_t row0,
                                              uint64_t rows) {
  const StDtype dtype = src.data.info->dtype;
  const uint64_t cols = src.cols;
  const uint64_t src_row_bytes = cols * st_dtype_size(dtype);
  uint8_t* raw = src_.ensure(rows * src_row_bytes);
  src.data.read(row0 * src_row_bytes, raw, rows * src_row_bytes);
  if (is_identity(dtype, type)) return raw;  // same encoding: pass the source bytes through
  const uint64_t out_row_bytes = weight_row_bytes(type, int64_t(cols));
  uint8_t* out = out_.ensure(rows * out_row_bytes);
  auto* f32 = reinterpret_cast<float*>(f32_.ensure(rows * cols * sizeof(float)));
  const float* scale = nullptr;
  uint64_t scale_cols = 0;
  if (dtype == StDtype::F8_E4M3) {
    // Scale rows covering [row0, row0 + rows): [row0/128, (row0+rows-1)/128].
    scale_cols = (cols + kFp8Block - 1) / kFp8Block;
    const uint64_t s0 = row0 / kFp8Block, s1 = (row0 + rows - 1) / kFp8Block + 1;
    const StDtype sdt = src.scale.info->dtype;
    const uint64_t count = (s1 - s0) * scale_cols, esize = st_dtype_size(sdt);
    uint8_t* sraw = scale_raw_.ensure(count * esize);
    src.scale.read(s0 * scale_cols * esize, sraw, count * esize);
    auto* s = reinterpret_cast<float*>(scale_.ensure(count * sizeof(float)));
    decode_to_f32(sdt, sraw, count, s);
    scale = s;
  }
  const int64_t c = int64_t(cols);
  parallel_rows(rows, threads_, cols * (type == WeightType::Q4_0 || type == WeightType::Q2_1 ? 8 : 1), [&](uint64_t b, uint64_t e) {
    if (e <= b) return;
    // Decode and encode a few rows at a time (~128 KiB of f32) so the decoded values are
    // encoded while they are still in L2, instead of streaming the whole chunk through memory.
    const uint64_t batch = std::max<uint64_t>(1, (uint64_t(1) << 15) / cols);
    for (uint64_t r = b; r < e; r += batch) {
      const uint64_t n = std::min(batch, e - r);
      float* dst = f32 + r * cols;
      if (scale != nullptr) {
        // Rows from absolute row row0 + r; point `scale` at its block row.
        const float* srow = scale + ((row0 + r) / kFp8Block - row0 / kFp8Block) * scale_cols;
        dequantize_fp8_rows(raw + r * src_row_bytes, int64_t(row0 + r), int64_t(n), c, srow, int64_t(scale_cols), dst);
      } else if (dtype == StDtype::BF16) {
        decode_bf16_rows(isa_, raw + r * src_row_bytes, n * cols, dst);
      } else {
        decode_to_f32(dtype, raw + r * src_row_bytes, n * cols, dst);
      }
      // Bit-identical to quantize_row row by row (encode_simd.h).
      encode_rows(isa_, type, dst, int64_t(n), c, out + r * out_row_bytes);
    }
  });
  return out;
}

}  // namespace mote::convert
