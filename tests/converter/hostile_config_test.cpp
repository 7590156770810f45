// Hostile config.json: counts far beyond what the checkpoint holds (layers, routed experts, MTP
// layers) or beyond the converter's bounds fail fast, with one line naming the field, in bounded
// memory and time: the plan is never built for numbers the checkpoint does not back. Before,
// 2^24 experts grew mote-convert to 22 GB and a 10,000-layer config took 1.8 GB.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "converter/ckpt_builder.h"
#include "converter/convert_util.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Case {
  const char* fixture;  // "" = the tiny DeepSeek-V3 checkpoint (2 layers + 1 MTP, 4 experts)
  json patch;           // merged into its config.json
  const char* needle;   // expected in the error line
};

void run_case(const Case& c, const fs::path& dir) {
  const fs::path hf = dir / "hf";
  json config;
  if (std::string(c.fixture).empty()) {
    make_tiny().write(hf);
    config = json::parse(read_file_bytes(hf / "config.json"));
  } else {
    const fs::path src = fs::path(MOTE_FIXTURES_DIR) / c.fixture;
    fs::create_directories(hf);
    fs::create_symlink(src / "model.safetensors", hf / "model.safetensors");
    config = json::parse(read_file_bytes(src / "config.json"));
  }
  config.merge_patch(c.patch);
  write_file_bytes(hf / "config.json", config.dump());
  const auto t0 = std::chrono::steady_clock::now();
  const CommandResult r = run_convert(hf, dir / "m.mote");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mib = double(r.peak_rss_bytes) / (1 << 20);
  std::printf("[HostileConfig] %s %s: %.2f s, peak RSS %.1f MiB: %s", c.fixture, c.patch.dump().c_str(), seconds,
              mib, r.err.c_str());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("mote-convert: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
  EXPECT_LT(mib, 64.0);
  EXPECT_LT(seconds, 2.0);
  EXPECT_FALSE(fs::exists(dir / "m.mote"));
}

TEST(HostileConfig, CountsTheCheckpointDoesNotBackFailFast) {
  const Case cases[] = {
      {"", {{"num_hidden_layers", 4000}}, "field 'num_hidden_layers' is 4000 but the checkpoint has no tensor model.layers.3.*"},
      {"", {{"num_hidden_layers", 10000}}, "field 'num_hidden_layers' is 10000, implausibly large"},
      {"", {{"num_hidden_layers", 1 << 24}}, "field 'num_hidden_layers'"},
      {"", {{"n_routed_experts", 65536}, {"n_group", 1}, {"topk_group", 1}}, "field 'n_routed_experts' is 65536 but model.layers.1 has tensors for at most 12 routed experts"},
      {"", {{"n_routed_experts", 1 << 24}, {"n_group", 1}, {"topk_group", 1}}, "field 'n_routed_experts' is 16777216, implausibly large"},
      {"", {{"num_nextn_predict_layers", 64}}, "field 'num_nextn_predict_layers' is 64 but the checkpoint has no tensor model.layers.3.*"},
      {"", {{"num_nextn_predict_layers", 1 << 24}}, "field 'num_nextn_predict_layers' is 16777216, implausibly large"},
      {"qwen3_moe_tiny", {{"num_experts", 65536}}, "field 'num_experts' is 65536 but model.layers.0 has tensors for at most 48 routed experts"},
      {"qwen3_moe_tiny", {{"num_hidden_layers", 4096}}, "field 'num_hidden_layers' is 4096 but"},
      {"gpt_oss_tiny", {{"num_local_experts", 65536}}, "field 'num_local_experts' is 65536 but model.layers.0 has tensors for at most 8 routed experts"},
      {"gpt_oss_tiny", {{"num_hidden_layers", 1 << 24}, {"layer_types", nullptr}}, "field 'num_hidden_layers' is 16777216, implausibly large"},
      {"mixtral_swa", {{"num_local_experts", 60000}}, "field 'num_local_experts' is 60000 but model.layers.0 has tensors for at most 24 routed experts"},
  };
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.patch.dump());
    const fs::path dir = fresh_temp_dir("hostile_" + std::to_string(i++));
    run_case(c, dir);
    fs::remove_all(dir);
  }
}

// A checkpoint with a few stray tiny tensors at high indices (model.layers.4095.*, expert 65535)
// does not back 4096 layers x 65536 experts: the plan must not be built for them either.
TEST(HostileConfig, StrayTensorsAtHighIndicesDoNotBackTheCounts) {
  const fs::path dir = fresh_temp_dir("hostile_stray");
  TinyCheckpoint ck = make_tiny();
  for (const char* name : {"model.layers.4095.input_layernorm.weight", "model.layers.1.mlp.experts.65535.up_proj.weight",
                           "model.layers.1.mlp.experts.65534.up_proj.weight"})
    ck.tensors.push_back({name, "F32", {1}, std::string(4, '\0'), {}, 0});
  ck.config["n_routed_experts"] = 65536;
  ck.config["n_group"] = 1;
  ck.config["topk_group"] = 1;
  ck.write(dir / "hf");
  for (int layers : {2, 4096}) {
    json config = json::parse(read_file_bytes(dir / "hf" / "config.json"));
    config["num_hidden_layers"] = layers;
    config["n_routed_experts"] = layers == 2 ? 65536 : 4;
    write_file_bytes(dir / "hf" / "config.json", config.dump());
    const CommandResult r = run_convert(dir / "hf", dir / "m.mote");
    std::printf("[HostileConfig] stray tensors, %d layers: peak RSS %.1f MiB: %s", layers,
                double(r.peak_rss_bytes) / (1 << 20), r.err.c_str());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(layers == 2 ? "field 'n_routed_experts' is 65536 but model.layers.1 has tensors for at most 14 routed experts"
                                     : "field 'num_hidden_layers' is 4096 but the checkpoint has no tensor model.layers.3.*"),
              std::string::npos) << r.err;
    EXPECT_LT(r.peak_rss_bytes, int64_t(64) << 20);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mote::test
