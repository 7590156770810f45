// Real-shaped checkpoints, one per family, end to end through the public C API (mote.h only).
//
// For each family: the REAL config.json (tools/synth/configs) at 1 layer (DeepSeek: 2, one dense
// layer as first_k_dense_replace asks, then one MoE layer), synthetic weights from
// mote-synth at real widths and the real (padded) vocab_size, plus the family's REAL tokenizer
// files and chat template (../shared/data), converted with mote-convert --weights q8_0 (about 10x
// less CPU than q4 here: 1.3 s against 12 s user for OLMoE's 0.55 GB); then
// mote_model_open, mote_chat_render of a two-turn chat (system + user + assistant + user),
// compared byte for byte with golden/<family>.txt (the real Jinja template rendered by jinja2),
// mote_tokenize compared with golden/<family>.ids (Hugging Face `tokenizers` on the same text;
// both written by make_goldens.py), greedy mote_generate of a few tokens and mote_detokenize.
//
// Compromises, to fit CI (2 cores, a few GB of disk), all through `mote-synth --set`:
// - routed experts are cut to a few (>= num_experts_per_tok, and for DeepSeek-V3 a multiple of
//   n_group that still leaves top-k candidates); every width stays real (except under
//   MOTE_TEST_SCALE=small, i.e. under qemu-aarch64: see narrow() below);
// - DeepSeek-V3 drops its MTP layer (num_nextn_predict_layers = 0: it would add another MoE layer)
//   and is written FP8 with 128x128 block scales, as released;
// - DeepSeek-V2's real vocabulary exists here only as a GGUF file (tokenizer-tests/
//   ggml-vocab-deepseek-llm.gguf): gguf_vocab.cpp writes it as tokenizer.json at test time, checked
//   against llama.cpp's .inp/.out vectors. mote has no V2-Chat template family ("User: ...\n\n
//   Assistant:"), so the model is opened with chat_template = "deepseek-v3" (whose <｜User｜> and
//   <｜Assistant｜> are plain text in the V2 vocabulary);
// - OLMoE ships no chat template (its instruct model's Tulu format is not a family mote renders):
//   it is opened with chat_template = "chatml".
// Each family is its own test (ctest label real_shaped), so a failure names the family. Every
// checkpoint is deleted right after conversion, every .mote file at the end of its test.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <mote/mote.h>

#include "common/test_util.h"
#include "real_shaped/gguf_vocab.h"

namespace fs = std::filesystem;
using mote::test::read_file_bytes;
using mote::test::run_command;

