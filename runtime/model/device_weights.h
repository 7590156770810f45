// The device side of a model's weights: every view of a ModelWeights placed through a Backend
// (Backend::place_weight / place_floats), the copy the decoder reads. For the CPU backend each
// placed view is the host view itself (no copy); other backends copy into memory they own for
// the backend's lifetime. Routed experts are not placed: the decoder stages them per group
// from the ExpertStore (Backend::stage_experts), so the device copy's expert tables are empty.
#pragma once

#include "backend/backend.h"
#include "core/status.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace mote {

// Errors: those of the backend's placement (out of memory).
Result<ModelWeights> place_weights(backend::Backend& b, const HParams& hp, const ModelWeights& host);

}  // namespace mote
