// DecoderScratch sizing and carving (families/decoder.h).
#include <algorithm>

#include "families/decoder.h"
#include "kernels/kernels.h"
#include "model/family.h"

namespace mote::families {

DecoderVariants decoder_variants(const HParams& hp) {
  // HParams::from_config accepted the architecture only if it has a family, so this is found.
  const FamilySpec& family = *find_family(hp.arch);
  DecoderVariants v;
  v.attention = family.attention;
  v.rope = family.rope;
  v.experts = family.experts;
  return v;
}

namespace {

// Hands out consecutive 64-byte-aligned pieces of a caller-owned arena, so the scratch is sized
// once and carved without allocation. With a null base it only counts (decoder_scratch_size).
// The pieces are addresses only: the carver never touches the memory (device arenas included).
class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<uint8_t*>(base)) {}
  template <typename T>
  T* take(int64_t n) {
    T* p = base_ ? reinterpret_cast<T*>(base_ + used_) : nullptr;
    used_ += (uint64_t(n) * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    return p;
  }
  uint64_t used() const { return used_; }

 private:
  static constexpr uint64_t kAlign = 64;
  uint8_t* base_;
  uint64_t used_ = 0;
};

int64_t max_ffn_width(const HParams& hp) {
  int64_t width = std::max(hp.moe_intermediate_size, hp.shared_intermediate_size());
  for (int64_t l = 0; l < hp.n_layers; ++l)
    if (!hp.is_moe_layer(l)) width = std::max(width, hp.intermediate_size);  // dense FFN
  return width;
}

// The FFN/MoE scratch over T tokens, FFN widths up to `width`; shared_gate only for Qwen2-MoE's
// gated shared expert.
blocks::FfnScratch carve_ffn(const backend::Backend& b, const HParams& hp, int64_t T, int64_t width, Carver& dev,
                             Carver& host) {
  const int64_t H = hp.hidden_size;
  const int64_t E = hp.n_routed_experts > 1 ? hp.n_routed_experts : 1;
  const int64_t K = hp.n_experts_per_tok > 1 ? hp.n_experts_per_tok : 1;
  const int64_t q_row = kernels::quantized_row_bytes(H);
  blocks::FfnScratch s;
  s.gate = dev.take<float>(T * width);
  s.up = dev.take<float>(T * width);
  s.gathered = dev.take<float>(T * H);
  s.expert_out = dev.take<float>(T * H);
  s.router_logits = dev.take<float>(std::min(T, blocks::kRouteChunk) * E);
  s.route_scratch = dev.take<float>(router_params(hp).scratch_size());
  s.sel_idx = dev.take<int32_t>(T * K);
  s.sel_weight = dev.take<float>(T * K);
  s.shared_gate = hp.shared_expert_gated ? dev.take<float>(T) : nullptr;
  s.quantized = dev.take<uint8_t>(T * q_row);
  s.gathered_q = dev.take<uint8_t>(T * q_row);
  s.job_x = dev.take<float>(blocks::kJobSlots * H);
  s.job_q = dev.take<uint8_t>(blocks::kJobSlots * q_row);
  s.job_hidden = dev.take<float>(blocks::kJobSlots * width);
  s.job_scratch = dev.take<float>(blocks::kJobSlots * width);
  s.job_out = dev.take<float>(blocks::kJobSlots * H);
  // No per-session expert slots: on a backend with separate memory the decoder serves routed
  // experts through the model's device expert cache (blocks/ffn_tiers.h), whose slots are the
  // model's (part of the VRAM budget), so s.expert_slots stays null.
  s.sel_idx_host = host.take<int32_t>(T * K);
  s.sel_weight_host = host.take<float>(T * K);
  s.expert_end = host.take<int32_t>(E + 1);
  s.slot_token = host.take<int32_t>(T * K);
  s.slot_weight = host.take<float>(T * K);
  s.predicted = host.take<int32_t>(E);
  if (!b.unified_memory() && hp.n_routed_experts > 0) {  // experts computed on the host (blocks/ffn_tiers.h)
    s.host_x = host.take<float>(T * H);
    s.host_q = host.take<uint8_t>(T * q_row);
    s.host_gate = host.take<float>(T * width);
    s.host_up = host.take<float>(T * width);
    s.host_out = host.take<float>(T * H);
  }
  return s;
}

DecoderScratch carve(const backend::Backend& b, const HParams& hp, int64_t T, int64_t max_context, Carver& dev,
                     Carver& host) {
  const int64_t H = hp.hidden_size;
  DecoderScratch s;
  s.max_tokens = T;
  s.max_context = max_context;
  s.variants = decoder_variants(hp);
  s.hidden = dev.take<float>(T * H);
  s.normed = dev.take<float>(T * H);
  s.branch = dev.take<float>(T * H);
  if (s.variants.attention == AttentionKind::kMla) {
    const int64_t nh = hp.n_heads, c = hp.kv_lora_rank;
    s.rope_cos = dev.take<float>(T * hp.qk_rope_head_dim / 2);
    s.rope_sin = dev.take<float>(T * hp.qk_rope_head_dim / 2);
    s.mla.q_a = dev.take<float>(T * hp.q_lora_rank);
    s.mla.q = dev.take<float>(T * nh * hp.qk_head_dim);
    s.mla.kv_a = dev.take<float>(T * hp.kv_cache_dim);
    s.mla.q_lat = dev.take<float>(T * nh * c);
    s.mla.ctx = dev.take<float>(T * nh * c);
    s.mla.o = dev.take<float>(T * nh * hp.v_head_dim);
    s.mla.work_floats = blocks::mla_workspace_floats(blocks::MlaDims::from_hparams(hp));
    s.mla.work = dev.take<float>(s.mla.work_floats);
  } else {
    const int64_t q = hp.n_heads * hp.head_dim;
    s.rope_cos = dev.take<float>(T * hp.head_dim / 2);
    s.rope_sin = dev.take<float>(T * hp.head_dim / 2);
    s.gqa.q = dev.take<float>(T * q);
    s.gqa.ctx = dev.take<float>(T * q);
    s.gqa.kv_rows = dev.take<float>(T * 2 * hp.n_kv_heads * hp.head_dim);
    s.gqa.work_floats = blocks::gqa_workspace_floats(blocks::GqaDims::from_hparams(hp));
    s.gqa.work = dev.take<float>(s.gqa.work_floats);
  }
  s.ffn = carve_ffn(b, hp, T, max_ffn_width(hp), dev, host);
  s.mtp_cat = hp.n_mtp_layers > 0 ? dev.take<float>(T * 2 * H) : nullptr;
  s.logits = b.unified_memory() ? nullptr : dev.take<float>(T * hp.vocab_size);
  return s;
}

}  // namespace

ScratchSize decoder_scratch_size(const backend::Backend& b, const HParams& hp, int64_t max_tokens,
                                 int64_t max_context) {
  Carver dev(nullptr), host(nullptr);
  carve(b, hp, max_tokens, max_context, dev, host);
  return {dev.used(), host.used()};
}

DecoderScratch carve_decoder_scratch(const backend::Backend& b, const HParams& hp, int64_t max_tokens,
                                     int64_t max_context, void* device, void* host) {
  Carver dev(device), h(host);
  return carve(b, hp, max_tokens, max_context, dev, h);
}

}  // namespace mote::families
