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

#include "core/status.h"
#include "model/hparams.h"
#include "mote/mote_generated.h"

namespace mote {

class TensorBinder;   // model/weights.cpp: binds (role, layer, expert) to checked views
struct AttentionWeights;
struct ModelWeights;
struct FamilySpec;

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
  // Family-specific config fields and derived values, after the shared fields were read into hp.
  // Errors name the field. Null: nothing family-specific.
  Status (*read_hparams)(const fb::ModelConfig& config, HParams* hp);
  // The family's own forward, for a family that is structurally different from the shared
  // pre-norm decoder (families/decoder.h); null: the shared decoder. Opaque here (the decoder's
  // signature lives above model/).
  const void* own_forward;
};

// The family of `arch` / of the file's architecture value, or null when none is registered.
const FamilySpec* find_family(Arch arch);
const FamilySpec* find_family(fb::Architecture file_arch);

}  // namespace mote
