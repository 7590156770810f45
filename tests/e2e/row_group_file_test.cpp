// Row groups end to end (format 2, kernels/quant.h "Row groups"): mote-convert stores the
// matrices the runtime only multiplies in groups of 16 rows and keeps embeddings, MLA's kv_b and
// matrices whose row count is not a multiple of 16 row-major; the interleave is lossless, so with
// the reference kernels a grouped file gives the same logits, bit for bit, as a --row-major file
// (a DeepSeek MLA fixture and a GQA fixture), also under an expert budget; a version-1 file (no
// row groups) still loads; a corrupt row_group is a one-line error naming the tensor and field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/session_logits.h"
#include "common/test_util.h"
#include "format/checksum.h"
#include "format/header.h"
#include "format/mote_file.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "model/model.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

using test::run_command;

fs::path convert(const std::string& fixture, const fs::path& out, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / fixture).string(), "-o",
                                   out.string(), "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

std::unique_ptr<Model> open_model(const fs::path& path, uint64_t budget = 0) {
  ModelOptions o;
  o.expert_budget_bytes = budget;
  auto m = Model::open(path.string(), o);
  EXPECT_TRUE(m) << m.status().to_string();
  return m ? std::move(m).value() : nullptr;
}

std::vector<int32_t> ids_for(const Model& m) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(int32_t((i * 37 + 3) % m.hparams().vocab_size));
  return ids;
}

// Runs the whole test body on the scalar reference kernels (the grouped and row-major layouts
// take different SIMD paths, so only the reference promises identical bits), restoring the
// previous table afterwards.
class ReferenceKernelsScope {
 public:
  ReferenceKernelsScope() : saved_(&kernels::active_kernels()) {
    kernels::set_active_kernels(kernels::reference_kernels());
  }
  ~ReferenceKernelsScope() { kernels::set_active_kernels(*saved_); }

 private:
  const kernels::KernelTable* saved_;
};

int32_t row_group_of(const MoteFile& f, const std::string& name) {
  const fb::Tensor* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  return t ? MoteFile::row_group(*t) : -1;
}

struct Case {
  std::string fixture;
  std::vector<std::string> recipe;
  std::vector<std::pair<std::string, int32_t>> layouts;  // tensor -> expected row_group
};

class RowGroupFile : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    dir_ = test::fresh_temp_dir("row_group_" + GetParam().fixture);
    grouped_ = convert(GetParam().fixture, dir_ / "grouped.mote", GetParam().recipe);
    std::vector<std::string> rm = GetParam().recipe;
    rm.push_back("--row-major");
    row_major_ = convert(GetParam().fixture, dir_ / "row_major.mote", rm);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, grouped_, row_major_;
};

TEST_P(RowGroupFile, LayoutPerTensorAndSameSizes) {
  auto g = MoteFile::open(grouped_.string());
  auto r = MoteFile::open(row_major_.string());
  ASSERT_TRUE(g && r);
  EXPECT_EQ((*g)->header().format_version, kMoteFormatVersion);
  EXPECT_EQ(fs::file_size(grouped_), fs::file_size(row_major_));
  for (const auto& [name, group] : GetParam().layouts) {
    EXPECT_EQ(row_group_of(**g, name), group) << name;
    EXPECT_EQ(row_group_of(**r, name), 1) << name << " (--row-major)";
  }
  // Every grouped tensor holds exactly the row-major file's rows, interleaved.
  int grouped = 0;
  for (const fb::Tensor* t : *(*g)->model().tensors()) {
    const fb::Tensor* u = (*r)->find_tensor(t->name()->str());
    ASSERT_TRUE(u != nullptr && u->size() == t->size()) << t->name()->str();
    const WeightView gv = (*g)->view(*t), rv = (*r)->view(*u);
    std::vector<uint8_t> want(t->size());
    if (gv.grouped()) {
      ++grouped;
      interleave_matrix(rv.type, rv.data, rv.rows, rv.cols, want.data());
    } else {
      std::memcpy(want.data(), rv.data, t->size());
    }
    EXPECT_EQ(std::memcmp(want.data(), gv.data, t->size()), 0) << t->name()->str();
  }
  EXPECT_GT(grouped, 0);
}

