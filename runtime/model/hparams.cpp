#include "model/hparams.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/family.h"
#include "model/hparams_limits.h"

namespace mote {
namespace {

constexpr double kPi = 3.14159265358979323846;

Status bad(const std::string& message) { return corrupt_file("model config: " + message); }

std::string num(int64_t v) { return std::to_string(v); }

// Grouped-query attention: heads, head_dim, KV groups.
Status validate_gqa_attention(const HParams& hp) {
  if (hp.n_kv_heads <= 0 || hp.n_heads % hp.n_kv_heads != 0)
    return bad("num_key_value_heads (" + num(hp.n_kv_heads) + ") must be > 0 and divide num_attention_heads (" +
               num(hp.n_heads) + ")");
  if (hp.head_dim <= 0 || hp.head_dim % 2 != 0)
    return bad("head_dim must be > 0 and even (got " + num(hp.head_dim) + ")");
  if (hp.sliding_window < 0) return bad("sliding_window must be >= 0");
  return Status::ok();
}

// Structural checks of the attention and FFN dimensions.
Status validate_dims(const HParams& hp) {
  struct Positive { const char* name; int64_t value; };
  const Positive positive[] = {
      {"vocab_size", hp.vocab_size},         {"hidden_size", hp.hidden_size},
      {"num_hidden_layers", hp.n_layers},    {"num_attention_heads", hp.n_heads},
      {"moe_layer_freq", hp.moe_layer_freq},
  };
  for (const Positive& p : positive)
    if (p.value <= 0) return bad(std::string(p.name) + " must be > 0 (got " + num(p.value) + ")");
  if (hp.is_gqa()) {
    MOTE_RETURN_IF_ERROR(validate_gqa_attention(hp));
  } else {
    const Positive mla[] = {
        {"kv_lora_rank", hp.kv_lora_rank}, {"qk_nope_head_dim", hp.qk_nope_head_dim},
        {"qk_rope_head_dim", hp.qk_rope_head_dim}, {"v_head_dim", hp.v_head_dim},
    };
    for (const Positive& p : mla)
      if (p.value <= 0) return bad(std::string(p.name) + " must be > 0 (got " + num(p.value) + ")");
    if (hp.qk_rope_head_dim % 2 != 0)
      return bad("qk_rope_head_dim must be even (got " + num(hp.qk_rope_head_dim) + ")");
  }
  if (hp.first_k_dense_replace > hp.n_layers)
    return bad("first_k_dense_replace (" + num(hp.first_k_dense_replace) + ") > num_hidden_layers (" +
               num(hp.n_layers) + ")");
  bool any_dense = false, any_moe = false;
  for (int64_t l = 0; l < hp.n_layers + hp.n_mtp_layers; ++l) (hp.is_moe_layer(l) ? any_moe : any_dense) = true;
  if (any_dense && hp.intermediate_size <= 0)
    return bad("intermediate_size must be > 0: the model has dense layers");
  if (any_moe && hp.moe_intermediate_size <= 0)
    return bad("moe_intermediate_size must be > 0: the model has MoE layers");
  if (!(hp.rms_norm_eps > 0.0f)) return bad("rms_norm_eps must be > 0");
  if (!(hp.rope_theta > 1.0)) return bad("rope_theta must be > 1");
  return Status::ok();
}

Status validate_router(const HParams& hp) {
  if (hp.n_routed_experts == 0) return Status::ok();  // dense-only model
  const int64_t e = hp.n_routed_experts;
  if (hp.n_experts_per_tok < 1 || hp.n_experts_per_tok > e)
    return bad("num_experts_per_tok (" + num(hp.n_experts_per_tok) + ") must be in [1, n_routed_experts = " +
               num(e) + "]");
  if (hp.n_group < 1) return bad("n_group must be >= 1 (got " + num(hp.n_group) + ")");
  if (e % hp.n_group != 0)
    return bad("n_routed_experts (" + num(e) + ") is not a multiple of n_group (" + num(hp.n_group) + ")");
  if (hp.topk_group < 1 || hp.topk_group > hp.n_group)
    return bad("topk_group (" + num(hp.topk_group) + ") must be in [1, n_group = " + num(hp.n_group) + "]");
  if (hp.topk_method != TopkMethod::kGreedy) {
    const int64_t per_group = e / hp.n_group;
    if (hp.n_experts_per_tok > hp.topk_group * per_group)
      return bad("num_experts_per_tok (" + num(hp.n_experts_per_tok) + ") exceeds the experts of topk_group (" +
                 num(hp.topk_group) + ") groups of " + num(per_group));
    if (hp.topk_method == TopkMethod::kNoauxTc && per_group < 2)
      return bad("noaux_tc needs >= 2 experts per group (n_routed_experts / n_group = " + num(per_group) + ")");
  }
  if (!std::isfinite(hp.routed_scaling_factor)) return bad("routed_scaling_factor is not finite");
  return Status::ok();
}

// The fields of grouped-query attention every GQA family shares; MLA files leave them at their
// defaults. Family-specific fields (gpt-oss's swiglu_limit, Qwen2-MoE's gated shared expert) are
// read by the family's read_hparams hook.
Status read_gqa_fields(const fb::ModelConfig& c, HParams* hp) {
  hp->n_kv_heads = c.num_key_value_heads();
  hp->head_dim = c.head_dim();
  hp->sliding_window = c.sliding_window();
  switch (c.qk_norm()) {
    case fb::QkNorm::None: hp->qk_norm = QkNorm::kNone; break;
    case fb::QkNorm::PerHead: hp->qk_norm = QkNorm::kPerHead; break;
    case fb::QkNorm::Full: hp->qk_norm = QkNorm::kFull; break;
    default: return unsupported("model config: unknown qk_norm " + std::to_string(int(c.qk_norm())));
  }
  hp->attention_bias = c.attention_bias();
  hp->shared_expert_intermediate_size = c.shared_expert_intermediate_size();
  return Status::ok();
}

// GQA: which layers the sliding window applies to (gpt-oss alternates). Read after the family's
// hook, so that a file with both a bad family field and a bad list reports the family field.
Status read_layer_sliding(const fb::ModelConfig& c, HParams* hp) {
  if (c.layer_sliding() != nullptr) {
    // Compared before copying: n_layers is bounded later, the vector only by the metadata size.
    if (int64_t(c.layer_sliding()->size()) != hp->n_layers)
      return bad("layer_sliding has " + num(int64_t(c.layer_sliding()->size())) +
                 " entries, expected num_hidden_layers = " + num(hp->n_layers));
    hp->layer_sliding.assign(c.layer_sliding()->begin(), c.layer_sliding()->end());
  }
  return Status::ok();
}

// rope_scaling: DeepSeek-flavoured YaRN or Llama-3 frequency scaling (absent values take HF's).
Status read_rope_scaling(const fb::ModelConfig& c, HParams* hp) {
  if (const fb::RopeScaling* rs = c.rope_scaling(); rs != nullptr && rs->type() == fb::RopeScalingType::Yarn) {
    hp->yarn = true;
    hp->rope_factor = rs->factor();
    // HF: original_max_position_embeddings defaults to max_position_embeddings; beta 0 -> default.
    hp->rope_original_max_position = rs->original_max_position_embeddings() != 0
                                         ? int64_t(rs->original_max_position_embeddings())
                                         : hp->max_position_embeddings;
    hp->beta_fast = rs->beta_fast() != 0.0f ? rs->beta_fast() : 32.0;
    hp->beta_slow = rs->beta_slow() != 0.0f ? rs->beta_slow() : 1.0;
    hp->mscale = rs->mscale();
    hp->mscale_all_dim = rs->mscale_all_dim();
    hp->yarn_truncate = rs->truncate();
    if (!(hp->rope_factor > 0.0)) return bad("rope_scaling.factor must be > 0");
    if (hp->rope_original_max_position <= 0)
      return bad("rope_scaling.original_max_position_embeddings must be > 0");
  } else if (rs != nullptr && rs->type() == fb::RopeScalingType::Llama3) {
    hp->llama3 = true;
    hp->rope_factor = rs->factor();
    hp->rope_original_max_position = int64_t(rs->original_max_position_embeddings());
    hp->low_freq_factor = rs->low_freq_factor();
    hp->high_freq_factor = rs->high_freq_factor();
    if (!(hp->rope_factor > 0.0)) return bad("rope_scaling.factor must be > 0");
    if (!(hp->high_freq_factor > hp->low_freq_factor) || !(hp->low_freq_factor > 0.0))
      return bad("rope_scaling: high_freq_factor must be > low_freq_factor > 0");
    if (hp->rope_original_max_position <= 0)
      return bad("rope_scaling.original_max_position_embeddings must be > 0");
  } else if (rs != nullptr && rs->type() != fb::RopeScalingType::None) {
    return unsupported("model config: unknown rope_scaling type " + std::to_string(int(rs->type())));
  }
  return Status::ok();
}

// Llama-3 frequency scaling (HF _compute_llama3_parameters): wavelengths longer than
// original_max_position / low_freq_factor are divided by factor, shorter than
// original_max_position / high_freq_factor kept, and the band between blended smoothly.
void llama3_inv_freq(const HParams& hp, RopeParams* rope) {
  const double old_len = double(hp.rope_original_max_position);
  const double low_wavelen = old_len / hp.low_freq_factor, high_wavelen = old_len / hp.high_freq_factor;
  for (int64_t j = 0; j < rope->dim / 2; ++j) {
    const double f = std::pow(hp.rope_theta, -double(2 * j) / double(rope->dim));
    const double wavelen = 2.0 * kPi / f;
    double out = wavelen > low_wavelen ? f / hp.rope_factor : f;
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
      const double smooth = (old_len / wavelen - hp.low_freq_factor) / (hp.high_freq_factor - hp.low_freq_factor);
      out = (1.0 - smooth) * f / hp.rope_factor + smooth * f;
    }
    rope->inv_freq[size_t(j)] = float(out);
  }
  rope->attention_factor = 1.0f;
}

}  // namespace

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

