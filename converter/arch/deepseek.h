// The tensor list a DeepSeek-V3/V2 checkpoint must provide, derived from its config: names as
// shipped by Hugging Face (the deepseek-ai/DeepSeek-V3 and -V2 safetensors), expected shapes, the
// role the runtime binds the tensor by, its accounting class, layer and expert index. One mapping
// serves deepseek_v3 and deepseek_v2 (the differences are config-driven: q-LoRA, router bias, MTP).
#pragma once

#include "arch/expected.h"
#include "hf/config.h"

namespace mote::convert {

// Every tensor of the model; MTP layers (num_hidden_layers .. + num_nextn_predict_layers) only
// when `with_mtp`.
ExpectedModel deepseek_expected_tensors(const HfConfig& config, bool with_mtp);

}  // namespace mote::convert
