// The converter's family registry (arch/family.h) and expected_tensors(): config.architecture ->
// the family's mapping. A new family defines its ConverterFamily in arch/<family>.cpp and adds
// one line to the declarations and one to kFamilies below; the order of kFamilies is the order of
// the "supported: ..." list in messages.
#include "arch/family.h"
#include "hf/error.h"

namespace mote::convert {

// Defined in arch/<family>.cpp.
extern const ConverterFamily kDeepSeekV3Converter, kDeepSeekV2Converter;  // deepseek.cpp
extern const ConverterFamily kMixtralConverter;                           // mixtral.cpp
extern const ConverterFamily kQwen2MoeConverter, kQwen3MoeConverter;      // qwen_moe.cpp
extern const ConverterFamily kOlmoeConverter;                             // olmoe.cpp
extern const ConverterFamily kLlamaConverter, kQwen2Converter;            // dense.cpp
extern const ConverterFamily kGptOssConverter;                            // gpt_oss.cpp

namespace {

constexpr const ConverterFamily* kFamilies[] = {
    &kDeepSeekV3Converter, &kDeepSeekV2Converter, &kMixtralConverter, &kQwen2MoeConverter, &kQwen3MoeConverter,
    &kOlmoeConverter,      &kLlamaConverter,      &kQwen2Converter,   &kGptOssConverter,
};

}  // namespace

const ConverterFamily* find_converter_family(std::string_view model_type) {
  for (const ConverterFamily* f : kFamilies)
    if (model_type == f->model_type) return f;
  return nullptr;
}

const ConverterFamily* find_converter_family(fb::Architecture architecture) {
  for (const ConverterFamily* f : kFamilies)
    if (f->architecture == architecture) return f;
  return nullptr;
}

std::string supported_model_types() {
  std::string out;
  for (const ConverterFamily* f : kFamilies) {
    if (!out.empty()) out += ", ";
    out += f->model_type;
  }
  return out;
}

ExpectedModel expected_tensors(const HfConfig& config, bool with_mtp) {
  const ConverterFamily* family = find_converter_family(config.architecture);
  if (family == nullptr) fail("no tensor mapping for architecture '" + config.model_type + "'");
  return family->expected_tensors(config, with_mtp);
}

}  // namespace mote::convert
