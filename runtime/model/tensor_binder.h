// TensorBinder: looks the tensors of a verified .mote file up by (role, layer, expert), never by
// name, checks each shape against what the caller (model/weights.cpp, a family's binding hooks in
// families/arch_*.cpp) expects, and records which tensors were used so that a tensor no binding
// asked for is an error.
//
// Ownership: views point into the MoteFile mapping; 1-D vectors stored in a non-F32 type are
// dequantised into ModelWeights::owned. Not thread-safe (one binder per bind_weights call).
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "mote/mote_generated.h"

namespace mote {

class MoteFile;
struct ModelWeights;

class TensorBinder {
 public:
  using Role = fb::TensorRole;
  using Shape = std::vector<int64_t>;

  TensorBinder(const MoteFile& file, ModelWeights* out) : file_(file), out_(out) {}

  // Indexes the tensor table; two tensors with the same (role, layer, expert) are an error.
  Status build_index();

  bool has(Role role, int64_t layer) const;

  // The tensor (role, layer) with exactly `shape`.
  Result<WeightView> matrix(Role role, int64_t layer, const Shape& shape);

  // Like matrix(), for tensors the blocks slice at row offsets that are not multiples of 16 (MLA's
  // kv_b, cut per head): row groups would be cut apart there, so the file must keep them row-major.
  Result<WeightView> row_major_matrix(Role role, int64_t layer, const Shape& shape);

  // A vector [n] as f32: in place when stored as F32, else dequantised into owned storage.
  Result<const float*> vector(Role role, int64_t layer, int64_t n);

  // The vector (role, layer, expert) [n] as f32 (gpt-oss expert biases, in the expert's segment).
  Result<const float*> expert_vector(Role role, int64_t layer, int64_t expert, int64_t n);

  // Tensor `index` (from an expert table) must be (role, layer, expert) with `shape`.
  Result<WeightView> expert_tensor(uint32_t index, Role role, int64_t layer, int64_t expert, const Shape& shape);

  // Every tensor of the file was bound by someone.
  Status check_all_used() const;

 private:
  using Key = std::tuple<int, int, int>;

  const float* as_f32(const WeightView& v, int64_t n);
  Result<WeightView> checked(uint32_t index, const Shape& expected);

  const MoteFile& file_;
  ModelWeights* out_;
  std::map<Key, uint32_t> index_;
  std::vector<bool> used_;
};

}  // namespace mote
