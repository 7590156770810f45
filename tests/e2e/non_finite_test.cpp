// A model whose final-norm weight holds a NaN: generation must fail with a non-finite error
// that names the position, not print "0,0,0,0" and exit 0 (issue #12 item 6). Covers mote run
// --ids (Session::generate_greedy), mote run -p (generate_text), F32 and Q8_0 weights (the Q8_0
// lm_head quantises the NaN activations: no UB, NaN propagates).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

// Copies the ds3_tiny checkpoint and writes NaN into model.norm.weight[0] (F32, shard 2).
fs::path nan_checkpoint(const fs::path& dir) {
  const fs::path src = fs::path(MOTE_FIXTURES_DIR) / "ds3_tiny";
  const fs::path dst = dir / "ds3_nan";
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dst / e.path().filename());
  const fs::path shard = dst / "model-00002-of-00002.safetensors";
  std::string bytes = mote::test::read_file_bytes(shard);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const std::string header = bytes.substr(8, header_len);
  const size_t key = header.find("\"model.norm.weight\"");
  const size_t offsets = header.find("\"data_offsets\":[", key);
  EXPECT_NE(key, std::string::npos);
  EXPECT_NE(offsets, std::string::npos);
  const size_t begin = std::stoull(header.substr(offsets + 16));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + 8 + header_len + begin, &nan, sizeof nan);
  mote::test::write_file_bytes(shard, bytes);
  return dst;
}

class NonFiniteTest : public ::testing::TestWithParam<const char*> {};

TEST_P(NonFiniteTest, NanWeightsAreAnErrorNamingThePosition) {
  const fs::path dir = mote::test::fresh_temp_dir(std::string("non_finite_") + GetParam());
  const std::string model = (dir / "nan.mote").string();
  auto r = run_command({MOTE_CONVERT_BIN, nan_checkpoint(dir).string(), "-o", model, "--weights", GetParam(),
                        "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command({MOTE_CLI_BIN, "run", model, "--ids", "0,5,17", "-n", "4", "--no-mtp"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("non-finite logits at position 2"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("0,0,0,0"), std::string::npos) << r.out;
  r = run_command({MOTE_CLI_BIN, "run", model, "--ids", "0,5,17", "-n", "4"});  // MTP drafting
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("non-finite"), std::string::npos) << r.err;
  r = run_command({MOTE_CLI_BIN, "run", model, "-p", "Hello", "-n", "4"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("non-finite logits at position 5"), std::string::npos) << r.err;  // BOS + 5 bytes
  r = run_command({MOTE_CLI_BIN, "chat", model}, "Hello\n");
  EXPECT_NE(r.err.find("non-finite logits at position"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Weights, NonFiniteTest, ::testing::Values("f32", "q8_0"));

}  // namespace
