// Weight types and non-owning views of weights and activations.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mote {

// Same numeric values as mote::fb::WeightType in schema/mote.fbs (checked in format/).
// MXFP4 (gpt-oss routed experts) is kept as shipped, never produced by re-quantising a recipe.
enum class WeightType : uint8_t { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3, Q4_0 = 4, MXFP4 = 5, Q2_1 = 6 };
inline constexpr int kWeightTypeCount = 7;

const char* weight_type_name(WeightType type);
// Parses "f32", "f16", "bf16", "q8_0", "q4_0" (also "q4"); returns false if unknown.
bool parse_weight_type(const char* text, WeightType* out);

// A 2-D weight [rows, cols] in PyTorch [out, in] order. 1-D weights are views with rows == 1.
// Does not own `data` (it points into the mmapped file or an expert cache slot). Read-only,
// thread-safe to share.
// row_group == 1: rows stored one after another `row_stride` bytes apart.
// row_group == kRowGroup (16, Q8_0/Q4_0/Q2_1 only, rows a multiple of 16): groups of 16 rows
// stored one after another, 16 * row_stride bytes apart, each interleaved block column by block
// column (kernels/quant.h has the byte layout). row(r) is meaningless there: use group(g).
struct WeightView {
  WeightType type = WeightType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t row_stride = 0;  // bytes of one row's blocks (also in grouped views)
  const uint8_t* data = nullptr;
  int32_t row_group = 1;

  bool empty() const { return data == nullptr; }
  bool grouped() const { return row_group > 1; }
  const uint8_t* row(int64_t r) const { return data + uint64_t(r) * row_stride; }
  // Start of row group g (rows [16g, 16g + 16)) of a grouped view.
  const uint8_t* group(int64_t g) const { return data + uint64_t(g) * uint64_t(row_group) * row_stride; }
  // Valid only for F32 views (norm weights, biases).
  const float* f32() const { return reinterpret_cast<const float*>(data); }
};

}  // namespace mote