void yarn_correction_range(double beta_fast, double beta_slow, int64_t dim, double base,
                           int64_t original_max_position, double* low, double* high, bool truncate) {
  auto correction_dim = [&](double rotations) {
    return double(dim) * std::log(double(original_max_position) / (rotations * 2.0 * kPi)) /
           (2.0 * std::log(base));
  };
  // HF find_correction_range: floor/ceil only when truncating; the clamp always applies.
  const double low_raw = correction_dim(beta_fast), high_raw = correction_dim(beta_slow);
  *low = std::max(truncate ? std::floor(low_raw) : low_raw, 0.0);
  *high = std::min(truncate ? std::ceil(high_raw) : high_raw, double(dim - 1));
}

void compute_rope_params(HParams* hp) {
  RopeParams& rope = hp->rope;
  // GQA families rotate the whole head (half-rotated pairs); DeepSeek only the qk_rope_head_dim
  // part (interleaved pairs).
  rope.dim = hp->is_gqa() ? hp->head_dim : hp->qk_rope_head_dim;
  rope.yarn = hp->yarn;
  const int64_t half = rope.dim / 2;
  rope.inv_freq.assign(size_t(half), 0.0f);
  hp->qk_head_dim = hp->is_gqa() ? hp->head_dim : hp->qk_nope_head_dim + hp->qk_rope_head_dim;
  double scale = 1.0 / std::sqrt(double(hp->qk_head_dim));
  if (hp->llama3) {
    llama3_inv_freq(*hp, &rope);
    hp->softmax_scale = float(scale);
    return;
  }
  if (!hp->yarn) {
    for (int64_t j = 0; j < half; ++j)
      rope.inv_freq[size_t(j)] = float(std::pow(hp->rope_theta, -double(2 * j) / double(rope.dim)));
    rope.attention_factor = 1.0f;
    hp->softmax_scale = float(scale);
    return;
  }
  const double s = hp->rope_factor;
  yarn_correction_range(hp->beta_fast, hp->beta_slow, rope.dim, hp->rope_theta,
                        hp->rope_original_max_position, &rope.yarn_low, &rope.yarn_high, hp->yarn_truncate);
  const double low = rope.yarn_low;
  const double high = rope.yarn_high == low ? low + 0.001 : rope.yarn_high;
  for (int64_t j = 0; j < half; ++j) {
    const double extrapolated = std::pow(hp->rope_theta, -double(2 * j) / double(rope.dim));
    const double ramp = std::clamp((double(j) - low) / (high - low), 0.0, 1.0);
    rope.inv_freq[size_t(j)] = float(extrapolated * (1.0 - ramp) + extrapolated / s * ramp);
  }
  // HF _compute_yarn_parameters: the ratio only when both mscale values are set (non-zero),
  // otherwise get_mscale(factor) with mscale = 1.
  rope.attention_factor = (hp->mscale != 0.0 && hp->mscale_all_dim != 0.0)
                              ? float(yarn_get_mscale(s, hp->mscale) / yarn_get_mscale(s, hp->mscale_all_dim))
                              : float(yarn_get_mscale(s, 1.0));
  // DeepSeek attention: scale *= get_mscale(factor, mscale_all_dim)^2 when mscale_all_dim != 0
  // (V2 as well: DeepSeek's inference/model.py and vLLM apply it to V2; only transformers'
  // DeepseekV2Attention leaves it out).
  if (hp->mscale_all_dim != 0.0) {
    const double m = yarn_get_mscale(s, hp->mscale_all_dim);
    scale *= m * m;
  }
  hp->softmax_scale = float(scale);
}

