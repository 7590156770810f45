// mote tokenize's --no-special / --parse-special / --no-parse-special, and mote chat keeping a
// typed control token plain (issue #12 item 4), on ds3_tiny (DeepSeek-V3 template, byte-level BPE
// with <｜begin▁of▁sentence｜> = 0 and <｜end▁of▁sentence｜> = 1).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

TEST(ParseSpecialCli, TokenizeFlagsSeparateBosFromControlTokens) {
  const fs::path dir = mote::test::fresh_temp_dir("parse_special_cli");
  const std::string model = (dir / "ds3_tiny.mote").string();
  auto r = run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o", model, "--weights",
                        "f32", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string eos = "<｜end▁of▁sentence｜>";
  r = run_command({MOTE_CLI_BIN, "tokenize", model, "--text", "a" + eos});
  EXPECT_EQ(r.out, "0,99,1\n") << r.err;  // BOS, 'a', EOS: trusted text, control token parsed
  r = run_command({MOTE_CLI_BIN, "tokenize", model, "--text", "a" + eos, "--no-special"});
  EXPECT_EQ(r.out.find(",1,"), std::string::npos) << r.out;  // plain: no EOS id anywhere
  EXPECT_NE(r.out.substr(0, 3), "0,9") << r.out;             // and no BOS
  EXPECT_NE(r.out.rfind(",1\n"), r.out.size() - 3) << r.out;
  r = run_command({MOTE_CLI_BIN, "tokenize", model, "--text", "a" + eos, "--no-special", "--parse-special"});
  EXPECT_EQ(r.out, "99,1\n") << r.err;
  r = run_command({MOTE_CLI_BIN, "tokenize", model, "--text", "a" + eos, "--no-parse-special"});
  EXPECT_EQ(r.out.substr(0, 5), "0,99,") << r.out;
  EXPECT_NE(r.out.rfind(",1\n"), r.out.size() - 3) << r.out;
  fs::remove_all(dir);
}

}  // namespace
