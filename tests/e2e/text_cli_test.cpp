// End-to-end text paths on ds3_tiny (random weights, byte-level tokenizer, DeepSeek-V3 chat
// template): mote tokenize, mote run -p, mote chat through stdin and a pseudo-terminal, the C
// embedding sample, and an installed package consumed with find_package(mote).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;
using mote::test::run_in_pty;

namespace {

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (int k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

class TextCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("text_cli");
    model_ = (dir_ / "ds3_tiny.mote").string();
    auto r = run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o", model_,
                          "--weights", "f32", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static inline fs::path dir_;
  static inline std::string model_;
};

TEST_F(TextCliTest, TokenizeWithAndWithoutSpecialTokens) {
  auto r = run_command({MOTE_CLI_BIN, "tokenize", model_, "--text", "Hello"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0,74,103,110,110,113\n");  // BOS + bytes (byte b has id b + 2)
  r = run_command({MOTE_CLI_BIN, "tokenize", model_, "--text", "Hello", "--no-special"});
  EXPECT_EQ(r.out, "74,103,110,110,113\n");
}

TEST_F(TextCliTest, RunStreamsValidUtf8AndIsReproducible) {
  const std::vector<std::string> greedy = {MOTE_CLI_BIN, "run", model_, "-p", "Hello, wörld", "-n", "24", "--ignore-eos"};
  auto a = run_command(greedy), b = run_command(greedy);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out) << "greedy output must be deterministic";
  EXPECT_TRUE(valid_utf8(a.out));
  std::vector<std::string> sampled = greedy;
  sampled.insert(sampled.end(), {"--temp", "1.0", "--top-k", "50", "--top-p", "0.9", "--min-p", "0.01", "--seed", "7"});
  auto s1 = run_command(sampled), s2 = run_command(sampled);
  ASSERT_EQ(s1.exit_code, 0) << s1.err;
  EXPECT_EQ(s1.out, s2.out) << "same seed, same output";
  sampled.back() = "8";
  auto s3 = run_command(sampled);
  EXPECT_NE(s1.out, s3.out) << "another seed should change a 24-token sample";
  EXPECT_TRUE(valid_utf8(s1.out) && valid_utf8(s3.out));
}

TEST_F(TextCliTest, RunRejectsBadSamplingFlags) {
  auto r = run_command({MOTE_CLI_BIN, "run", model_, "-p", "x", "--temp", "-1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
}

TEST_F(TextCliTest, ChatThroughStdinWithCommands) {
  auto r = run_command({MOTE_CLI_BIN, "chat", model_, "-n", "8"}, "Hi there\n/stats\n/reset\nBye\n/quit\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("deepseek-v3"), std::string::npos) << "template family detected at conversion: " << r.err;
  EXPECT_NE(r.out.find("[stats] turns 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[conversation reset]"), std::string::npos) << r.out;
  EXPECT_TRUE(valid_utf8(r.out));
}

TEST_F(TextCliTest, ChatShowsR1ReasoningApart) {
  auto r = run_command({MOTE_CLI_BIN, "chat", model_, "--chat-template", "deepseek-r1", "-n", "6"}, "Why?\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[thinking]"), std::string::npos) << "R1 replies start inside <think>: " << r.out;
}

TEST_F(TextCliTest, ChatRejectsUnknownTemplateName) {
  auto r = run_command({MOTE_CLI_BIN, "chat", model_, "--chat-template", "nope"}, "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("deepseek-r1"), std::string::npos) << "lists the valid names: " << r.err;
}

TEST_F(TextCliTest, ChatInAPseudoTerminal) {
  auto r = run_in_pty({MOTE_CLI_BIN, "chat", model_, "-n", "6"}, {"Hello\n", "/stats\n", "/quit\n"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("> "), std::string::npos) << "prompts on a terminal: " << r.out;
  EXPECT_NE(r.out.find("[stats] turns 1"), std::string::npos) << r.out;
}

TEST_F(TextCliTest, EmbedCSampleRuns) {
  auto r = run_command({MOTE_EMBED_C_BIN, model_, "Hello", "12"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("embed-c: ok"), std::string::npos) << r.out;
}

TEST_F(TextCliTest, InstalledPackageWorksWithFindPackage) {
  const fs::path prefix = dir_ / "prefix", app = dir_ / "app", app_build = dir_ / "app-build";
  auto r = run_command({"/usr/bin/cmake", "--install", MOTE_BUILD_DIR, "--prefix", prefix.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  fs::create_directories(app);
  mote::test::write_file_bytes(app / "CMakeLists.txt",
                               "cmake_minimum_required(VERSION 3.20)\nproject(app C)\nfind_package(mote REQUIRED)\n"
                               "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE mote::mote)\n");
  mote::test::write_file_bytes(app / "main.c",
                               "#include <mote/mote.h>\n#include <stdio.h>\nint main(int c, char** v) {\n"
                               "  mote_model* m = NULL; mote_model_info i;\n"
                               "  if (mote_model_open(v[1], NULL, &m) != MOTE_OK) return 1;\n"
                               "  if (mote_model_get_info(m, &i) != MOTE_OK) return 1;\n"
                               "  printf(\"vocab %d\\n\", i.vocab_size); mote_model_destroy(m); return 0; }\n");
  r = run_command({"/usr/bin/cmake", "-S", app.string(), "-B", app_build.string(), "-DCMAKE_PREFIX_PATH=" + prefix.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command({"/usr/bin/cmake", "--build", app_build.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command({(app_build / "app").string(), model_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "vocab 256\n");
}

}  // namespace
