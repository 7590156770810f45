// Weight binding: every tensor of a verified .mote file bound by (role, layer, expert), never by
// name, into per-layer structs of WeightViews, with every shape checked against HParams.
//
// Ownership: WeightViews point into the MoteFile mapping (which must outlive the ModelWeights).
// 1-D vectors (norm weights, router bias) are exposed as f32 pointers: into the file when stored
// as F32, otherwise into an f32 copy owned by ModelWeights. Every 2-D weight, kv_b_proj included,
// is used in place in its stored type (MLA takes W_UK/W_UV as row slices of kv_b, see
// blocks/mla.h). Immutable after bind_weights(); thread-safe to share.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "model/hparams.h"

namespace mote {

class MoteFile;

// One routed expert (or the shared experts): down(silu(gate x) * up x).
// gpt-oss experts also have biases (blocks::clamped_swiglu_mlp); null for every other family.
struct ExpertWeights {
  WeightView gate;  // [I, H]
  WeightView up;    // [I, H]
  WeightView down;  // [H, I]
  const float* gate_bias = nullptr;  // [I] (gpt-oss: the even rows of gate_up_proj_bias)
  const float* up_bias = nullptr;    // [I] (gpt-oss: the odd rows)
  const float* down_bias = nullptr;  // [H]
};

// MLA (blocks/mla.h). nh = heads, dn/dr/dv = qk_nope/qk_rope/v head dims, qk = dn + dr.
// GQA families (HParams::is_gqa()) use norm, q, k, v, o and the optional q/k norms and biases
// (nkv = KV heads, hd = head_dim); the MLA fields stay empty.
struct AttentionWeights {
  const float* norm = nullptr;       // input_layernorm [H]
  WeightView q_a;                    // q-LoRA only: q_a_proj [q_lora, H]
  const float* q_a_norm = nullptr;   // q-LoRA only: q_a_layernorm [q_lora]
  WeightView q_b;                    // q-LoRA only: q_b_proj [nh*qk, q_lora]
  WeightView q;                      // no q-LoRA: q_proj [nh*qk, H]
  WeightView kv_a;                   // kv_a_proj_with_mqa [kv_lora + dr, H]
  const float* kv_a_norm = nullptr;  // kv_a_layernorm [kv_lora]
  // kv_b_proj [nh*(dn+dv), kv_lora] (as stored). Head h: rows [h*(dn+dv), h*(dn+dv)+dn) are
  // W_UK[h] [dn, kv_lora], the next dv rows W_UV[h] [dv, kv_lora].
  WeightView kv_b;
  WeightView o;                      // o_proj [H, nh*dv] (GQA: [H, nh*hd])
  // --- GQA ---                       // q: q_proj [nh*hd, H]
  WeightView k;                      // k_proj [nkv*hd, H]
  WeightView v;                      // v_proj [nkv*hd, H]
  const float* q_norm = nullptr;     // QkNorm::kPerHead [hd], kFull [nh*hd]; else null
  const float* k_norm = nullptr;     // kPerHead [hd], kFull [nkv*hd]; else null
  const float* q_bias = nullptr;     // attention_bias: [nh*hd]; else null
  const float* k_bias = nullptr;     // [nkv*hd]
  const float* v_bias = nullptr;     // [nkv*hd]
  const float* o_bias = nullptr;     // gpt-oss: o_proj.bias [H]; else null
  const float* sinks = nullptr;      // gpt-oss: per-head attention sink logits [nh]; else null
};

struct FfnWeights {
  const float* norm = nullptr;           // post_attention_layernorm [H]
  bool moe = false;
  ExpertWeights dense;                   // dense layers: gate/up [intermediate, H], down [H, intermediate]
  WeightView router;                     // MoE: mlp.gate.weight [E, H]
  const float* router_bias = nullptr;    // noaux_tc: e_score_correction_bias [E]; gpt-oss: the
                                         // router's linear bias [E]; else null
  ExpertWeights shared;                  // MoE with shared experts: [n_shared*I, H] / [H, n_shared*I]
  // Qwen2-MoE: the shared expert [S, H] / [H, S] (S = shared_expert_intermediate_size), scaled per
  // token by sigmoid(shared_gate . x), shared_gate [1, H]. Kept apart from `shared` (which moe_ffn
  // adds unscaled); the model adds it. Empty otherwise.
  ExpertWeights gated_shared;
  WeightView shared_gate;
  std::vector<ExpertWeights> experts;    // MoE: [E], from the file's expert table
  // gpt-oss: routed experts use the clamped SwiGLU (blocks::clamped_swiglu_mlp) with this limit
  // (config swiglu_limit, alpha 1.702); 0 = the plain SwiGLU of every other family.
  float swiglu_limit = 0.0f;
};

struct LayerWeights {
  int64_t index = 0;
  AttentionWeights attn;
  FfnWeights ffn;
};

// Multi-token-prediction module (DeepSeek-V3's last layer: enorm, hnorm, eh_proj, one decoder
// block, shared_head; families/decoder.h mtp_forward). Not used by the main forward.
struct MtpWeights {
  WeightView embedding;                  // [vocab, H] (the main embedding if the file aliases it)
  const float* enorm = nullptr;          // [H]
  const float* hnorm = nullptr;          // [H]
  WeightView eh_proj;                    // [H, 2H]: columns [0,H) act on enorm(e), [H,2H) on hnorm(h)
  const float* head_norm = nullptr;      // [H]
  WeightView head;                       // [vocab, H] (lm_head if the file aliases it)
  LayerWeights block;
};

struct ModelWeights {
  WeightView embedding;                  // [vocab, H]
  const float* output_norm = nullptr;    // [H]
  WeightView output;                     // lm_head [vocab, H]
  std::vector<LayerWeights> layers;      // [n_layers]
  std::vector<MtpWeights> mtp;           // [n_mtp_layers] when the file has MTP, else empty
  std::vector<std::unique_ptr<float[]>> owned;  // storage behind non-F32 1-D vectors (norms, bias)
};

// Binds and checks every tensor. Errors: "missing tensor: role R, layer L", "tensor <name>: shape
// [a,b], expected [c,d]", duplicate or unused tensors, a bad expert table.
Result<ModelWeights> bind_weights(const MoteFile& file, const HParams& hp);

}  // namespace mote
