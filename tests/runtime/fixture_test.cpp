// The runtime against the transformers reference fixtures (tests/fixtures/<name>), through the
// Session API directly: each fixture is converted with mote-convert --weights f32, then
// prefill and decode logits must match reference.json's logits to a relative max error of 1e-3
// (max|a-b| / max|ref|) and the greedy continuation must be identical. Skipped for a fixture
// that is not on disk.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "session/session.h"

namespace mote {
namespace {

namespace fs = std::filesystem;

struct Reference {
  std::vector<int32_t> ids, greedy_prompt, greedy_continuation;
  std::vector<float> logits;  // [ids.size(), vocab]
  int64_t vocab = 0;
};

Reference load(const fs::path& dir) {
  const auto j = nlohmann::json::parse(test::read_file_bytes(dir / "reference.json"));
  Reference r;
  r.ids = j.at("ids").get<std::vector<int32_t>>();
  r.vocab = j.at("vocab_size").get<int64_t>();
  r.greedy_prompt = j.at("greedy_prompt").get<std::vector<int32_t>>();
  r.greedy_continuation = j.at("greedy_continuation").get<std::vector<int32_t>>();
  const std::string bytes = test::read_file_bytes(dir / j.at("logits_file").get<std::string>());
  r.logits.resize(bytes.size() / sizeof(float));
  std::memcpy(r.logits.data(), bytes.data(), r.logits.size() * sizeof(float));
  return r;
}

double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(ref[i])));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  return diff / scale;
}

class RuntimeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(RuntimeFixture, F32LogitsAndGreedyMatchTransformers) {
  const fs::path dir = fs::path(MOTE_FIXTURES_DIR) / GetParam();
  if (!fs::exists(dir / "reference.json")) GTEST_SKIP() << "fixture " << dir << " not generated";
  const Reference ref = load(dir);
  const fs::path out = test::fresh_temp_dir("runtime_fixture_" + GetParam()) / "f32.mote";
  const auto conv = test::run_command({MOTE_CONVERT_BIN, dir.string(), "-o", out.string(), "--weights", "f32",
                                       "--quiet"});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  auto model = Model::open(out.string(), {true});
  ASSERT_TRUE(model) << model.status().to_string();
  ASSERT_EQ((*model)->hparams().vocab_size, ref.vocab);
  auto session = Session::create(**model, {64, 16});
  ASSERT_TRUE(session) << session.status().to_string();
  Session& s = **session;

  std::vector<float> prefill(ref.ids.size() * size_t(ref.vocab)), decode(prefill.size());
  ASSERT_TRUE(s.prefill(ref.ids, prefill.data(), LogitsMode::kAll).is_ok());
  s.reset();
  for (size_t t = 0; t < ref.ids.size(); ++t) ASSERT_TRUE(s.decode(ref.ids[t], decode.data() + t * ref.vocab).is_ok());
  const double err_prefill = rel_error(prefill, ref.logits), err_decode = rel_error(decode, ref.logits);
  std::printf("[%s] f32 relative max error vs transformers: prefill %.3g, decode %.3g\n", GetParam().c_str(),
              err_prefill, err_decode);
  RecordProperty("rel_err_prefill", std::to_string(err_prefill));
  RecordProperty("rel_err_decode", std::to_string(err_decode));
  EXPECT_LE(err_prefill, 1e-3);
  EXPECT_LE(err_decode, 1e-3);

  s.reset();
  std::vector<int32_t> cont(ref.greedy_continuation.size());
  auto n = s.generate_greedy(ref.greedy_prompt, cont);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(cont, ref.greedy_continuation);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RuntimeFixture,
                         ::testing::Values("ds3_tiny", "ds3_bias", "ds2_lite", "ds2_group", "ds3_fp8"));

}  // namespace
}  // namespace mote
