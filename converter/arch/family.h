// Converter-side family registry: everything the converter knows about one model family, keyed by
// config.json's model_type. Each family is one file, converter/arch/<family>.cpp, that defines its
// ConverterFamily: the fb::Architecture it writes, how its config.json keys become HfConfig (its
// defaults and hooks into the shared parser of its attention kind, hf/config.cpp for MLA and
// hf/config_gqa.cpp for GQA) and its tensor mapping. arch/registry.cpp lists them. The runtime's
// counterpart is runtime/model/family.h; the README's "Adding a family" lists every file.
// Immutable tables; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "arch/expected.h"
#include "hf/config.h"
#include "hf/config_fields.h"

namespace mote::convert {

struct ConverterFamily {
  fb::Architecture architecture;  // written into the file's ModelConfig
  const char* model_type;         // config.json's model_type (Hugging Face)
  bool gqa;                       // grouped-query attention (else DeepSeek's MLA)
  bool dense;                     // one FFN per layer, no routed experts
  bool fused_experts;             // ships its experts fused per layer (gpt-oss's MXFP4 gate_up /
                                  // down); every other family refuses fused expert tensors
  // Reads config.json into `c` (architecture and model_type already set): the family's defaults
  // and keys through the shared parser of its attention kind. Throws ConvertError naming the key.
  void (*parse_config)(const detail::json& root, const detail::Fields& f, HfConfig& c);
  // Every tensor the checkpoint must provide; MTP layers only when `with_mtp`.
  ExpectedModel (*expected_tensors)(const HfConfig& c, bool with_mtp);
};

// The family of `model_type` / of `architecture`, or null.
const ConverterFamily* find_converter_family(std::string_view model_type);
const ConverterFamily* find_converter_family(fb::Architecture architecture);
// The supported model_type values in registry order, comma-separated (for messages).
std::string supported_model_types();

}  // namespace mote::convert
