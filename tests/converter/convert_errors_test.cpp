// Every bad input makes mote-convert exit with status 1 and one line naming the problem, and
// leaves no output or temporary file behind.
#include <gtest/gtest.h>

#include "converter/ckpt_builder.h"
#include "converter/convert_util.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;

class ConverterErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("err_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    hf_ = dir_ / "hf";
    out_ = dir_ / "out";
  }
  void expect_error(const std::string& needle, const std::vector<std::string>& extra = {}) {
    expect_convert_error(hf_, out_, needle, extra);
  }
  fs::path dir_, hf_, out_;
};

TEST_F(ConverterErrors, MissingConfig) {
  make_tiny().write(hf_);
  fs::remove(hf_ / "config.json");
  expect_error("cannot read " + (hf_ / "config.json").string());
}

TEST_F(ConverterErrors, MissingInputFolder) { expect_error("cannot read " + (hf_ / "config.json").string()); }

TEST_F(ConverterErrors, InvalidConfigJson) {
  make_tiny().write(hf_);
  write_file_bytes(hf_ / "config.json", "{\"model_type\": \"deepseek_v3\",");
  expect_error((hf_ / "config.json").string() + ": invalid JSON");
}

TEST_F(ConverterErrors, ConfigFieldOfTheWrongType) {
  TinyCheckpoint ck = make_tiny();
  ck.config["moe_intermediate_size"] = "24";
  ck.write(hf_);
  expect_error("field 'moe_intermediate_size' must be a non-negative integer");
}

TEST_F(ConverterErrors, UnsupportedArchitecture) {
  TinyCheckpoint ck = make_tiny();
  ck.config["model_type"] = "falcon";
  ck.write(hf_);
  expect_error("unsupported architecture 'falcon' in " + (hf_ / "config.json").string() +
               " (supported: deepseek_v3, deepseek_v2, mixtral, qwen2_moe, qwen3_moe, olmoe, llama, qwen2, gpt_oss)");
}

TEST_F(ConverterErrors, UnsupportedDtype) {
  TinyCheckpoint ck = make_tiny();
  StTensor* t = ck.find("model.layers.1.mlp.gate.weight");
  t->dtype = "F64";
  t->bytes += t->bytes;  // 8 bytes per element
  ck.write(hf_);
  expect_error("unsupported dtype F64 for tensor model.layers.1.mlp.gate.weight in file " +
               (hf_ / "model.safetensors").string());
}

TEST_F(ConverterErrors, UnknownDtypeString) {
  TinyCheckpoint ck = make_tiny();
  ck.find("model.norm.weight")->dtype = "F4_E2M1";
  ck.write(hf_);
  expect_error("unsupported dtype F4_E2M1 for tensor model.norm.weight");
}

TEST_F(ConverterErrors, MissingTensor) {
  TinyCheckpoint ck = make_tiny();
  ck.remove("model.layers.1.mlp.experts.3.up_proj.weight");
  ck.write(hf_, 2);
  expect_error("missing tensor model.layers.1.mlp.experts.3.up_proj.weight (expected by config.json)");
}

TEST_F(ConverterErrors, ShapeMismatch) {
  TinyCheckpoint ck = make_tiny();
  StTensor* t = ck.find("model.layers.0.self_attn.o_proj.weight");
  t->shape = {16, 40};  // transposed
  ck.write(hf_);
  expect_error("tensor model.layers.0.self_attn.o_proj.weight has shape [16,40], expected [40,16]");
}

TEST_F(ConverterErrors, TruncatedSafetensors) {
  make_tiny().write(hf_);
  const fs::path st = hf_ / "model.safetensors";
  fs::resize_file(st, fs::file_size(st) / 2);  // cut in the middle of the data
  expect_error("lie outside the data area");
  expect_error(st.string());
}

TEST_F(ConverterErrors, MalformedSafetensorsHeader) {
  make_tiny().write(hf_);
  write_raw_safetensors(hf_ / "model.safetensors", "{\"a\": {\"dtype\": \"F32\", ", std::string(64, '\0'));
  expect_error((hf_ / "model.safetensors").string() + ": malformed safetensors header");
}

TEST_F(ConverterErrors, HeaderLengthBeyondFile) {
  make_tiny().write(hf_);
  std::string bytes = read_file_bytes(hf_ / "model.safetensors");
  bytes[5] = 1;  // header length += 2^40
  write_file_bytes(hf_ / "model.safetensors", bytes);
  expect_error("exceeds the file size");
}

