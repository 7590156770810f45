// The mote command line without a terminal: --help of every command, --version, "did you mean"
// for typos, flags a command would ignore refused, inspect --json, multi-line chat input from a
// pipe, slash commands answered locally, --session files, perplexity's final progress line.
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

class CliFlagsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("cli_flags");
    model_ = (dir_ / "ds3_tiny.mote").string();
    auto r = run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o", model_,
                          "--weights", "f32", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static inline fs::path dir_;
  static inline std::string model_;
};

TEST_F(CliFlagsTest, EveryCommandHasHelp) {
  const auto top = run_command({MOTE_CLI_BIN, "--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const std::string command : {"inspect", "run", "chat", "tokenize", "logits", "perplexity", "bench"}) {
    EXPECT_NE(top.out.find("  " + command + " "), std::string::npos) << command << " missing from:\n" << top.out;
    for (const std::string flag : {"--help", "-h"}) {
      const auto r = run_command({MOTE_CLI_BIN, command, flag});
      EXPECT_EQ(r.exit_code, 0) << command << " " << flag << ": " << r.err;
      EXPECT_EQ(r.out.rfind("usage: mote " + command, 0), 0u) << r.out;
      EXPECT_TRUE(r.err.empty()) << r.err;
    }
  }
  // --help wins over a missing FILE or other flags.
  const auto r = run_command({MOTE_CLI_BIN, "chat", "--temp", "0.5", "--no-such-flag", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("/help"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"\"\""), std::string::npos) << "multi-line input is documented: " << r.out;
}

TEST_F(CliFlagsTest, VersionBothWays) {
  const auto a = run_command({MOTE_CLI_BIN, "--version"});
  const auto b = run_command({MOTE_CLI_BIN, "version"});
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(b.exit_code, 0);
  EXPECT_TRUE(std::regex_match(a.out, std::regex(R"(mote \d+\.\d+\.\d+\n)"))) << a.out;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(CliFlagsTest, TyposGetASuggestion) {
  auto r = run_command({MOTE_CLI_BIN, "chta", model_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'chat'?"), std::string::npos) << r.err;
  r = run_command({MOTE_CLI_BIN, "run", model_, "-p", "x", "--tmep", "0.5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean --temp?"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  r = run_command({MOTE_CLI_BIN, "run", model_, "-p", "x", "--completely-unrelated", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
}

TEST_F(CliFlagsTest, FlagsACommandWouldIgnoreAreRefused) {
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"run", model_, "--ids", "1,2", "--temp", "0.7"}, "--temp does not apply to run --ids"},
      {{"run", model_, "--ids", "1,2", "--stop", "x"}, "--stop does not apply to run --ids"},
      {{"run", model_, "-p", "x", "--top-k", "5"}, "--top-k only applies when sampling"},
      {{"run", model_, "-p", "x", "--seed", "3"}, "--seed only applies when sampling"},
      {{"run", model_, "-p", "x", "--chat-template", "chatml"}, "--chat-template does not apply to run -p"},
      {{"chat", model_, "--min-p", "0.1"}, "--min-p only applies when sampling"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {MOTE_CLI_BIN};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 2) << c.needle;
    EXPECT_EQ(r.err.rfind("mote: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
  }
  // What they do apply to still works.
  auto r = run_command({MOTE_CLI_BIN, "run", model_, "--ids", "1,2", "-n", "3", "--ignore-eos"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ','), 2) << r.out;
  r = run_command({MOTE_CLI_BIN, "run", model_, "-p", "x", "-n", "3", "--temp", "0.7", "--top-k", "5", "--seed", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// --kernels NAME picks the model's kernel table (mote_model_params.kernels): the reference table
// runs, a name this build or CPU lacks is a one-line error naming it and the tables that exist.
TEST_F(CliFlagsTest, KernelsFlagPicksTheTable) {
  const auto ok = run_command({MOTE_CLI_BIN, "run", model_, "--ids", "1,2,3", "-n", "4", "--kernels", "reference"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  const auto bad = run_command({MOTE_CLI_BIN, "run", model_, "--ids", "1,2,3", "-n", "4", "--kernels", "sse9"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("'sse9'"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("reference"), std::string::npos) << bad.err;
  const auto help = run_command({MOTE_CLI_BIN, "bench", "--help"});
  EXPECT_NE(help.out.find("--kernels NAME"), std::string::npos) << help.out;
}

TEST_F(CliFlagsTest, InspectJsonIsTheFullMetadata) {
  const auto r = run_command({MOTE_CLI_BIN, "inspect", model_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "DeepSeekV3");
  EXPECT_GT(j["tensor_count"].get<int>(), 0);
  // Without --json: the human summary, piped or not.
  const auto summary = run_command({MOTE_CLI_BIN, "inspect", model_});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out, r.out);
  EXPECT_NE(summary.out.find("DeepSeekV3"), std::string::npos) << summary.out;
  EXPECT_FALSE(nlohmann::json::accept(summary.out)) << "the summary is not JSON";
}

// The user messages the model was sent, from a /save of the conversation.
std::vector<std::string> saved_user_messages(const fs::path& session) {
  const auto j = nlohmann::json::parse(mote::test::read_file_bytes(session.string() + ".messages.json"));
  std::vector<std::string> out;
  for (const auto& m : j)
    if (m["role"] == "user") out.push_back(m["content"]);
  return out;
}

TEST_F(CliFlagsTest, ChatMultiLineInputAndLocalCommands) {
  const fs::path saved = dir_ / "multi.session";
  const std::string input =
      "/help\n/nope\n/stats\n"
      "first line \\\nsecond line\n"
      "\"\"\"\nblock one\nblock two\n\"\"\"\n"
      "\"\"\"inline block\"\"\"\n"
      "/save " + saved.string() + "\n";
  const auto r = run_command({MOTE_CLI_BIN, "chat", model_, "-n", "4"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("/reset"), std::string::npos) << "/help answered: " << r.out;
  EXPECT_NE(r.out.find("[unknown command /nope"), std::string::npos) << r.out;
  // Neither reached the model: nothing was evaluated before the first message.
  EXPECT_NE(r.out.find("[stats] turns 0, context 0 tokens"), std::string::npos) << r.out;
  EXPECT_EQ(saved_user_messages(saved),
            (std::vector<std::string>{"first line \nsecond line", "block one\nblock two", "inline block"}));
}

TEST_F(CliFlagsTest, ChatSessionFileContinuesTheConversation) {
  const fs::path session = dir_ / "continued.session";
  const std::vector<std::string> chat = {MOTE_CLI_BIN, "chat", model_, "-n", "4", "--session", session.string()};
  auto r = run_command(chat, "Hello\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(session));
  r = run_command(chat, "/stats\nAgain\n/stats\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("[loaded " + session.string() + ": 2 messages]"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("[stats] turns 1"), std::string::npos) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(turns 2, .*\[prompt (\d+) tokens, reused (\d+)\])"))) << r.out;
  EXPECT_GT(std::stoll(m[2]), 0) << "the loaded KV cache was reused: " << r.out;
  EXPECT_EQ(saved_user_messages(session), (std::vector<std::string>{"Hello", "Again"}));
}

TEST_F(CliFlagsTest, PerplexityEndsWithAProgressLine) {
  const fs::path text = dir_ / "text.txt";
  mote::test::write_file_bytes(text, "The quick brown fox jumps over the lazy dog. It was the best of times.\n");
  const auto r = run_command({MOTE_CLI_BIN, "perplexity", model_, "--text", text.string(), "--ctx", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(\[perplexity\] (\d+)/\1 tokens, ppl \d)"))) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no carriage returns when stderr is not a terminal";
  EXPECT_GT(nlohmann::json::parse(r.out)["perplexity"].get<double>(), 1.0);
}

// --kv-type on every command that makes a session; a bad value is a one-line usage error naming
// the flag; perplexity --kl-base reports the KL divergence against the base type (0 for the same
// type); bench prints the type and the KV bytes.
TEST_F(CliFlagsTest, KvTypeFlag) {
  for (const std::string command : {"run", "chat", "logits", "perplexity", "bench", "serve"}) {
    const auto r = run_command({MOTE_CLI_BIN, command, "--help"});
    EXPECT_NE(r.out.find("--kv-type"), std::string::npos) << command << ": " << r.out;
  }
  const auto bad = run_command({MOTE_CLI_BIN, "run", model_, "--ids", "1,2,3", "-n", "2", "--kv-type", "f8"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--kv-type: 'f8'"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  const fs::path text = dir_ / "kl.txt";
  mote::test::write_file_bytes(text, "The quick brown fox jumps over the lazy dog. It was the best of times.\n");
  for (const std::string kv : {"f32", "f16", "q8_0"}) {
    const auto r = run_command({MOTE_CLI_BIN, "perplexity", model_, "--text", text.string(), "--ctx", "16",
                                "--kv-type", kv, "--kl-base", "f32"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["kv_type"], kv);
    if (kv == "f32") EXPECT_EQ(j["kl_mean"].get<double>(), 0.0);
    else EXPECT_GT(j["kl_mean"].get<double>(), 0.0);
    EXPECT_LT(j["kl_mean"].get<double>(), 0.05) << kv;
  }
  const auto bench = run_command({MOTE_CLI_BIN, "bench", model_, "--prompt", "8", "--gen", "4", "--kv-type", "q8_0"});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  const auto j = nlohmann::json::parse(bench.out);
  EXPECT_EQ(j["kv_type"], "q8_0");
  EXPECT_GT(j["kv_cache_bytes"].get<uint64_t>(), 0u);
}

// mote bench's roofline fields: the weight and KV bytes a decoded token reads (KV growing with
// the depth, f16 half of f32), both ratios, the warm-up (on by default, --no-warmup skips it), the
// CPU and the kernel tables; bad flags are one-line errors.
TEST_F(CliFlagsTest, BenchRooflineFields) {
  auto bench = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {MOTE_CLI_BIN, "bench", model_, "--gen", "4", "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  };
  const auto warm = bench({"--prompt", "8"});
  ASSERT_TRUE(warm.contains("kv_bytes_per_token")) << warm.dump();
  EXPECT_TRUE(warm["warmup"].get<bool>());
  EXPECT_GT(warm["warmup_s"].get<double>(), 0.0);
  EXPECT_EQ(warm["weight_bytes_per_token"], warm["active_bytes_per_token"]);
  EXPECT_GT(warm["kv_bytes_per_token"].get<double>(), 0.0);
  const double w = warm["weight_bytes_per_token"].get<double>(), kv = warm["kv_bytes_per_token"].get<double>();
  EXPECT_NEAR(warm["roofline_ratio"].get<double>(), warm["roofline_ratio_weights_only"].get<double>() * (w + kv) / w,
              1e-9 * warm["roofline_ratio"].get<double>());
  EXPECT_TRUE(warm["cpu_model"].is_string());
  EXPECT_TRUE(warm["cpu_flags"].is_object());
#if defined(__x86_64__)
  EXPECT_TRUE(warm["cpu_flags"].contains("avx512_vnni")) << warm["cpu_flags"].dump();
  EXPECT_TRUE(warm["cpu_flags"].contains("amx_int8")) << warm["cpu_flags"].dump();
#endif
  const auto& tables = warm["kernels_available"];
  ASSERT_TRUE(tables.is_array());
  EXPECT_EQ(tables.front(), "reference");
  EXPECT_NE(std::find(tables.begin(), tables.end(), warm["kernels"]), tables.end()) << warm.dump();
  // --no-warmup: accepted, nothing warmed. ds3_tiny is all MLA (no window): the decode tokens
  // at positions 8..11 read 10.5 latent rows a layer on average, at 32..35 34.5 rows.
  const auto cold = bench({"--prompt", "32", "--no-warmup"});
  EXPECT_FALSE(cold["warmup"].get<bool>());
  EXPECT_EQ(cold["warmup_s"].get<double>(), 0.0);
  EXPECT_NEAR(cold["kv_bytes_per_token"].get<double>() / kv, 34.5 / 10.5, 1e-9);
  const auto f32 = bench({"--prompt", "8", "--kv-type", "f32", "--no-warmup"});
  EXPECT_EQ(warm["kv_type"], "f16");  // the CLI's default
  EXPECT_DOUBLE_EQ(f32["kv_bytes_per_token"].get<double>(), 2 * kv);
  const auto q8 = bench({"--prompt", "8", "--kv-type", "q8_0", "--no-warmup"});
  EXPECT_LT(q8["kv_bytes_per_token"].get<double>(), kv);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--no-warmup", "1"}, {"--no-warmp"}, {"--prompt", "x"}, {"--gen", "0"}}) {
    std::vector<std::string> argv = {MOTE_CLI_BIN, "bench", model_};
    argv.insert(argv.end(), bad.begin(), bad.end());
    const auto r = run_command(argv);
    EXPECT_NE(r.exit_code, 0) << bad[0];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  const auto help = run_command({MOTE_CLI_BIN, "bench", "--help"});
  EXPECT_NE(help.out.find("--no-warmup"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("roofline_ratio_weights_only"), std::string::npos) << help.out;
}

}  // namespace
