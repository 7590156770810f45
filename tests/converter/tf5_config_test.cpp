// transformers-5 spellings: tests/converter/tf5_configs/<fixture>.json is the fixture's
// config.json re-saved by transformers 5.25 (generate.py there): num_local_experts for Qwen3-MoE,
// rope_theta and rope_scaling moved into rope_parameters, dtype for torch_dtype, head_dim and
// layer_types written out. Each must parse to the same model config as the released spelling,
// and convert to the same tensors.
#include <gtest/gtest.h>

#include <flatbuffers/flatbuffers.h>

#include <nlohmann/json.hpp>

#include "converter/convert_util.h"
#include "hf/config.h"
#include "hf/error.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kNames[] = {"ds3_tiny",       "ds3_bias",       "ds2_lite",    "ds2_group",
                              "qwen3_moe_tiny", "qwen3_moe_yarn", "qwen2_moe_tiny", "olmoe_tiny",
                              "mixtral_swa",    "llama_dense",    "qwen2_dense", "gpt_oss_tiny"};

fs::path tf5_json(const std::string& name) {
  return fs::path(MOTE_TEST_SOURCE_DIR) / "converter" / "tf5_configs" / (name + ".json");
}
fs::path fixture(const std::string& name) { return fs::path(MOTE_FIXTURES_DIR) / name; }

// The serialized ModelConfig table (every hyper-parameter the .mote file stores).
std::string config_bytes(const std::string& text, const std::string& path) {
  const convert::HfConfig c = convert::parse_config(text, path);
  flatbuffers::FlatBufferBuilder b;
  b.Finish(convert::build_model_config(b, c, c.num_nextn_predict_layers));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

TEST(Tf5Config, EveryFamilyParsesToTheReleasedConfig) {
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    const std::string tf5 = read_file_bytes(tf5_json(name));
    ASSERT_FALSE(tf5.empty());
    EXPECT_NE(tf5.find("\"transformers_version\": \"5."), std::string::npos);
    std::string got, want;
    ASSERT_NO_THROW(got = config_bytes(tf5, tf5_json(name).string()));
    want = config_bytes(read_file_bytes(fixture(name) / "config.json"), name);
    EXPECT_EQ(got, want);
  }
}

TEST(Tf5Config, ExpertCountSpellings) {
  const json released = json::parse(read_file_bytes(fixture("qwen3_moe_tiny") / "config.json"));
  for (const char* key : {"num_experts", "num_local_experts"}) {
    json j = released;
    j.erase("num_experts");
    j[key] = 8;
    EXPECT_EQ(convert::parse_config(j.dump(), "c.json").n_routed_experts, 8u) << key;
  }
  json both = released;
  both["num_local_experts"] = 8;  // num_experts is 16
  try {
    convert::parse_config(both.dump(), "c.json");
    ADD_FAILURE() << "two expert counts accepted";
  } catch (const convert::ConvertError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'num_experts' is 16 but 'num_local_experts'"), std::string::npos)
        << e.what();
  }
  json ds = json::parse(read_file_bytes(fixture("ds3_tiny") / "config.json"));
  ds.erase("n_routed_experts");
  ds.erase("num_nextn_predict_layers");
  ds["num_local_experts"] = 8;
  ds["num_mtp_layers"] = 1;
  const convert::HfConfig c = convert::parse_config(ds.dump(), "c.json");
  EXPECT_EQ(c.n_routed_experts, 8u);
  EXPECT_EQ(c.num_nextn_predict_layers, 1u);
}

TEST(Tf5Config, UnsupportedNewKeysAreRefused) {
  json q = json::parse(read_file_bytes(tf5_json("qwen2_moe_tiny")));
  q["layer_types"] = {"sliding_attention", "full_attention"};
  EXPECT_THROW(convert::parse_config(q.dump(), "c.json"), convert::ConvertError);
  for (const char* key : {"rope_interleave", "attention_bias", "mlp_bias"}) {
    json d = json::parse(read_file_bytes(tf5_json("ds3_tiny")));
    d[key] = std::string(key) == "rope_interleave" ? false : true;
    EXPECT_THROW(convert::parse_config(d.dump(), "c.json"), convert::ConvertError) << key;
  }
  json g = json::parse(read_file_bytes(tf5_json("gpt_oss_tiny")));
  g["swiglu_alpha"] = 1.5;
  EXPECT_THROW(convert::parse_config(g.dump(), "c.json"), convert::ConvertError);
}

// A fixture folder with the transformers-5 config.json next to the fixture's weights.
void copy_with_tf5_config(const std::string& name, const fs::path& dst) {
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(fixture(name)))
    if (e.path().extension() == ".safetensors" || e.path().filename() == "model.safetensors.index.json")
      fs::create_symlink(e.path(), dst / e.path().filename());
  fs::copy_file(tf5_json(name), dst / "config.json");
}

TEST(Tf5Config, EveryFamilyConvertsToTheSameTensors) {
  const fs::path dir = fresh_temp_dir("tf5_convert");
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    copy_with_tf5_config(name, dir / name);
    const CommandResult a = run_convert(fixture(name), dir / (std::string(name) + "_released.mote"));
    const CommandResult b = run_convert(dir / name, dir / (std::string(name) + "_tf5.mote"));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    auto f1 = open_mote(dir / (std::string(name) + "_released.mote"));
    auto f2 = open_mote(dir / (std::string(name) + "_tf5.mote"));
    ASSERT_TRUE(f1 && f2);
    const auto* ta = f1->model().tensors();
    ASSERT_EQ(ta->size(), f2->model().tensors()->size());
    for (const fb::Tensor* t : *ta) EXPECT_EQ(tensor_bytes(*f1, t->name()->str()), tensor_bytes(*f2, t->name()->str()));
    EXPECT_EQ(f1->config().n_routed_experts(), f2->config().n_routed_experts());
    EXPECT_EQ(f1->config().rope_theta(), f2->config().rope_theta());
    EXPECT_EQ(f1->config().num_nextn_predict_layers(), f2->config().num_nextn_predict_layers());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mote::test
