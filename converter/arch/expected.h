// The tensor list a checkpoint must provide, derived from its config by the family's mapping
// (arch/deepseek.h, arch/gqa.h): names as shipped by Hugging Face, expected shapes, the role the
// runtime binds the tensor by, its accounting class, layer and expert index.
//
// Grouping mirrors the file layout: globals; then per layer the non-expert tensors (attention,
// norms, dense MLP or router + shared experts, MTP extras) and the routed experts, each expert
// being its gate, up and down projections (one segment per expert in the .mote file).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hf/config.h"
#include "mote/mote_generated.h"

namespace mote::convert {

// Where a tensor comes from when it is not a checkpoint tensor of its own name: a piece of one of
// gpt-oss's fused expert tensors (mlp.experts.{gate_up,down}_proj_{blocks,scales,bias}).
struct SourceSlice {
  enum class Kind : uint8_t {
    kNone,       // the checkpoint tensor `name`
    kMxfp4Rows,  // rows of expert `expert` of `tensor` (*_blocks [E, R, nb, 16] U8) and its
                 // *_scales [E, R, nb] U8: source rows row0 + r * row_step, kept as MXFP4
    kBiasRows,   // entries row0 + r * row_step of row `expert` of `tensor` ([E, N] bias)
  };
  Kind kind = Kind::kNone;
  std::string tensor;
  uint32_t expert = 0;
  uint32_t row0 = 0, row_step = 1;
};

struct ExpectedTensor {
  ExpectedTensor() = default;
  // The mapping files list tensors as {name, role, class, layer, expert, shape} (slice kNone).
  ExpectedTensor(std::string name_, fb::TensorRole role_, fb::TensorClass class_, int layer_, int expert_,
                 std::vector<uint64_t> shape_, SourceSlice slice_ = {})
      : name(std::move(name_)), role(role_), tensor_class(class_), layer(layer_), expert(expert_),
        shape(std::move(shape_)), slice(std::move(slice_)) {}

  std::string name;
  fb::TensorRole role = fb::TensorRole::TokenEmbedding;
  fb::TensorClass tensor_class = fb::TensorClass::Norm;
  int layer = -1;
  int expert = -1;
  std::vector<uint64_t> shape;  // PyTorch order: [out, in] or [n]
  SourceSlice slice;            // kNone except for gpt-oss's experts
};

struct ExpectedLayer {
  uint32_t layer = 0;
  bool mtp = false;                                     // layer >= num_hidden_layers
  std::vector<ExpectedTensor> tensors;                  // non-expert, in compute order
  std::vector<std::array<ExpectedTensor, 3>> experts;   // [expert] = {gate, up, down}; empty if dense
  // [expert] = more tensors stored in that expert's segment (gpt-oss: its three biases); empty
  // for the other families.
  std::vector<std::vector<ExpectedTensor>> expert_extras;
};

struct ExpectedModel {
  std::vector<ExpectedTensor> globals;  // embed_tokens, norm, lm_head
  std::vector<ExpectedLayer> layers;    // main layers, then the MTP layers if requested
};

// The mapping of config.architecture (dispatch over the per-family mapping files). MTP layers
// only when `with_mtp` (DeepSeek-V3; other families have none).
ExpectedModel expected_tensors(const HfConfig& config, bool with_mtp);

}  // namespace mote::convert
