// expected_tensors(): config.architecture -> the family's mapping file.
#include "arch/deepseek.h"
#include "arch/gqa.h"
#include "hf/error.h"

namespace mote::convert {

ExpectedModel expected_tensors(const HfConfig& config, bool with_mtp) {
  using A = fb::Architecture;
  switch (config.architecture) {
    case A::DeepSeekV3:
    case A::DeepSeekV2: return deepseek_expected_tensors(config, with_mtp);
    case A::Mixtral: return mixtral_expected_tensors(config);
    case A::Qwen2Moe:
    case A::Qwen3Moe: return qwen_moe_expected_tensors(config);
    case A::Olmoe: return olmoe_expected_tensors(config);
    case A::GptOss: return gpt_oss_expected_tensors(config);
    case A::Llama:
    case A::Qwen2: return dense_expected_tensors(config);
    default: fail("no tensor mapping for architecture '" + config.model_type + "'");
  }
}

}  // namespace mote::convert