bool HParams::is_gqa() const {
  const FamilySpec* family = find_family(arch);
  return family != nullptr && family->attention == AttentionKind::kGqa;
}

Result<HParams> HParams::from_config(const fb::ModelConfig& c) {
  HParams hp;
  const FamilySpec* family = find_family(c.architecture());
  if (family == nullptr)
    return unsupported("model config: architecture " + std::to_string(int(c.architecture())) + " (" +
                       (c.model_type() ? c.model_type()->str() : std::string("?")) + ") is not supported");
  hp.arch = family->arch;
  hp.vocab_size = c.vocab_size();
  hp.hidden_size = c.hidden_size();
  hp.intermediate_size = c.intermediate_size();
  hp.moe_intermediate_size = c.moe_intermediate_size();
  hp.n_layers = c.num_hidden_layers();
  hp.n_mtp_layers = c.num_nextn_predict_layers();
  hp.n_heads = c.num_attention_heads();
  hp.q_lora_rank = c.q_lora_rank();
  hp.kv_lora_rank = c.kv_lora_rank();
  hp.qk_nope_head_dim = c.qk_nope_head_dim();
  hp.qk_rope_head_dim = c.qk_rope_head_dim();
  hp.v_head_dim = c.v_head_dim();
  hp.n_routed_experts = c.n_routed_experts();
  hp.n_shared_experts = c.n_shared_experts();
  hp.n_experts_per_tok = c.num_experts_per_tok();
  hp.first_k_dense_replace = c.first_k_dense_replace();
  hp.moe_layer_freq = c.moe_layer_freq();
  hp.n_group = c.n_group();
  hp.topk_group = c.topk_group();
  switch (c.topk_method()) {
    case fb::TopkMethod::Greedy: hp.topk_method = TopkMethod::kGreedy; break;
    case fb::TopkMethod::GroupLimitedGreedy: hp.topk_method = TopkMethod::kGroupLimitedGreedy; break;
    case fb::TopkMethod::NoauxTc: hp.topk_method = TopkMethod::kNoauxTc; break;
    default: return unsupported("model config: unknown topk_method " + std::to_string(int(c.topk_method())));
  }
  switch (c.scoring_func()) {
    case fb::ScoringFunc::Softmax: hp.scoring_func = ScoringFunc::kSoftmax; break;
    case fb::ScoringFunc::Sigmoid: hp.scoring_func = ScoringFunc::kSigmoid; break;
    case fb::ScoringFunc::SoftmaxTopk: hp.scoring_func = ScoringFunc::kSoftmaxTopk; break;
    default: return unsupported("model config: unknown scoring_func " + std::to_string(int(c.scoring_func())));
  }
  hp.norm_topk_prob = c.norm_topk_prob();
  hp.routed_scaling_factor = c.routed_scaling_factor();
  hp.rms_norm_eps = c.rms_norm_eps();
  hp.rope_theta = c.rope_theta();
  hp.max_position_embeddings = int64_t(c.max_position_embeddings());
  hp.bos_token_id = c.bos_token_id();
  if (c.eos_token_ids()) hp.eos_token_ids.assign(c.eos_token_ids()->begin(), c.eos_token_ids()->end());
  if (family->attention == AttentionKind::kGqa) MOTE_RETURN_IF_ERROR(read_gqa_fields(c, &hp));
  if (family->read_hparams != nullptr) MOTE_RETURN_IF_ERROR(family->read_hparams(c, &hp));
  if (family->attention == AttentionKind::kGqa) MOTE_RETURN_IF_ERROR(read_layer_sliding(c, &hp));
  MOTE_RETURN_IF_ERROR(read_rope_scaling(c, &hp));
  // Bounds first: validate_dims loops over the layers and compute_rope_params allocates [dim / 2].
  MOTE_RETURN_IF_ERROR(check_hparam_limits(hp));
  MOTE_RETURN_IF_ERROR(validate_dims(hp));
  MOTE_RETURN_IF_ERROR(validate_router(hp));
  hp.kv_cache_dim = hp.is_gqa() ? 2 * hp.n_kv_heads * hp.head_dim : hp.kv_lora_rank + hp.qk_rope_head_dim;
  if (hp.kv_cache_dim > HParamLimits::kKvCacheDim)
    return bad("KV cache row of " + num(hp.kv_cache_dim) + " floats per token and layer exceeds the limit " +
               num(HParamLimits::kKvCacheDim));
  compute_rope_params(&hp);
  return hp;
}

kernels::RouterParams router_params(const HParams& hp) {
  kernels::RouterParams p;
  p.scoring = hp.scoring_func;
  p.method = hp.topk_method;
  p.n_experts = hp.n_routed_experts;
  p.n_group = hp.n_group;
  p.topk_group = hp.topk_group;
  p.top_k = hp.n_experts_per_tok;
  p.norm_topk_prob = hp.norm_topk_prob;
  p.routed_scaling_factor = hp.routed_scaling_factor;
  return p;
}

}  // namespace mote
