// The converter's row-group output (pipeline/layout.h, TensorConverter with row_group 16):
// which roles get row groups, that grouped chunks hold whole groups whatever the chunk size and
// thread count, and that the bytes are exactly the row-major conversion interleaved
// (interleave_matrix), so nothing is lost. End-to-end checks live in tests/e2e/row_group_file_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "converter/ckpt_builder.h"
#include "common/test_util.h"
#include "hf/checkpoint.h"
#include "kernels/quant.h"
#include "pipeline/layout.h"
#include "pipeline/options.h"
#include "quant/tensor_convert.h"

namespace mote::test {
namespace {

using R = fb::TensorRole;

TEST(ConverterRowGroups, LayoutDecision) {
  const std::vector<uint64_t> m32 = {32, 64}, m40 = {40, 64}, v = {64};
  for (R role : {R::ExpertGate, R::ExpertUp, R::ExpertDown, R::SharedGate, R::SharedDown, R::FfnUp, R::AttnQ,
                 R::AttnQA, R::AttnQB, R::AttnKvA, R::AttnK, R::AttnV, R::AttnOut, R::Output, R::MtpEhProj,
                 R::MtpHead, R::Router}) {
    EXPECT_EQ(convert::row_group_for(role, WeightType::Q4_0, m32, false), kRowGroup) << fb::EnumNameTensorRole(role);
    EXPECT_EQ(convert::row_group_for(role, WeightType::Q4_0, m32, true), 1) << "--row-major";
    EXPECT_EQ(convert::row_group_for(role, WeightType::Q8_0, m40, false), 1) << "40 rows";
  }
  for (R role : {R::TokenEmbedding, R::MtpEmbedding, R::AttnKvB, R::AttnNorm, R::AttnQBias})
    EXPECT_EQ(convert::row_group_for(role, WeightType::Q8_0, m32, false), 1) << fb::EnumNameTensorRole(role);
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::MXFP4})
    EXPECT_EQ(convert::row_group_for(R::ExpertUp, t, m32, false), 1) << weight_type_name(t);
  EXPECT_EQ(convert::row_group_for(R::ExpertUp, WeightType::Q2_1, m32, false), kRowGroup);
  EXPECT_EQ(convert::row_group_for(R::ExpertUp, WeightType::Q2_1, v, false), 1) << "1-D";
}

TEST(ConverterRowGroups, ChunksHoldWholeGroupsAndMatchTheInterleavedRows) {
  const auto dir = fresh_temp_dir("tc_row_groups");
  TinyCheckpoint ck;
  ck.tensors.push_back({"w.weight", "F32", {96, 70}, encode_floats(random_floats(96 * 70, 9), "F32"), {}, 0});
  write_safetensors(dir / "model.safetensors", ck.tensors);
  auto c = convert::Checkpoint::open(dir.string());
  convert::SourceTensor src;
  src.data = c->find("w.weight");
  src.rows = 96;
  src.cols = 70;
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1}) {
    std::string row_major;
    convert::TensorConverter whole(uint64_t(1) << 30, 1);
    whole.convert(src, t, [&](const uint8_t* d, uint64_t n) { row_major.append(reinterpret_cast<const char*>(d), n); });
    std::string want(row_major.size(), '\0');
    interleave_matrix(t, reinterpret_cast<const uint8_t*>(row_major.data()), 96, 70,
                      reinterpret_cast<uint8_t*>(want.data()));
    // 7 rows per chunk by size -> 16 (one group); 50 -> 48 (three groups), on 3 threads.
    convert::TensorConverter one(uint64_t(1) << 30, 1), small(4 * 70 * 7, 1), multi(4 * 70 * 50, 3);
    EXPECT_EQ(small.chunk_rows(70, kRowGroup), 16u);
    EXPECT_EQ(multi.chunk_rows(70, kRowGroup), 48u);
    for (convert::TensorConverter* conv : {&one, &small, &multi}) {
      std::string got;
      conv->convert(
          src, t,
          [&](const uint8_t* d, uint64_t n) {
            EXPECT_EQ(n % (weight_row_bytes(t, 70) * kRowGroup), 0u) << "a chunk cuts a group";
            got.append(reinterpret_cast<const char*>(d), n);
          },
          kRowGroup);
      EXPECT_EQ(got, want) << weight_type_name(t);
    }
  }
}

TEST(ConverterRowGroups, RowMajorFlagParses) {
  auto o = convert::parse_options({"in", "-o", "out.mote", "--row-major"});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->row_major);
  EXPECT_FALSE(convert::parse_options({"in", "-o", "out.mote"})->row_major);
  EXPECT_THROW(convert::parse_options({"in", "-o", "x", "--row-major=1"}), convert::UsageError);
  EXPECT_NE(std::string(convert::usage_text()).find("--row-major"), std::string::npos);
}

}  // namespace
}  // namespace mote::test
