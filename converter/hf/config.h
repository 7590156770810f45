// config.json of a supported checkpoint -> HfConfig (every hyper-parameter of fb::ModelConfig,
// in Hugging Face names). DeepSeek-V3/V2: absent keys take the defaults of transformers'
// DeepseekV3Config / DeepseekV2Config; nulls where HF allows them (q_lora_rank, n_group,
// topk_group, n_shared_experts, num_key_value_heads, bos/eos) map to documented values.
// Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE and dense Llama / Qwen2 (GQA attention,
// hf/config_gqa.cpp): the defaults of their transformers config classes; family keys
// (num_local_experts, num_experts, head_dim, ...) map onto the same fields (see there).
// Values are validated (positive dimensions, divisibility of experts by groups...); every error
// names the file and the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mote/mote_generated.h"

namespace mote::convert {

struct RopeScalingConfig {
  fb::RopeScalingType type = fb::RopeScalingType::None;
  float factor = 1.0f;
  uint64_t original_max_position_embeddings = 0;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  float mscale = 1.0f;
  float mscale_all_dim = 0.0f;
  float low_freq_factor = 1.0f;   // Llama3 only
  float high_freq_factor = 4.0f;  // Llama3 only
  bool truncate = true;           // Yarn: floor/ceil the correction range (gpt-oss: false)
};

struct HfConfig {
  fb::Architecture architecture = fb::Architecture::Unknown;
  std::string model_type;
  uint32_t vocab_size = 0;
  uint32_t hidden_size = 0;
  uint32_t intermediate_size = 0;
  uint32_t moe_intermediate_size = 0;
  uint32_t num_hidden_layers = 0;
  uint32_t num_nextn_predict_layers = 0;
  uint32_t num_attention_heads = 0;
  uint32_t num_key_value_heads = 0;
  uint32_t q_lora_rank = 0;  // 0 = no q-LoRA (q_proj)
  uint32_t kv_lora_rank = 0;
  uint32_t qk_nope_head_dim = 0;
  uint32_t qk_rope_head_dim = 0;
  uint32_t v_head_dim = 0;
  uint32_t n_routed_experts = 0;
  std::string experts_key = "n_routed_experts";  // the config.json key it was read from (for messages)
  uint32_t n_shared_experts = 0;
  uint32_t num_experts_per_tok = 0;
  uint32_t first_k_dense_replace = 0;
  uint32_t moe_layer_freq = 1;
  uint32_t n_group = 1;
  uint32_t topk_group = 1;
  fb::TopkMethod topk_method = fb::TopkMethod::Greedy;
  fb::ScoringFunc scoring_func = fb::ScoringFunc::Softmax;
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  RopeScalingConfig rope_scaling;
  uint64_t max_position_embeddings = 0;
  int32_t bos_token_id = -1;          // -1 = none
  std::vector<int32_t> eos_token_ids;
  bool tie_word_embeddings = false;
  // GQA families only (0 / None / false for DeepSeek).
  uint32_t head_dim = 0;                        // per-head q/k/v width
  uint32_t sliding_window = 0;                  // 0 = full attention
  fb::QkNorm qk_norm = fb::QkNorm::None;
  bool attention_bias = false;                  // q/k/v biases (Qwen2-MoE)
  uint32_t shared_expert_intermediate_size = 0; // Qwen2-MoE shared expert width (0 = none)
  // gpt-oss only.
  float swiglu_limit = 0.0f;                    // clamped SwiGLU limit (0 = plain SwiGLU)
  std::vector<uint8_t> layer_sliding;           // [num_hidden_layers] 1 = sliding layer; empty = all

  // Every family but DeepSeek's: grouped-query attention instead of MLA (arch/family.h).
  bool is_gqa() const;
  // Llama, Qwen2: one always-active FFN per layer, no routed experts (arch/family.h).
  bool is_dense() const;
  // A main-model layer (0 <= layer < num_hidden_layers) with a routed MoE FFN; MTP layers
  // (layer >= num_hidden_layers) are always MoE.
  bool is_moe_layer(uint32_t layer) const;
};

// Parses config.json text; `path` is used in messages. Throws ConvertError.
HfConfig parse_config(std::string_view json_text, const std::string& path);
// Reads and parses <dir>/config.json.
HfConfig load_config(const std::string& dir);

// Serialises `config` into `b`, storing `nextn_layers` as num_nextn_predict_layers (0 when the
// MTP layer is not in the file).
flatbuffers::Offset<fb::ModelConfig> build_model_config(flatbuffers::FlatBufferBuilder& b,
                                                        const HfConfig& config, uint32_t nextn_layers);

}  // namespace mote::convert