TEST_P(RowGroupFile, ReferenceLogitsAreBitIdenticalToRowMajor) {
  ReferenceKernelsScope reference;
  auto g = open_model(grouped_);
  auto r = open_model(row_major_);
  ASSERT_TRUE(g && r);
  const std::vector<int32_t> ids = ids_for(*g);
  const std::vector<float> a = test::prefill_then_decode_logits(*g, ids);
  EXPECT_TRUE(test::same_bits(a, test::prefill_then_decode_logits(*r, ids)));
  // Expert budget of top-k slots: experts come through cache slots, same bits.
  const HParams& hp = g->hparams();
  uint64_t max_seg = 0;
  for (int64_t l = 0; l < hp.n_layers; ++l)
    if (g->layer(l).ffn.moe)
      for (int64_t e = 0; e < hp.n_routed_experts; ++e)
        max_seg = std::max(max_seg, g->expert_store().segment_bytes(l, e));
  const uint64_t budget = (max_seg + 4095) / 4096 * 4096 * uint64_t(hp.n_experts_per_tok);
  auto b = open_model(grouped_, budget);
  ASSERT_TRUE(b);
  EXPECT_TRUE(test::same_bits(a, test::prefill_then_decode_logits(*b, ids)));
}

#ifdef MOTE_CLI_BIN
TEST_P(RowGroupFile, InspectShowsTheLayoutPerClass) {
  const auto r = run_command({MOTE_CLI_BIN, "inspect", grouped_.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format_version"], kMoteFormatVersion);
  const auto& layout = j["layout_by_class"];
  EXPECT_EQ(layout["Embedding"], "q8_0 row-major");
  EXPECT_NE(layout["RoutedExpert"].get<std::string>().find(" x16 rows"), std::string::npos) << layout.dump();
  EXPECT_NE(layout["Attention"].get<std::string>().find("q8_0 x16 rows"), std::string::npos) << layout.dump();
}
#endif

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RowGroupFile,
    ::testing::Values(
        // ds3_tiny: experts [48,64]/[64,48], q_a [40,64] (40 rows: row-major), kv_b [80,48] (MLA).
        Case{"ds3_tiny",
             {"--weights", "q8_0", "--expert-weights", "q4"},
             {{"model.layers.1.mlp.experts.3.gate_proj.weight", 16},
              {"model.layers.1.mlp.experts.3.down_proj.weight", 16},
              {"model.layers.1.mlp.shared_experts.up_proj.weight", 16},
              {"model.layers.0.mlp.gate_proj.weight", 16},
              {"model.layers.0.self_attn.q_b_proj.weight", 16},
              {"model.layers.0.self_attn.o_proj.weight", 16},
              {"lm_head.weight", 16},
              {"model.layers.0.self_attn.q_a_proj.weight", 1},
              {"model.layers.0.self_attn.kv_b_proj.weight", 1},
              {"model.embed_tokens.weight", 1},
              {"model.layers.1.mlp.gate.weight", 1}}},
        // qwen3_moe_tiny (GQA): experts gate/up [40,64] stay row-major, down [64,40] is grouped.
        Case{"qwen3_moe_tiny",
             {"--weights", "q8_0", "--expert-weights", "q2"},
             {{"model.layers.0.mlp.experts.5.down_proj.weight", 16},
              {"model.layers.0.mlp.experts.5.gate_proj.weight", 1},
              {"model.layers.0.self_attn.q_proj.weight", 16},
              {"model.layers.0.self_attn.k_proj.weight", 16},
              {"model.layers.0.self_attn.v_proj.weight", 16},
              {"model.layers.0.self_attn.o_proj.weight", 16},
              {"model.embed_tokens.weight", 1}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.fixture; });

// Byte-level edits of a converted ds3_tiny file (q8_0, row groups on).
class RowGroupCorruption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::fresh_temp_dir("row_group_corrupt");
    good_path_ = convert("ds3_tiny", dir_ / "good.mote", {"--weights", "q8_0"});
    good_ = test::read_file_bytes(good_path_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // A copy of the good file with `name`'s QuantParams.row_group set to `value` and the metadata
  // checksum fixed, so the edit reaches the tensor checks.
  static std::string with_row_group(const std::string& name, uint32_t value) {
    auto f = MoteFile::open(good_path_.string());
    EXPECT_TRUE(f);
    const fb::Tensor* t = (*f)->find_tensor(name);
    EXPECT_TRUE(t != nullptr && t->quant() != nullptr) << name;
    // The writer stores row_group explicitly (1 or 16), so the field is present to edit.
    const uint8_t* field =
        reinterpret_cast<const flatbuffers::Table*>(t->quant())->GetAddressOf(fb::QuantParams::VT_ROW_GROUP);
    EXPECT_NE(field, nullptr) << name;
    const uint8_t* base = (*f)->segment_data(0) - (*f)->segment_file_offset(0);
    std::string bytes = good_;
    std::memcpy(bytes.data() + (field - base), &value, 4);
    fix_metadata_checksum(bytes);
    return bytes;
  }
  static void fix_metadata_checksum(std::string& bytes) {
    FileHeader h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    h.metadata_checksum = checksum64(bytes.data() + h.metadata_offset, h.metadata_size);
    std::memcpy(bytes.data(), &h, sizeof(h));
  }
  static void set_version(std::string& bytes, uint32_t version) {
    FileHeader h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    h.format_version = version;
    std::memcpy(bytes.data(), &h, sizeof(h));
  }

  // Model::open (and `mote inspect` for file-level errors) fail with one line holding every needle.
  void expect_rejected(const std::string& tag, const std::string& bytes, const std::vector<std::string>& needles,
                       bool file_level = true) {
    const fs::path path = dir_ / (tag + ".mote");
    test::write_file_bytes(path, bytes);
    auto m = Model::open(path.string());
    ASSERT_FALSE(m.is_ok()) << tag;
    const std::string msg = m.status().to_string();
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << tag << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
#ifdef MOTE_CLI_BIN
    if (file_level) {
      const auto r = run_command({MOTE_CLI_BIN, "inspect", path.string()});
      EXPECT_EQ(r.exit_code, 1) << tag;
      for (const std::string& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
#endif
  }

  static inline fs::path dir_, good_path_;
  static inline std::string good_;
};

const char* kExpert = "model.layers.1.mlp.experts.2.up_proj.weight";   // [48, 64], grouped
const char* kQa = "model.layers.0.self_attn.q_a_proj.weight";          // [40, 64], row-major
const char* kKvB = "model.layers.0.self_attn.kv_b_proj.weight";        // [80, 48], row-major
const char* kMtpHead = "model.layers.2.shared_head.head.weight";   // alias of lm_head, grouped
const char* kNorm = "model.layers.0.input_layernorm.weight";           // [64] f32

TEST_F(RowGroupCorruption, BadValuesNameTheTensorAndField) {
  expect_rejected("seven", with_row_group(kExpert, 7), {kExpert, "quant.row_group 7", "not 0, 1 or 16"});
  expect_rejected("rows40", with_row_group(kQa, 16), {kQa, "quant.row_group 16", "40 rows"});
  expect_rejected("f32", with_row_group(kNorm, 16), {kNorm, "quant.row_group 16", "F32"});
  // Valid for the file (80 rows), but MLA slices kv_b per head: the model binder refuses it.
  expect_rejected("kv_b", with_row_group(kKvB, 16), {kKvB, "quant.row_group 16", "row-major"}, false);
  // MTP's head shares lm_head's bytes (an alias): both must have the same layout.
  expect_rejected("alias", with_row_group(kMtpHead, 1), {kMtpHead, "quant.row_group 1", "lm_head.weight"});
  // Row-major spelled 0 or 1 is fine.
  for (uint32_t v : {0u, 1u}) {
    const fs::path path = dir_ / ("ok" + std::to_string(v) + ".mote");
    test::write_file_bytes(path, with_row_group(kQa, v));
    EXPECT_TRUE(Model::open(path.string()).is_ok()) << v;
  }
}

TEST_F(RowGroupCorruption, VersionOneFiles) {
  // A version-1 file is a version-2 file without row groups: a --row-major file relabelled 1.
  const fs::path rm = convert("ds3_tiny", dir_ / "rm.mote", {"--weights", "q8_0", "--row-major"});
  std::string bytes = test::read_file_bytes(rm);
  set_version(bytes, 1);
  const fs::path v1 = dir_ / "v1.mote";
  test::write_file_bytes(v1, bytes);
  {
    ReferenceKernelsScope reference;
    auto a = open_model(v1);
    auto b = open_model(good_path_);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->file().header().format_version, 1u);
    const std::vector<int32_t> ids = ids_for(*a);
    EXPECT_TRUE(test::same_bits(test::prefill_then_decode_logits(*a, ids), test::prefill_then_decode_logits(*b, ids)));
  }
  // Row groups in a file that claims version 1: an old writer never produced them.
  bytes = good_;
  set_version(bytes, 1);
  expect_rejected("v1_grouped", bytes, {"quant.row_group 16", "format version 2"});
  bytes = good_;
  set_version(bytes, 3);
  expect_rejected("v3", bytes, {"format version 3", "versions 1 to 2"});
}

}  // namespace
}  // namespace mote
