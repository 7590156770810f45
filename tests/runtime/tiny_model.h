// Test helper: writes small DeepSeek-V2/V3 .mote files with seeded random weights through the
// converter's MoteWriter, so runtime tests do not depend on the converter or on fixtures.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/tensor.h"
#include "mote/mote_generated.h"
#include "writer/mote_writer.h"

namespace mote::test {

struct TinyConfig {
  fb::Architecture arch = fb::Architecture::DeepSeekV3;
  int vocab = 41, hidden = 24, intermediate = 40, moe_intermediate = 12;
  int layers = 3, heads = 3;
  int q_lora = 16;  // 0: q_proj
  int kv_lora = 20, dn = 8, dr = 6, dv = 10;
  int experts = 8, shared = 1, top_k = 3, first_dense = 1, moe_freq = 1, n_group = 4, topk_group = 2;
  fb::TopkMethod topk_method = fb::TopkMethod::NoauxTc;
  fb::ScoringFunc scoring = fb::ScoringFunc::Sigmoid;
  bool norm_topk_prob = true;
  float routed_scale = 2.5f;
  float eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool yarn = true;
  float factor = 40.0f, mscale = 1.0f, mscale_all_dim = 1.0f;
  uint64_t original_max_position = 64;
  uint64_t max_position = 4096;
  int mtp_layers = 0;               // num_nextn_predict_layers; > 0 writes the MTP layers
  bool mtp_alias = false;           // MTP embedding/head not written (the runtime falls back)
  WeightType type = WeightType::F32;  // of every matrix (vectors stay F32)
  uint32_t seed = 1;
  float router_gain = 3.0f;         // router weight std multiplier: decisive routing
  float bias_max = 0.3f;            // |e_score_correction_bias| bound
  bool force_router_bias = false;   // write e_score_correction_bias even when not noaux_tc
};

// Called on each planned tensor before it is added; return false to drop it. May change the
// shape, type, role, layer or expert (the data follows the new shape and type).
using TensorEdit = std::function<bool(convert::PlannedTensor&)>;

// Writes the model to `path`; throws std::runtime_error on writer failure.
// Any TinyConfig field may be set to an invalid value to test validation.
void write_tiny_model(const std::string& path, const TinyConfig& cfg, const TensorEdit& edit = nullptr);

// The ModelConfig table of `cfg` in builder `b`.
flatbuffers::Offset<fb::ModelConfig> build_tiny_config(flatbuffers::FlatBufferBuilder& b, const TinyConfig& cfg);

// A path under MOTE_TEST_TMP for a test file.
std::string tiny_path(const std::string& name);

}  // namespace mote::test