namespace {

struct Family {
  const char* name;          // model_type; golden/<name>.{txt,ids}
  const char* config;        // tools/synth/configs/<config>
  std::vector<std::string> synth_args;  // after --layers 1 (a later --layers wins)
  // MOTE_TEST_SCALE=small (qemu-aarch64, scripts/test-arm.sh): after synth_args, narrower widths
  // (a later --set wins). The vocabulary, tokenizer, template, layer kinds and expert counts stay
  // real; every check below is the same.
  std::vector<std::string> small_args;
  const char* tokenizer;     // shared/data/tokenizers/<tokenizer>/ (tokenizer.json [+ _config])
  const char* template_file; // copied as chat_template.jinja ("" = the one in tokenizer_config)
  const char* chat_family;   // mote_model_params.chat_template (nullptr = the stored one)
};

// Tokenizer files written at test time from tokenizer-tests/ggml-vocab-deepseek-llm.gguf.
const char* kGgufDeepSeekLlm = "gguf:deepseek-llm";
const std::string kTemplates = std::string(MOTE_SHARED_DATA_DIR) + "/chat-templates/";
const std::string kHere = std::string(MOTE_TEST_SOURCE_DIR) + "/real_shaped/";

// Under MOTE_TEST_SCALE=small (qemu-aarch64, ~35x slower than native) the real widths would take
// minutes per family (DeepSeek-V3: a 2 GB checkpoint; over 6 min for one family under qemu): the
// hidden size becomes 128 and the FFN/expert widths 128-256, with 4 query heads (head_dim kept
// where the config states it, else 32). Multiples of 128 keep FP8's 128x128 blocks whole.
std::vector<std::string> narrow(std::vector<std::string> extra) {
  std::vector<std::string> a = {"--set", "hidden_size=128", "--set", "intermediate_size=256", "--set",
                                "num_attention_heads=4"};
  for (std::string& e : extra) a.insert(a.end(), {"--set", std::move(e)});
  return a;
}

std::vector<Family> families() {
  return {
      {"deepseek_v3", "deepseek-v3.json",
       {"--layers", "2", "--fp8", "--set", "n_routed_experts=16", "--set", "num_nextn_predict_layers=0"},  // 16 = 8 groups x 2
       narrow({"moe_intermediate_size=128", "num_key_value_heads=4"}), "deepseek-v3", "", nullptr},
      {"deepseek_v2", "deepseek-v2-lite.json", {"--layers", "2", "--set", "n_routed_experts=8"},
       narrow({"moe_intermediate_size=128", "num_key_value_heads=4"}), kGgufDeepSeekLlm, "", "deepseek-v3"},
      {"qwen3_moe", "qwen3-30b-a3b.json", {"--set", "num_experts=8"},
       narrow({"moe_intermediate_size=128", "num_key_value_heads=2"}), "qwen3", "", nullptr},
      {"qwen2_moe", "qwen2-57b-a14b.json", {"--set", "num_experts=8"},
       narrow({"moe_intermediate_size=128", "shared_expert_intermediate_size=256", "num_key_value_heads=2"}), "qwen3",
       "Qwen-Qwen2.5-7B-Instruct.jinja", nullptr},
      {"olmoe", "olmoe-1b-7b.json", {"--set", "num_experts=8"}, narrow({"num_key_value_heads=4"}), "olmoe", "",
       "chatml"},
      {"mixtral", "mixtral-8x7b-v0.1.json", {"--set", "num_local_experts=2"}, narrow({"num_key_value_heads=2"}),
       "mixtral-8x7b", "=mixtral-8x7b-instruct-v0.1.jinja", nullptr},
      {"qwen2", "deepseek-r1-distill-qwen-1.5b.json", {}, narrow({"num_key_value_heads=2"}), "qwen3",
       "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", nullptr},
      {"gpt_oss", "gpt-oss-20b.json", {"--set", "num_local_experts=4"}, narrow({"num_key_value_heads=2"}), "gpt-oss",
       "openai-gpt-oss-120b.jinja", nullptr},
  };
}

// gtest prints a parameter in the test's description (and ctest's test name): the family name.
void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

// Keep in sync with MESSAGES in make_goldens.py.
const mote_chat_message kMessages[] = {
    {"system", "You are a concise assistant."},
    {"user", "What is the capital of France?"},
    {"assistant", "The capital of France is Paris."},
    {"user", "And of Italy? Answer in one word."},
};
const std::string kGguf = std::string(MOTE_SHARED_DATA_DIR) + "/tokenizer-tests/ggml-vocab-deepseek-llm.gguf";
const char* kGptOssDate = "2025-01-01";  // make_goldens.py renders strftime_now as this date

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

// Synthesizes the checkpoint into dir/hf with the family's tokenizer and template, converts it
// to dir/model.mote and deletes dir/hf. Returns the checkpoint's bytes (0 on failure).
uint64_t build_model(const Family& f, const fs::path& dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path hf = dir / "hf";
  std::vector<std::string> synth = {MOTE_SYNTH_BIN, "--config",
                                    std::string(MOTE_TEST_SOURCE_DIR) + "/../tools/synth/configs/" + f.config,
                                    "-o", hf.string(), "--layers", "1", "--seed", "1", "--quiet"};
  synth.insert(synth.end(), f.synth_args.begin(), f.synth_args.end());
  if (mote::test::small_scale()) synth.insert(synth.end(), f.small_args.begin(), f.small_args.end());
  auto r = run_command(synth);
  EXPECT_EQ(r.exit_code, 0) << f.name << ": mote-synth failed: " << r.err;
  if (r.exit_code != 0) return 0;
  const fs::path tok = fs::path(MOTE_SHARED_DATA_DIR) / "tokenizers" / f.tokenizer;
  if (std::string(f.tokenizer) == kGgufDeepSeekLlm) {
    const auto files = mote::test::gguf_deepseek_llm_to_hf(kGguf);
    mote::test::write_file_bytes(hf / "tokenizer.json", files.tokenizer_json);
    mote::test::write_file_bytes(hf / "tokenizer_config.json", files.tokenizer_config_json);
  }
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(tok / name)) fs::copy_file(tok / name, hf / name);
  if (*f.template_file == '=') fs::copy_file(kHere + (f.template_file + 1), hf / "chat_template.jinja");
  else if (*f.template_file) fs::copy_file(kTemplates + f.template_file, hf / "chat_template.jinja");
  uint64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(hf)) bytes += e.file_size();
  std::printf("[ %-11s ] mote-synth %.1f s\n", f.name, seconds_since(t0));
  r = run_command({MOTE_CONVERT_BIN, hf.string(), "-o", (dir / "model.mote").string(), "--weights", "q8_0", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << f.name << ": mote-convert failed: " << r.err;
  fs::remove_all(hf);
  return r.exit_code == 0 ? bytes : 0;
}

std::string render_chat(const Family& f, mote_model* model) {
  std::string out(64 * 1024, '\0');
  size_t len = 0;
  const mote_status st = mote_chat_render(model, kMessages, std::size(kMessages), 1, out.data(), out.size(), &len);
  EXPECT_EQ(st, MOTE_OK) << f.name << ": mote_chat_render: " << mote_last_error();
  out.resize(st == MOTE_OK ? len : 0);
  if (std::string(f.name) == "gpt_oss") {  // the template states today's date; the golden has a fixed one
    const std::string key = "Current date: ";
    const size_t at = out.find(key);
    EXPECT_NE(at, std::string::npos) << "gpt_oss: no date in the rendered system message";
    if (at != std::string::npos) out.replace(at + key.size(), 10, kGptOssDate);
  }
  return out;
}

// The rendered chat holds BOS and the template's special tokens as text: no BOS is added, the
// special tokens are matched (message contents here hold none). API version 2 separates
// parse_special from add_special; version 1's add_special = 0 still matched special tokens.
std::vector<int32_t> tokenize_rendered(const Family& f, mote_model* model, const std::string& text) {
  std::vector<int32_t> ids(text.size() + 16);
  size_t n = 0;
#if MOTE_API_VERSION >= 2
  const mote_status st = mote_tokenize_ex(model, text.data(), text.size(), 0, 1, ids.data(), ids.size(), &n);
#else
  const mote_status st = mote_tokenize(model, text.data(), text.size(), 0, ids.data(), ids.size(), &n);
#endif
  EXPECT_EQ(st, MOTE_OK) << f.name << ": mote_tokenize: " << mote_last_error();
  ids.resize(st == MOTE_OK ? n : 0);
  return ids;
}

#if MOTE_API_VERSION >= 2
// The chat tokenized directly (contents as plain text, template tokens parsed).
std::vector<int32_t> chat_tokenize(const Family& f, mote_model* model) {
  std::vector<int32_t> ids(4096);
  size_t n = 0;
  const mote_status st = mote_chat_tokenize(model, kMessages, std::size(kMessages), 1, ids.data(), ids.size(), &n);
  EXPECT_EQ(st, MOTE_OK) << f.name << ": mote_chat_tokenize: " << mote_last_error();
  ids.resize(st == MOTE_OK ? n : 0);
  return ids;
}
#endif

struct Generated {
  std::vector<int32_t> ids;
  std::string text;  // concatenated callback text
};

int on_token(void* user, int32_t token, const char* text, size_t len) {
  auto* g = static_cast<Generated*>(user);
  g->ids.push_back(token);
  g->text.append(text, len);
  return 0;
}

// Greedy, a few tokens, EOS ignored so the count is fixed; then detokenizes what came out.
void generate_and_detokenize(const Family& f, mote_model* model, const std::string& prompt, int32_t vocab) {
  mote_session* session = nullptr;
  mote_session_params sp = mote_session_params_default();
  sp.max_context = 512;
  ASSERT_EQ(mote_session_create(model, &sp, &session), MOTE_OK) << f.name << ": " << mote_last_error();
  mote_generate_params gp = mote_generate_params_default();
  gp.sampling.temperature = 0.0f;
  gp.max_tokens = 4;
  gp.ignore_eos = 1;
  gp.add_special = 0;  // the rendered prompt already holds BOS
  Generated g;
  const auto t0 = std::chrono::steady_clock::now();
  const mote_status st = mote_generate(session, prompt.data(), prompt.size(), &gp, on_token, &g);
  const double gen_s = seconds_since(t0);
  mote_session_destroy(session);
  ASSERT_EQ(st, MOTE_OK) << f.name << ": mote_generate: " << mote_last_error();
  ASSERT_EQ(g.ids.size(), 4u) << f.name;
  for (int32_t id : g.ids) EXPECT_TRUE(id >= 0 && id < vocab) << f.name << ": generated id " << id;
  std::string text(4096, '\0');
  size_t len = 0;
  const mote_status dt = mote_detokenize(model, g.ids.data(), g.ids.size(), 0, text.data(), text.size(), &len);
  EXPECT_EQ(dt, MOTE_OK) << f.name << ": mote_detokenize of" << show(g.ids) << ": " << mote_last_error();
  if (dt == MOTE_OK) {
    EXPECT_EQ(text.substr(0, len), g.text) << f.name << ": detokenized text differs from the stream";
  }
  // The last id of the (padded) vocabulary is one the model can emit: it decodes (as empty text
  // when the tokenizer lacks it); one past the vocabulary is an error.
  const int32_t last[2] = {vocab - 1, vocab};
  EXPECT_EQ(mote_detokenize(model, last, 1, 0, text.data(), text.size(), &len), MOTE_OK)
      << f.name << ": id " << vocab - 1 << ": " << mote_last_error();
  EXPECT_EQ(mote_detokenize(model, last + 1, 1, 0, text.data(), text.size(), &len), MOTE_ERR_INVALID_ARGUMENT)
      << f.name << ": id " << vocab;
  std::printf("[ %-11s ] generated%s (%.1f s)\n", f.name, show(g.ids).c_str(), gen_s);
}

// llama.cpp's test vectors for the GGUF vocabulary (.inp: strings separated by
// "\n__ggml_vocab_test__\n"; .out: one line of ids per string, no BOS), through the model.
void check_gguf_vectors(mote_model* model) {
  const std::string inp = read_file_bytes(kGguf + ".inp"), out = read_file_bytes(kGguf + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::istringstream lines(out);
  std::string line;
  size_t cases = 0, passed = 0;
  const Family f{"deepseek_v2", "", {}, {}, "", "", nullptr};
  for (size_t pos = 0, hit; (hit = inp.find(sep, pos)) != std::string::npos && std::getline(lines, line);
       pos = hit + sep.size(), ++cases) {
    const std::vector<int32_t> want = parse_ids(line), got = tokenize_rendered(f, model, inp.substr(pos, hit - pos));
    if (got == want) ++passed;
    else ADD_FAILURE() << "deepseek-llm vector '" << inp.substr(pos, hit - pos) << "'\n  expected" << show(want)
                       << "\n  got     " << show(got);
  }
  std::printf("[ deepseek_v2 ] ggml-vocab-deepseek-llm vectors: %zu/%zu passed\n", passed, cases);
  EXPECT_GT(cases, 0u);
}

class RealShaped : public ::testing::TestWithParam<Family> {
 protected:
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_P(RealShaped, ConvertsRendersTokenizesGenerates) {
  const Family& f = GetParam();
  const auto t0 = std::chrono::steady_clock::now();
  dir_ = mote::test::fresh_temp_dir(std::string("real_shaped_") + f.name);
  const uint64_t hf_bytes = build_model(f, dir_);
  ASSERT_GT(hf_bytes, 0u) << f.name;
  const double build_s = seconds_since(t0);
  const fs::path model_path = dir_ / "model.mote";
  const uint64_t mote_bytes = fs::file_size(model_path);

  mote_model_params mp = mote_model_params_default();
  mp.chat_template = f.chat_family;
  mote_model* model = nullptr;
  ASSERT_EQ(mote_model_open(model_path.c_str(), &mp, &model), MOTE_OK) << f.name << ": " << mote_last_error();
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(model, &info), MOTE_OK) << f.name;

  const std::string rendered = render_chat(f, model);
  EXPECT_EQ(rendered, read_file_bytes(kHere + "golden/" + f.name + ".txt")) << f.name << ": rendered chat";
  const std::vector<int32_t> expected = parse_ids(read_file_bytes(kHere + "golden/" + f.name + ".ids"));
  const std::vector<int32_t> ids = tokenize_rendered(f, model, rendered);
  if (std::string(f.tokenizer) == kGgufDeepSeekLlm) check_gguf_vectors(model);
  EXPECT_EQ(ids, expected) << f.name << ": ids of the rendered chat\n  expected" << show(expected) << "\n  got     "
                           << show(ids);
#if MOTE_API_VERSION >= 2
  if (std::string(f.name) != "gpt_oss") {  // its rendered date is today's, the golden's is fixed
    EXPECT_EQ(chat_tokenize(f, model), expected) << f.name << ": mote_chat_tokenize";
  }
#endif
  generate_and_detokenize(f, model, rendered, info.vocab_size);
  mote_model_destroy(model);
  std::printf("[ %-11s ] checkpoint %.2f GB, .mote %.2f GB, vocab %d, %zu prompt ids; synth+convert %.1f s, "
              "total %.1f s\n",
              f.name, hf_bytes / 1e9, mote_bytes / 1e9, info.vocab_size, ids.size(), build_s, seconds_since(t0));
}

INSTANTIATE_TEST_SUITE_P(Families, RealShaped, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<Family>& i) { return std::string(i.param.name); });

}  // namespace
