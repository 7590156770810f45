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
#include <vector>

#include "hf/config.h"
#include "mote/mote_generated.h"

namespace mote::convert {

struct ExpectedTensor {
  std::string name;
  fb::TensorRole role = fb::TensorRole::TokenEmbedding;
  fb::TensorClass tensor_class = fb::TensorClass::Norm;
  int layer = -1;
  int expert = -1;
  std::vector<uint64_t> shape;  // PyTorch order: [out, in] or [n]
};

struct ExpectedLayer {
  uint32_t layer = 0;
  bool mtp = false;                                     // layer >= num_hidden_layers
  std::vector<ExpectedTensor> tensors;                  // non-expert, in compute order
  std::vector<std::array<ExpectedTensor, 3>> experts;   // [expert] = {gate, up, down}; empty if dense
};

struct ExpectedModel {
  std::vector<ExpectedTensor> globals;  // embed_tokens, norm, lm_head
  std::vector<ExpectedLayer> layers;    // main layers, then the MTP layers if requested
};

// The mapping of config.architecture (dispatch over the per-family mapping files). MTP layers
// only when `with_mtp` (DeepSeek-V3; other families have none).
ExpectedModel expected_tensors(const HfConfig& config, bool with_mtp);

}  // namespace mote::convert
