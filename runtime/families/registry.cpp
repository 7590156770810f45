// The family registry (model/family.h): every family the runtime can load, one entry each. A new
// family defines its FamilySpec in its own file (families/arch_<name>.cpp) and adds one line to
// the declarations and one to kFamilies below.
#include "model/family.h"

namespace mote {

// Defined in families/arch_*.cpp.
extern const FamilySpec kDeepSeekV2Family, kDeepSeekV3Family;  // arch_deepseek.cpp
extern const FamilySpec kMixtralFamily;                        // arch_mixtral.cpp
extern const FamilySpec kQwen2MoeFamily, kQwen3MoeFamily;      // arch_qwen_moe.cpp
extern const FamilySpec kOlmoeFamily;                          // arch_olmoe.cpp
extern const FamilySpec kGptOssFamily;                         // arch_gpt_oss.cpp
extern const FamilySpec kLlamaFamily, kQwen2Family;            // arch_dense.cpp

namespace {

// Pointers to namespace-scope constants: constant-initialised, so lookups during static
// initialisation of other files are safe.
constexpr const FamilySpec* kFamilies[] = {
    &kDeepSeekV3Family, &kDeepSeekV2Family, &kMixtralFamily, &kQwen2MoeFamily, &kQwen3MoeFamily,
    &kOlmoeFamily,      &kGptOssFamily,     &kLlamaFamily,   &kQwen2Family,
};

}  // namespace

const FamilySpec* find_family(Arch arch) {
  for (const FamilySpec* f : kFamilies)
    if (f->arch == arch) return f;
  return nullptr;
}

const FamilySpec* find_family(fb::Architecture file_arch) {
  for (const FamilySpec* f : kFamilies)
    if (f->file_arch == file_arch) return f;
  return nullptr;
}

}  // namespace mote
