// Family registry: everything the runtime knows about one model family (architecture), in one
// place. Each family is one file in runtime/families/ (families/<name>.cpp) that defines its
// FamilySpec: which decoder variants it uses, how its config fields become HParams, and how its
// tensors bind to the per-layer weight structs. families/registry.cpp lists them. The format
// layer (schema/mote.fbs's Architecture enum) and the converter (converter/arch/<name>.cpp) hold
// the rest; the README's "Adding a family" lists every file a new family touches.
//
// The declaration sits in model/ because loading (HParams::from_config, bind_weights) looks a
// family up; the definitions sit in families/, above the blocks the variants name. The table is
// immutable; lookups are thread-safe.
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "model/hparams.h"
#include "mote/mote_generated.h"

namespace mote {

class TensorBinder;   // model/tensor_binder.h: binds (role, layer, expert) to checked views
struct AttentionWeights;
struct ExpertWeights;
struct FamilySpec;
class Model;
namespace blocks {
struct LayerCache;
}
namespace families {
struct DecoderScratch;
enum class LogitsMode;
}

// A family's own forward pass: the signature and contract of families::forward.
using OwnForwardFn = Status (*)(const Model& model, const int32_t* ids, int64_t n_tokens, int64_t start,
                                std::span<const blocks::LayerCache> caches, const families::DecoderScratch& s,
                                families::LogitsMode mode, float* logits, float* final_hidden);

enum class AttentionKind {
  kMla,  // DeepSeek's multi-head latent attention (absorbed), latent cache
  kGqa,  // grouped-query attention with optional window, sinks, qk-norm, biases; K/V cache
};
enum class RopeStyle { kInterleaved, kHalf };  // kernels/rope.h's two layouts
enum class ExpertKind {
  kSwiglu,         // down(silu(gate x) * up x)
  kClampedSwiglu,  // gpt-oss: biases and the clamped SwiGLU (HParams::swiglu_limit)
};

struct FamilySpec {
  Arch arch;
  fb::Architecture file_arch;  // the schema's value for this family
  const char* name;            // "deepseek_v3", "olmoe", ... (HF model_type)
  AttentionKind attention;
  RopeStyle rope;
  ExpertKind experts;
  bool has_mtp_module;         // may carry DeepSeek-V3's MTP module
  // Family-specific config fields and derived values, after the shared fields (and, for kGqa, the
  // shared GQA fields but layer_sliding) were read into hp and before any validation. Errors name the field. Null:
  // nothing family-specific.
  Status (*read_hparams)(const fb::ModelConfig& config, HParams* hp);
  // Tensors beyond the shared set, bound by model/weights.cpp after it bound the shared ones of the
  // same scope, so a missing tensor is reported in the order the converter writes them.
  // Attention of layer `layer` (after q/k/v/o, the q/k/v biases and the q/k norms; kGqa only).
  // Null: none.
  Status (*bind_attention_extras)(TensorBinder& binder, const HParams& hp, int64_t layer, AttentionWeights* a);
  // Routed expert `expert` of MoE layer `layer` (after its gate/up/down). Null: none.
  Status (*bind_expert_extras)(TensorBinder& binder, const HParams& hp, int64_t layer, int64_t expert,
                               ExpertWeights* w);
  // The family's own forward, for a family that is structurally different from the shared
  // pre-norm decoder (a recurrent or hybrid stack); null: the shared decoder. families::forward
  // calls it with its own arguments and contract (families/decoder.h); it may reuse the blocks.
  OwnForwardFn own_forward;
};

// The family of `arch` / of the file's architecture value, or null when none is registered
// (families/registry.cpp).
const FamilySpec* find_family(Arch arch);
const FamilySpec* find_family(fb::Architecture file_arch);

}  // namespace mote
