// The two family registries (runtime/model/family.h, converter/arch/family.h) against the
// schema and against each other: every Architecture value the schema defines (but Unknown) has
// exactly one runtime FamilySpec and one ConverterFamily, they agree on the HF model_type and on
// the attention kind, and the lookups round-trip. A schema value added without both family files
// and registry lines fails here. The real config.json files in tools/synth/configs pick their
// family by model_type.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "arch/family.h"
#include "common/test_util.h"
#include "hf/config.h"
#include "model/family.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

TEST(FamilyRegistry, EverySchemaArchitectureHasBothFamilies) {
  int registered = 0;
  for (const fb::Architecture a : fb::EnumValuesArchitecture()) {
    SCOPED_TRACE(fb::EnumNameArchitecture(a));
    const FamilySpec* runtime = find_family(a);
    const convert::ConverterFamily* converter = convert::find_converter_family(a);
    if (a == fb::Architecture::Unknown) {
      EXPECT_EQ(runtime, nullptr);
      EXPECT_EQ(converter, nullptr);
      continue;
    }
    ASSERT_NE(runtime, nullptr);
    ASSERT_NE(converter, nullptr);
    ++registered;
    EXPECT_EQ(runtime->file_arch, a);
    EXPECT_EQ(find_family(runtime->arch), runtime);  // Arch -> the same spec
    EXPECT_STREQ(runtime->name, converter->model_type);
    EXPECT_EQ(convert::find_converter_family(converter->model_type), converter);
    EXPECT_EQ(runtime->attention == AttentionKind::kGqa, converter->gqa);
    HParams hp;
    hp.arch = runtime->arch;
    EXPECT_EQ(hp.is_gqa(), converter->gqa);
    // Where the file's config picks the variants: MLA uses DeepSeek's interleaved RoPE, GQA the
    // half-rotated layout of transformers' rotate_half.
    EXPECT_EQ(runtime->rope, runtime->attention == AttentionKind::kMla ? RopeStyle::kInterleaved : RopeStyle::kHalf);
  }
  EXPECT_EQ(registered, 9);
  EXPECT_EQ(convert::supported_model_types(),
            "deepseek_v3, deepseek_v2, mixtral, qwen2_moe, qwen3_moe, olmoe, llama, qwen2, gpt_oss");
  EXPECT_EQ(convert::find_converter_family("gpt2"), nullptr);
}

// gpt-oss is the family with hooks on every seam; the others bind only shared tensors.
TEST(FamilyRegistry, HooksWhereTheFamilyHasItsOwnFieldsAndTensors) {
  const FamilySpec* gpt_oss = find_family(Arch::kGptOss);
  ASSERT_NE(gpt_oss, nullptr);
  EXPECT_EQ(gpt_oss->experts, ExpertKind::kClampedSwiglu);
  EXPECT_NE(gpt_oss->read_hparams, nullptr);
  EXPECT_NE(gpt_oss->bind_attention_extras, nullptr);
  EXPECT_NE(gpt_oss->bind_expert_extras, nullptr);
  EXPECT_TRUE(convert::find_converter_family(fb::Architecture::GptOss)->fused_experts);
  EXPECT_NE(find_family(Arch::kQwen2Moe)->read_hparams, nullptr);  // the gated shared expert
  for (const Arch a : {Arch::kDeepSeekV3, Arch::kDeepSeekV2, Arch::kMixtral, Arch::kQwen3Moe, Arch::kOlmoe,
                       Arch::kLlama, Arch::kQwen2}) {
    const FamilySpec* f = find_family(a);
    ASSERT_NE(f, nullptr);
    SCOPED_TRACE(f->name);
    EXPECT_EQ(f->experts, ExpertKind::kSwiglu);
    EXPECT_EQ(f->bind_attention_extras, nullptr);
    EXPECT_EQ(f->bind_expert_extras, nullptr);
    EXPECT_EQ(f->own_forward, nullptr);
    EXPECT_FALSE(convert::find_converter_family(f->file_arch)->fused_experts);
  }
  EXPECT_TRUE(find_family(Arch::kDeepSeekV3)->has_mtp_module);
}

// Every real config.json in tools/synth/configs parses to the family its model_type names, and
// the runtime has that family.
TEST(FamilyRegistry, RealConfigsPickTheirFamily) {
  const fs::path dir = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "tools" / "synth" / "configs";
  int seen = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().filename().string());
    const convert::HfConfig c = convert::parse_config(test::read_file_bytes(e.path()), e.path().string());
    const convert::ConverterFamily* converter = convert::find_converter_family(c.model_type);
    ASSERT_NE(converter, nullptr);
    EXPECT_EQ(c.architecture, converter->architecture);
    EXPECT_EQ(c.is_gqa(), converter->gqa);
    EXPECT_EQ(c.is_dense(), converter->dense);
    const FamilySpec* runtime = find_family(c.architecture);
    ASSERT_NE(runtime, nullptr);
    EXPECT_EQ(c.model_type, runtime->name);
    ++seen;
  }
  EXPECT_GE(seen, 8);
}

}  // namespace
}  // namespace mote
