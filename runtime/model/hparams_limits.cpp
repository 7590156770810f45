#include "model/hparams_limits.h"

#include <cmath>
#include <string>

#include "format/mote_file.h"

namespace mote {
namespace {

using L = HParamLimits;

Status too_large(const char* field, int64_t value, int64_t limit) {
  return corrupt_file(std::string("model config: ") + field + " " + std::to_string(value) +
                      (value < 0 ? " is negative (or above 2^63)" : " exceeds the limit " + std::to_string(limit)));
}

struct Bounded {
  const char* name;
  int64_t value;
  int64_t limit;
};

Status check_integers(const HParams& hp) {
  const Bounded fields[] = {
      {"vocab_size", hp.vocab_size, L::kVocab},
      {"hidden_size", hp.hidden_size, L::kWidth},
      {"intermediate_size", hp.intermediate_size, L::kWidth},
      {"moe_intermediate_size", hp.moe_intermediate_size, L::kWidth},
      {"shared_expert_intermediate_size", hp.shared_expert_intermediate_size, L::kWidth},
      {"num_hidden_layers", hp.n_layers, L::kLayers},
      {"num_nextn_predict_layers", hp.n_mtp_layers, L::kMtpLayers},
      {"num_attention_heads", hp.n_heads, L::kHeads},
      {"num_key_value_heads", hp.n_kv_heads, L::kHeads},
      {"head_dim", hp.head_dim, L::kHeadDim},
      {"q_lora_rank", hp.q_lora_rank, L::kWidth},
      {"kv_lora_rank", hp.kv_lora_rank, L::kWidth},
      {"qk_nope_head_dim", hp.qk_nope_head_dim, L::kHeadDim},
      {"qk_rope_head_dim", hp.qk_rope_head_dim, L::kHeadDim},
      {"v_head_dim", hp.v_head_dim, L::kHeadDim},
      {"n_routed_experts", hp.n_routed_experts, L::kExperts},
      {"n_shared_experts", hp.n_shared_experts, L::kExperts},
      {"num_experts_per_tok", hp.n_experts_per_tok, L::kExperts},
      {"first_k_dense_replace", hp.first_k_dense_replace, L::kLayers},
      {"moe_layer_freq", hp.moe_layer_freq, L::kLayers},
      {"n_group", hp.n_group, L::kExperts},
      {"topk_group", hp.topk_group, L::kExperts},
      {"max_position_embeddings", hp.max_position_embeddings, L::kPositions},
      {"sliding_window", hp.sliding_window, L::kPositions},
      {"rope_scaling.original_max_position_embeddings", hp.rope_original_max_position, L::kPositions},
  };
  for (const Bounded& f : fields)
    if (f.value < 0 || f.value > f.limit) return too_large(f.name, f.value, f.limit);
  // The shared-expert width is a product; both factors are bounded, so it cannot overflow.
  if (hp.shared_intermediate_size() > L::kWidth)
    return too_large("n_shared_experts * moe_intermediate_size", hp.shared_intermediate_size(), L::kWidth);
  return Status::ok();
}

struct FloatRange {
  const char* name;
  double value;
  double min, max;  // inclusive; NaN fails every comparison
};

Status check_floats(const HParams& hp) {
  const FloatRange fields[] = {
      {"routed_scaling_factor", hp.routed_scaling_factor, -1e6, 1e6},
      {"rms_norm_eps", hp.rms_norm_eps, 0.0, 1.0},
      {"rope_theta", hp.rope_theta, 0.0, 1e12},
      {"rope_scaling.factor", hp.rope_factor, 0.0, 1e6},
      {"rope_scaling.beta_fast", hp.beta_fast, -1e6, 1e6},
      {"rope_scaling.beta_slow", hp.beta_slow, -1e6, 1e6},
      {"rope_scaling.mscale", hp.mscale, -1e6, 1e6},
      {"rope_scaling.mscale_all_dim", hp.mscale_all_dim, -1e6, 1e6},
      {"rope_scaling.low_freq_factor", hp.low_freq_factor, -1e6, 1e6},
      {"rope_scaling.high_freq_factor", hp.high_freq_factor, -1e6, 1e6},
      {"swiglu_limit", hp.swiglu_limit, 0.0, 1e6},
  };
  for (const FloatRange& f : fields)
    if (!(f.value >= f.min && f.value <= f.max))
      return corrupt_file(std::string("model config: ") + f.name + " " + std::to_string(f.value) +
                          " is not a finite number in [" + std::to_string(f.min) + ", " + std::to_string(f.max) + "]");
  return Status::ok();
}

}  // namespace

Status check_hparam_limits(const HParams& hp) {
  MOTE_RETURN_IF_ERROR(check_integers(hp));
  return check_floats(hp);
}

Status check_layers_against_tensors(const MoteFile& file, const HParams& hp) {
  int64_t max_layer = -1;
  for (const fb::Tensor* t : *file.model().tensors()) max_layer = std::max<int64_t>(max_layer, t->layer());
  const int64_t mtp = file.model().has_mtp() ? hp.n_mtp_layers : 0;
  if (max_layer + 1 != hp.n_layers + mtp)
    return corrupt_file("model config: num_hidden_layers " + std::to_string(hp.n_layers) +
                        (mtp > 0 ? " + num_nextn_predict_layers " + std::to_string(mtp) : std::string()) +
                        " does not match the tensor table, whose highest layer index is " + std::to_string(max_layer));
  return Status::ok();
}

}  // namespace mote
