// HParams: the validated hyper-parameters of a model, read from fb::ModelConfig, plus the values
// derived from them once at load (qk_head_dim, RoPE/YaRN tables, softmax scale, KV row width).
// DeepSeek-V2/V3 use MLA; Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, gpt-oss and the dense Llama / Qwen2 use
// grouped-query attention (is_gqa(): the MLA fields are 0 and the GQA fields below are set). What is
// specific to one family is read by its FamilySpec::read_hparams (model/family.h, families/arch_*.cpp).
// Plain value type: immutable after from_config(), safe to share between threads.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "kernels/rope.h"    // RopeParams
#include "kernels/router.h"  // ScoringFunc, TopkMethod, RouterParams
#include "mote/mote_generated.h"

namespace mote {

// One value per registered family (families/registry.cpp); a new family adds one here.
enum class Arch { kDeepSeekV2, kDeepSeekV3, kMixtral, kQwen2Moe, kQwen3Moe, kOlmoe, kLlama, kQwen2, kGptOss };
// Where GQA models RMS-normalise q and k, before RoPE (Qwen3-MoE: per head, over head_dim; OLMoE:
// over the whole q / k projection; as transformers' modeling_qwen3_moe.py / modeling_olmoe.py).
enum class QkNorm { kNone, kPerHead, kFull };
struct HParams {
  Arch arch = Arch::kDeepSeekV3;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;      // dense FFN width
  int64_t moe_intermediate_size = 0;  // one routed expert's width
  int64_t n_layers = 0;               // main-model layers 0..n_layers-1
  int64_t n_mtp_layers = 0;           // num_nextn_predict_layers (layers n_layers..)
  int64_t n_heads = 0;
  int64_t q_lora_rank = 0;            // 0: no q-LoRA (q_proj)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t n_experts_per_tok = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  TopkMethod topk_method = TopkMethod::kGreedy;
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
  float rms_norm_eps = 1e-6f;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 0;
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;

  // GQA families (0 / kNone / false for DeepSeek).
  int64_t n_kv_heads = 0;               // num_key_value_heads; divides n_heads
  int64_t head_dim = 0;                 // q/k/v width per head
  int64_t sliding_window = 0;           // keys at positions > pos - sliding_window; 0 = all
  QkNorm qk_norm = QkNorm::kNone;
  bool attention_bias = false;          // q/k/v biases (Qwen2-MoE)
  int64_t shared_expert_intermediate_size = 0;  // Qwen2-MoE; 0 = n_shared * moe_intermediate
  bool shared_expert_gated = false;     // Qwen2-MoE: shared expert scaled by sigmoid(gate . x)
  // gpt-oss: o_proj bias, per-head attention sinks, router bias, expert biases (implied by kGptOss);
  // routed experts use the clamped SwiGLU with this limit (0 = plain SwiGLU).
  float swiglu_limit = 0.0f;
  std::vector<uint8_t> layer_sliding;   // [n_layers] 1 = sliding_window applies; empty = every layer

  // The sliding window of `layer` (0 = full causal attention).
  int64_t window_for(int64_t layer) const {
    if (layer_sliding.empty() || layer >= int64_t(layer_sliding.size())) return sliding_window;
    return layer_sliding[size_t(layer)] ? sliding_window : 0;
  }

  // rope_scaling as read (HF semantics for absent values already applied).
  bool yarn = false;
  double rope_factor = 1.0;
  int64_t rope_original_max_position = 0;
  double beta_fast = 32.0, beta_slow = 1.0;
  double mscale = 1.0, mscale_all_dim = 0.0;
  // false: gpt-oss's YaRN ("truncate": false in its rope_scaling), correction range used
  // unfloored/unceiled.
  bool yarn_truncate = true;
  bool llama3 = false;                  // rope_type llama3 (uses rope_factor, rope_original_max_position)
  double low_freq_factor = 1.0, high_freq_factor = 4.0;

  // --- derived ---
  int64_t qk_head_dim = 0;    // qk_nope_head_dim + qk_rope_head_dim
  int64_t kv_cache_dim = 0;   // floats cached per token per layer: MLA kv_lora_rank + qk_rope_head_dim;
                              // GQA 2 * n_kv_heads * head_dim (K then V)
  RopeParams rope;
  float softmax_scale = 0;    // qk_head_dim^-0.5 * get_mscale(factor, mscale_all_dim)^2 (YaRN)

  // The family's attention is grouped-query (model/family.h AttentionKind::kGqa), not MLA.
  bool is_gqa() const;

  // DeepSeek/vLLM rule: MoE iff layer >= first_k_dense_replace and layer % moe_layer_freq == 0.
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  int64_t shared_intermediate_size() const {
    return shared_expert_intermediate_size > 0 ? shared_expert_intermediate_size
                                               : n_shared_experts * moe_intermediate_size;
  }

  // Reads and validates; errors name the offending field.
  static Result<HParams> from_config(const fb::ModelConfig& config);
};

// The router settings of an MoE layer of this model (kernels/router.h).
kernels::RouterParams router_params(const HParams& hp);

// YaRN helpers (DeepSeek flavour, as transformers' _compute_yarn_parameters and DeepSeek's
// inference/model.py compute it), exposed for tests.
// 1.0 if scale <= 1, else 0.1 * mscale * ln(scale) + 1.
double yarn_get_mscale(double scale, double mscale);
// Correction range [low, high] in rotary-pair index units: floor/ceil, clamped to [0, dim-1].
// truncate = false (gpt-oss): not rounded (still clamped, as HF).
void yarn_correction_range(double beta_fast, double beta_slow, int64_t dim, double base,
                           int64_t original_max_position, double* low, double* high, bool truncate = true);
// Fills hp->rope and hp->softmax_scale from the fields above (called by from_config).
void compute_rope_params(HParams* hp);

}  // namespace mote