TEST_F(ConverterErrors, DataOffsetsOutsideTheFile) {
  make_tiny().write(hf_);
  write_raw_safetensors(hf_ / "model.safetensors",
                        R"({"model.norm.weight": {"dtype": "F32", "shape": [40], "data_offsets": [0, 160]},
                            "lm_head.weight": {"dtype": "F32", "shape": [2], "data_offsets": [4000, 4008]}})",
                        std::string(160, '\0'));
  expect_error("tensor lm_head.weight in " + (hf_ / "model.safetensors").string() +
               ": data_offsets [4000, 4008] lie outside the data area (160 bytes");
}

TEST_F(ConverterErrors, MissingShard) {
  make_tiny().write(hf_, 3);
  fs::remove(hf_ / "model-00002-of-00003.safetensors");
  expect_error("cannot open " + (hf_ / "model-00002-of-00003.safetensors").string());
}

TEST_F(ConverterErrors, NoWeights) {
  make_tiny().write(hf_);
  fs::remove(hf_ / "model.safetensors");
  expect_error("no model.safetensors or model.safetensors.index.json in");
}

TEST_F(ConverterErrors, Fp8WithoutScale) {
  TinyCheckpoint ck = make_tiny();
  ck.recode([](const std::string& n) { return n.find("experts.") != std::string::npos; }, "F8_E4M3");
  ck.remove("model.layers.1.mlp.experts.2.down_proj.weight_scale_inv");
  ck.write(hf_);
  expect_error("FP8 tensor model.layers.1.mlp.experts.2.down_proj.weight in " + (hf_ / "model.safetensors").string() +
               " has no scale tensor model.layers.1.mlp.experts.2.down_proj.weight_scale_inv");
}

TEST_F(ConverterErrors, Fp8ScaleOfTheWrongShape) {
  TinyCheckpoint ck = make_tiny();
  ck.recode([](const std::string& n) { return n == "model.layers.0.mlp.up_proj.weight"; }, "F8_E4M3");
  StTensor* s = ck.find("model.layers.0.mlp.up_proj.weight_scale_inv");
  s->shape = {1, 1, 1};
  ck.write(hf_);
  expect_error("scale tensor model.layers.0.mlp.up_proj.weight_scale_inv has shape [1,1,1], expected [1,1]");
}

TEST_F(ConverterErrors, OutputDirectoryDoesNotExist) {
  make_tiny().write(hf_);
  fs::create_directories(out_);
  const CommandResult r = run_convert(hf_, out_ / "no" / "such" / "dir" / "m.mote");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot write " + (out_ / "no/such/dir/m.mote").string() + ": directory"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(out_));
}

TEST_F(ConverterErrors, OutputUnderProc) {
  make_tiny().write(hf_);
  const CommandResult r = run_convert(hf_, "/proc/mote_convert_test.mote");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("mote-convert: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("/proc/mote_convert_test.mote"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists("/proc/mote_convert_test.mote"));
  EXPECT_TRUE(files_containing("/proc", "mote_convert_test").empty());
}

TEST_F(ConverterErrors, OutputIsADirectory) {
  make_tiny().write(hf_);
  fs::create_directories(out_ / "out.mote");
  const CommandResult r = run_convert(hf_, out_ / "out.mote");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("it is a directory"), std::string::npos) << r.err;
}

TEST_F(ConverterErrors, FusedExpertTensors) {
  TinyCheckpoint ck = make_tiny();
  ck.tensors.push_back({"model.layers.1.mlp.experts.gate_up_proj", "F32", {4, 48, 40},
                        std::string(4 * 48 * 40 * 4, '\0'), {}, 0});
  ck.write(hf_);
  expect_error("unsupported: fused expert tensors (model.layers.1.mlp.experts.gate_up_proj");
}

TEST_F(ConverterErrors, PartialMtpLayer) {
  TinyCheckpoint ck = make_tiny();
  ck.remove("model.layers.2.hnorm.weight");
  ck.write(hf_);
  expect_error("missing tensor model.layers.2.hnorm.weight (expected by config.json: num_nextn_predict_layers = 1");
}

TEST_F(ConverterErrors, InvalidTokenizerConfig) {
  make_tiny().write(hf_);
  write_file_bytes(hf_ / "tokenizer_config.json", "{not json");
  expect_error((hf_ / "tokenizer_config.json").string() + ": invalid JSON");
}

TEST_F(ConverterErrors, ExistingOutputIsKeptOnFailure) {
  make_tiny().write(hf_);
  fs::create_directories(out_);
  write_file_bytes(out_ / "out.mote", "previous");
  TinyCheckpoint bad = make_tiny();
  bad.remove("lm_head.weight");
  bad.write(hf_);
  const CommandResult r = run_convert(hf_, out_ / "out.mote");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing tensor lm_head.weight"), std::string::npos) << r.err;
  EXPECT_EQ(read_file_bytes(out_ / "out.mote"), "previous");
  EXPECT_TRUE(files_containing(out_, ".tmp-").empty());
}

}  // namespace
}  // namespace mote::test
