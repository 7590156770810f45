// Weight binding: every tensor of a verified .mote file bound by (role, layer, expert), never by
// name, into per-layer structs of WeightViews, with every shape checked against HParams.
//
// Ownership: WeightViews point into the MoteFile mapping (which must outlive the ModelWeights).
// 1-D vectors (norm weights, router bias) are exposed as f32 pointers: into the file when stored
// as F32, otherwise into an f32 copy owned by ModelWeights. The absorbed MLA matrices are f32
// copies owned by ModelWeights. Immutable after bind_weights(); thread-safe to share.
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
struct ExpertWeights {
  WeightView gate;  // [I, H]
  WeightView up;    // [I, H]
  WeightView down;  // [H, I]
};

// MLA (spec §2.5). nh = heads, dn/dr/dv = qk_nope/qk_rope/v head dims, qk = dn + dr.
struct AttentionWeights {
  const float* norm = nullptr;       // input_layernorm [H]
  WeightView q_a;                    // q-LoRA only: q_a_proj [q_lora, H]
  const float* q_a_norm = nullptr;   // q-LoRA only: q_a_layernorm [q_lora]
  WeightView q_b;                    // q-LoRA only: q_b_proj [nh*qk, q_lora]
  WeightView q;                      // no q-LoRA: q_proj [nh*qk, H]
  WeightView kv_a;                   // kv_a_proj_with_mqa [kv_lora + dr, H]
  const float* kv_a_norm = nullptr;  // kv_a_layernorm [kv_lora]
  WeightView kv_b;                   // kv_b_proj [nh*(dn+dv), kv_lora] (as stored)
  WeightView o;                      // o_proj [H, nh*dv]
  // Absorbed forms of kv_b, f32, computed at load. W_UK is stored transposed so that
  // q_lat = W_UK[h]^T q_nope is a row-major matmul.
  const float* w_uk_t = nullptr;     // [nh, kv_lora, dn]: w_uk_t[h][c][d] = kv_b[h*(dn+dv) + d][c]
  const float* w_uv = nullptr;       // [nh, dv, kv_lora]: w_uv[h][d][c] = kv_b[h*(dn+dv) + dn + d][c]
};

struct FfnWeights {
  const float* norm = nullptr;           // post_attention_layernorm [H]
  bool moe = false;
  ExpertWeights dense;                   // dense layers: gate/up [intermediate, H], down [H, intermediate]
  WeightView router;                     // MoE: mlp.gate.weight [E, H]
  const float* router_bias = nullptr;    // MoE noaux_tc: e_score_correction_bias [E]; else null
  ExpertWeights shared;                  // MoE with shared experts: [n_shared*I, H] / [H, n_shared*I]
  std::vector<ExpertWeights> experts;    // MoE: [E], from the file's expert table
};

struct LayerWeights {
  int64_t index = 0;
  AttentionWeights attn;
  FfnWeights ffn;
};

// Multi-token-prediction module (spec §2.8). Bound for completeness; not used by the main forward.
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
  std::vector<std::unique_ptr<float[]>> owned;  // storage behind the f32 pointers above
};

// Binds and checks every tensor. Errors: "missing tensor: role R, layer L", "tensor <name>: shape
// [a,b], expected [c,d]", duplicate or unused tensors, a bad expert table.
Result<ModelWeights> bind_weights(const MoteFile& file, const HParams& hp);

}  // namespace mote
