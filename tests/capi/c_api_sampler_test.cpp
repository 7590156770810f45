// The token-level sampler (mote_sampler_*) and the one sampling default shared by the C API and
// the CLI, through libmote.so only: greedy is the argmax with ties to the lowest id, a seed fixes
// the stream and reset restarts it, the penalties subtract presence + frequency * count, bad
// input is a status naming the argument, and on real logits the sampler chooses what
// generation chooses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"
#include "mote/mote.hpp"

namespace fs = std::filesystem;

namespace {

class CApiSamplerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_sampler");
    path_ = (dir_ / "ds3_tiny.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o", path_,
                                      "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(mote_model_open(path_.c_str(), nullptr, &model_), MOTE_OK) << mote_last_error();
    mote_model_info info;
    ASSERT_EQ(mote_model_get_info(model_, &info), MOTE_OK);
    vocab_ = size_t(info.vocab_size);
  }
  static void TearDownTestSuite() {
    mote_model_destroy(model_);
    fs::remove_all(dir_);
  }

  static mote_sampler* make(const mote_sampling_params& p) {
    mote_sampler* s = nullptr;
    EXPECT_EQ(mote_sampler_create(model_, &p, &s), MOTE_OK) << mote_last_error();
    return s;
  }
  static int32_t sample(mote_sampler* s, const std::vector<float>& logits) {
    int32_t token = -1;
    EXPECT_EQ(mote_sampler_sample(s, logits.data(), logits.size(), &token), MOTE_OK) << mote_last_error();
    return token;
  }
  // Greedy generation through the C API; returns the generated ids.
  static std::vector<int32_t> generate_ids(const std::vector<int32_t>& prompt, const mote_sampling_params& sp, int n) {
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(model_, nullptr, &s), MOTE_OK) << mote_last_error();
    mote_generate_params p = mote_generate_params_default();
    p.sampling = sp;
    p.max_tokens = n;
    p.ignore_eos = 1;
    std::vector<int32_t> ids;
    auto collect = [](void* user, int32_t token, const char*, size_t) {
      static_cast<std::vector<int32_t>*>(user)->push_back(token);
      return 0;
    };
    EXPECT_EQ(mote_generate_tokens(s, prompt.data(), prompt.size(), &p, collect, &ids), MOTE_OK) << mote_last_error();
    mote_session_destroy(s);
    return ids;
  }
  static std::vector<int32_t> prompt_ids(const char* text) {
    std::vector<int32_t> ids(64);
    size_t n = 0;
    EXPECT_EQ(mote_tokenize(model_, text, std::strlen(text), 1, ids.data(), ids.size(), &n), MOTE_OK);
    ids.resize(n);
    return ids;
  }

  static inline fs::path dir_;
  static inline std::string path_;
  static inline mote_model* model_ = nullptr;
  static inline size_t vocab_ = 0;
};

mote_sampling_params greedy() {
  mote_sampling_params p = mote_sampling_params_default();
  p.temperature = 0;
  return p;
}

TEST_F(CApiSamplerTest, DefaultIsGreedyWithTheDocumentedFilters) {
  const mote_sampling_params p = mote_sampling_params_default();
  EXPECT_EQ(p.temperature, 0.0f);
  EXPECT_EQ(p.top_k, 40);
  EXPECT_EQ(p.top_p, 0.95f);
  EXPECT_EQ(p.min_p, 0.05f);
  EXPECT_EQ(p.repetition_penalty, 1.0f);
  EXPECT_EQ(p.presence_penalty, 0.0f);
  EXPECT_EQ(p.frequency_penalty, 0.0f);
  EXPECT_EQ(p.penalty_last_n, 64);
  EXPECT_EQ(p.seed, 0u);
  // And generation with it is deterministic without a seed being chosen.
  EXPECT_EQ(mote_generate_params_default().sampling.temperature, 0.0f);
  const std::vector<int32_t> prompt = prompt_ids("Hello");
  EXPECT_EQ(generate_ids(prompt, p, 12), generate_ids(prompt, p, 12));
}

TEST_F(CApiSamplerTest, GreedyIsTheArgmaxWithTiesToTheLowestId) {
  mote_sampler* s = make(mote_sampling_params_default());
  std::vector<float> logits(vocab_, 0.0f);
  logits[9] = 2.5f;
  logits[3] = 2.5f;
  logits[7] = 1.0f;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sample(s, logits), 3);  // no penalties by default: stable
  logits[vocab_ - 1] = 4.0f;
  EXPECT_EQ(sample(s, logits), int32_t(vocab_ - 1));
  std::vector<float> low(vocab_, -1e30f);  // finite but tiny everywhere: still a token
  low[5] = -1e29f;
  EXPECT_EQ(sample(s, low), 5);
  mote_sampler_destroy(s);
  mote_sampler_destroy(nullptr);  // no-op
}

TEST_F(CApiSamplerTest, SameSeedSameStreamAndResetRestartsIt) {
  mote_sampling_params p = mote_sampling_params_default();
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 42;
  std::vector<float> logits(vocab_);
  for (size_t i = 0; i < vocab_; ++i) logits[i] = 0.5f * std::sin(float(i) * 0.7f);  // a broad distribution
  auto draw = [&](mote_sampler* s) {
    std::vector<int32_t> out;
    for (int i = 0; i < 32; ++i) out.push_back(sample(s, logits));
    return out;
  };
  mote_sampler* a = make(p);
  mote_sampler* b = make(p);
  const std::vector<int32_t> first = draw(a);
  EXPECT_EQ(first, draw(b)) << "same seed, same sequence";
  EXPECT_NE(first, draw(a)) << "the stream moves on";
  ASSERT_EQ(mote_sampler_reset(a), MOTE_OK);
  EXPECT_EQ(first, draw(a)) << "reset restarts the stream from the seed";
  p.seed = 43;
  mote_sampler* c = make(p);
  EXPECT_NE(first, draw(c)) << "another seed, another sequence";
  for (int32_t t : first) EXPECT_TRUE(t >= 0 && size_t(t) < vocab_);
  mote_sampler_destroy(a);
  mote_sampler_destroy(b);
  mote_sampler_destroy(c);
}

TEST_F(CApiSamplerTest, PenaltiesSubtractPresenceOnceAndFrequencyPerOccurrence) {
  // logit -= presence + frequency * count, count over the window (accepted and sampled tokens).
  std::vector<float> logits(vocab_, 0.0f);
  logits[5] = 3.0f;
  logits[9] = 2.0f;
  mote_sampling_params p = greedy();
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.4f;
  mote_sampler* s = make(p);
  EXPECT_EQ(sample(s, logits), 5);  // 3.0 unpenalised; sampling accepts it (count 1)
  EXPECT_EQ(sample(s, logits), 5);  // 3.0 - (0.5 + 0.4) = 2.1 > 2.0; count 2
  EXPECT_EQ(sample(s, logits), 9);  // 3.0 - (0.5 + 0.8) = 1.7 < 2.0
  ASSERT_EQ(mote_sampler_reset(s), MOTE_OK);
  EXPECT_EQ(sample(s, logits), 5) << "reset empties the penalty window";
  ASSERT_EQ(mote_sampler_reset(s), MOTE_OK);
  const int32_t prompt[] = {5, 5};
  ASSERT_EQ(mote_sampler_accept(s, prompt, 2), MOTE_OK);
  EXPECT_EQ(sample(s, logits), 9) << "accepted prompt tokens count like sampled ones";
  mote_sampler_destroy(s);

  // Frequency alone: one occurrence of 5 at 1.5 leaves 1.5 < 2.0; presence alone at 0.5 does not.
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 1.5f;
  s = make(p);
  ASSERT_EQ(mote_sampler_accept(s, prompt, 1), MOTE_OK);
  EXPECT_EQ(sample(s, logits), 9);
  mote_sampler_destroy(s);
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.0f;
  s = make(p);
  ASSERT_EQ(mote_sampler_accept(s, prompt, 2), MOTE_OK);
  EXPECT_EQ(sample(s, logits), 5) << "presence is subtracted once, whatever the count";
  mote_sampler_destroy(s);

  // The window: penalty_last_n 1 only sees the last token.
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 1.5f;
  p.penalty_last_n = 1;
  s = make(p);
  const int32_t old_then_new[] = {5, 7};
  ASSERT_EQ(mote_sampler_accept(s, old_then_new, 2), MOTE_OK);
  EXPECT_EQ(sample(s, logits), 5);
  mote_sampler_destroy(s);
}

TEST_F(CApiSamplerTest, NonFiniteLogitsAreAStatusAndChooseNothing) {
  mote_sampling_params p = greedy();
  p.frequency_penalty = 100.0f;  // a wrongly accepted token would show in the next choice
  mote_sampler* s = make(p);
  std::vector<float> logits(vocab_, 0.0f);
  logits[4] = 1.0f;
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> row = logits;
    row[vocab_ / 2] = bad;
    int32_t token = -7;
    EXPECT_EQ(mote_sampler_sample(s, row.data(), row.size(), &token), MOTE_ERR_NON_FINITE);
    EXPECT_NE(std::string(mote_last_error()).find("non-finite"), std::string::npos) << mote_last_error();
    EXPECT_EQ(token, -7) << "out_token untouched";
  }
  EXPECT_EQ(sample(s, logits), 4) << "nothing entered the penalty window";
  mote_sampler_destroy(s);
}

TEST_F(CApiSamplerTest, BadArgumentsAreStatusesNamingTheArgument) {
  auto error_has = [](const char* what) { return std::string(mote_last_error()).find(what) != std::string::npos; };
  mote_sampler* s = nullptr;
  EXPECT_EQ(mote_sampler_create(model_, nullptr, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("out_sampler")) << mote_last_error();
  EXPECT_EQ(mote_sampler_create(nullptr, nullptr, &s), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("model")) << mote_last_error();
  EXPECT_EQ(s, nullptr);
  mote_sampling_params bad = mote_sampling_params_default();
  bad.top_p = 2.0f;
  s = reinterpret_cast<mote_sampler*>(&bad);  // must be reset to NULL on failure
  EXPECT_EQ(mote_sampler_create(model_, &bad, &s), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("top_p")) << mote_last_error();
  EXPECT_EQ(s, nullptr);
  bad = mote_sampling_params_default();
  bad.frequency_penalty = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(mote_sampler_create(model_, &bad, &s), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("frequency_penalty")) << mote_last_error();

  ASSERT_EQ(mote_sampler_create(model_, nullptr, &s), MOTE_OK) << "NULL params: the defaults";
  std::vector<float> logits(vocab_ + 1, 0.0f);
  int32_t token = -1;
  EXPECT_EQ(mote_sampler_sample(s, logits.data(), vocab_ + 1, &token), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("n_logits") && error_has(std::to_string(vocab_).c_str())) << mote_last_error();
  EXPECT_EQ(mote_sampler_sample(s, logits.data(), vocab_ - 1, &token), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mote_sampler_sample(s, logits.data(), 0, &token), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mote_sampler_sample(s, nullptr, vocab_, &token), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("logits")) << mote_last_error();
  EXPECT_EQ(mote_sampler_sample(s, logits.data(), vocab_, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("out_token")) << mote_last_error();
  EXPECT_EQ(mote_sampler_sample(nullptr, logits.data(), vocab_, &token), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("sampler")) << mote_last_error();
  EXPECT_EQ(token, -1);

  EXPECT_EQ(mote_sampler_accept(s, nullptr, 0), MOTE_OK) << "nothing to accept";
  EXPECT_EQ(mote_sampler_accept(s, nullptr, 2), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(error_has("ids")) << mote_last_error();
  const int32_t out_of_vocab[] = {1, int32_t(vocab_)};
  EXPECT_EQ(mote_sampler_accept(s, out_of_vocab, 2), MOTE_ERR_INVALID_ARGUMENT);
  const int32_t negative[] = {-1};
  EXPECT_EQ(mote_sampler_accept(s, negative, 1), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mote_sampler_accept(nullptr, negative, 1), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mote_sampler_reset(nullptr), MOTE_ERR_INVALID_ARGUMENT);
  mote_sampler_destroy(s);
}

TEST_F(CApiSamplerTest, CppWrapperSamplerHandle) {
  mote::ModelHandle model(path_);
  mote_sampling_params p = greedy();
  p.frequency_penalty = 1.5f;
  mote::SamplerHandle s(model, p);
  std::vector<float> logits(vocab_, 0.0f);
  logits[5] = 3.0f;
  logits[9] = 2.0f;
  s.accept({5});
  EXPECT_EQ(s.sample(logits), 9);
  s.reset();
  EXPECT_EQ(s.sample(logits), 5);
  logits.pop_back();
  try {
    s.sample(logits);
    ADD_FAILURE() << "a short row must throw";
  } catch (const mote::Error& e) {
    EXPECT_EQ(e.status(), MOTE_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("n_logits"), std::string::npos) << e.what();
  }
  EXPECT_EQ(mote::api_version(), MOTE_API_VERSION);
}

// On the model's real logits the sampler chooses what generation chooses: teacher forcing with
// the logits `mote logits --mode decode` writes for prompt + generated ids, greedy and with
// penalties (which also checks that generation puts the prompt in the penalty window as
// mote_sampler_accept does).
TEST_F(CApiSamplerTest, SamplerOnRealLogitsChoosesWhatGenerationChooses) {
#ifndef MOTE_CLI_BIN
  GTEST_SKIP() << "the mote CLI is not built";
#else
  if (!fs::exists(MOTE_CLI_BIN)) GTEST_SKIP() << "the mote CLI is not built";
  const std::vector<int32_t> prompt = prompt_ids("The model");
  mote_sampling_params penalised = greedy();
  penalised.frequency_penalty = 0.7f;
  penalised.presence_penalty = 0.3f;
  penalised.repetition_penalty = 1.3f;
  for (const mote_sampling_params& sp : {greedy(), penalised}) {
    const int n = 16;
    const std::vector<int32_t> generated = generate_ids(prompt, sp, n);
    ASSERT_EQ(generated.size(), size_t(n));
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    std::string ids;
    for (size_t i = 0; i < all.size(); ++i) ids += (i ? "," : "") + std::to_string(all[i]);
    const std::string out = (dir_ / "logits.f32").string();
    auto r = mote::test::run_command({MOTE_CLI_BIN, "logits", path_, "--ids", ids, "--out", out, "--mode", "decode"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string bytes = mote::test::read_file_bytes(out);
    ASSERT_EQ(bytes.size(), all.size() * vocab_ * sizeof(float));
    mote_sampler* s = make(sp);
    ASSERT_EQ(mote_sampler_accept(s, prompt.data(), prompt.size()), MOTE_OK);
    for (size_t i = 0; i < generated.size(); ++i) {
      std::vector<float> row(vocab_);
      std::memcpy(row.data(), bytes.data() + (prompt.size() - 1 + i) * vocab_ * sizeof(float), vocab_ * sizeof(float));
      EXPECT_EQ(sample(s, row), generated[i]) << "token " << i << " (penalties " << sp.frequency_penalty << ")";
    }
    mote_sampler_destroy(s);
  }
#endif
}

// The same through mote_session_eval: a token-level loop equals mote_generate_tokens at
// temperature 0, penalties included.
TEST_F(CApiSamplerTest, TokenLevelLoopEqualsGenerateTokens) {
  const std::vector<int32_t> prompt = prompt_ids("Once upon");
  mote_sampling_params sp = greedy();
  sp.frequency_penalty = 0.5f;
  const int n = 12;
  const std::vector<int32_t> expected = generate_ids(prompt, sp, n);
  mote_session_params session_params = mote_session_params_default();
  session_params.mtp = 0;
  mote_session* session = nullptr;
  ASSERT_EQ(mote_session_create(model_, &session_params, &session), MOTE_OK);
  mote_sampler* s = make(sp);
  ASSERT_EQ(mote_sampler_accept(s, prompt.data(), prompt.size()), MOTE_OK);
  std::vector<float> logits(vocab_);
  ASSERT_EQ(mote_session_eval(session, prompt.data(), prompt.size(), 0, logits.data(), logits.size()), MOTE_OK)
      << mote_last_error();
  std::vector<int32_t> got;
  for (int i = 0; i < n; ++i) {
    int32_t token = -1;
    ASSERT_EQ(mote_sampler_sample(s, logits.data(), logits.size(), &token), MOTE_OK) << mote_last_error();
    got.push_back(token);
    if (i + 1 == n) break;
    ASSERT_EQ(mote_session_eval(session, &token, 1, 0, logits.data(), logits.size()), MOTE_OK) << mote_last_error();
  }
  EXPECT_EQ(got, expected);
  mote_sampler_destroy(s);
  mote_session_destroy(session);
}

// mote.hpp's session wrappers over the API version 3 calls: the same loop with eval and
// SamplerHandle, tokens/truncate, generate with a callback that stops or throws, chat_generate,
// save/load.
TEST_F(CApiSamplerTest, CppWrapperSessionCalls) {
  EXPECT_FALSE(mote::version().empty());
  mote::set_log_callback(nullptr);  // stderr, as by default
  mote::ModelHandle model(path_);
  mote_session_params sp = mote_session_params_default();
  sp.mtp = 0;
  mote::SessionHandle session(model, sp);
  const std::vector<int32_t> prompt = model.tokenize("Once upon");
  mote_generate_params gp = mote_generate_params_default();
  gp.max_tokens = 6;
  gp.ignore_eos = 1;
  std::vector<int32_t> streamed;
  session.generate_tokens(prompt, gp, [&](int32_t token, std::string_view) {
    streamed.push_back(token);
    return true;
  });
  ASSERT_EQ(streamed.size(), 6u);
  std::vector<int32_t> expected = prompt;
  expected.insert(expected.end(), streamed.begin(), streamed.end());
  EXPECT_EQ(session.tokens(), expected) << "prompt + generated, the last one pending";

  mote::SessionHandle manual(model, sp);
  mote::SamplerHandle sampler(model);
  std::vector<float> logits = manual.eval(prompt);
  ASSERT_EQ(logits.size(), vocab_);
  std::vector<int32_t> got;
  for (size_t i = 0; i < streamed.size(); ++i) {
    got.push_back(sampler.sample(logits));
    if (i + 1 < streamed.size()) logits = manual.eval({got.back()});
  }
  EXPECT_EQ(got, streamed);
  const std::vector<float> rows = manual.eval({1, 2, 3}, true);
  EXPECT_EQ(rows.size(), 3 * vocab_);

  const std::string saved = (dir_ / "wrapper.session").string();
  session.save(saved);
  mote::SessionHandle restored(model, sp);
  restored.load(saved);
  EXPECT_EQ(restored.tokens(), expected);
  restored.truncate(prompt.size());
  EXPECT_EQ(restored.tokens(), prompt);

  int calls = 0;
  session.generate(" more", gp, [&](int32_t, std::string_view) { return ++calls < 2; });
  EXPECT_EQ(calls, 2) << "returning false stops without an exception";
  EXPECT_EQ(session.stats().stop_reason, MOTE_STOP_CANCELLED);
  EXPECT_THROW(session.generate(" again", gp, [](int32_t, std::string_view) -> bool { throw std::out_of_range("x"); }),
               std::out_of_range)
      << "the callback's exception comes back after the C call returned";
  gp.sampling.top_p = 2.0f;
  EXPECT_THROW(session.generate("x", gp), mote::Error);

  mote::SessionHandle chat(model, sp);
  gp = mote_generate_params_default();
  gp.max_tokens = 4;
  gp.ignore_eos = 1;
  chat.chat_generate({{"user", "Hi"}}, gp);
  EXPECT_EQ(chat.stats().last_generated_tokens, 4);
}

// The CLI without --temp and the C API with its defaults give the same text; with --temp T the
// CLI's filters are the C API's defaults (top-k 40, top-p 0.95, min-p 0.05), so a seeded sample
// matches too.
TEST_F(CApiSamplerTest, CliAndCApiShareTheSamplingDefault) {
#ifndef MOTE_CLI_BIN
  GTEST_SKIP() << "the mote CLI is not built";
#else
  if (!fs::exists(MOTE_CLI_BIN)) GTEST_SKIP() << "the mote CLI is not built";
  const char* prompt = "Hello, world";
  auto c_api = [&](const mote_sampling_params& sp) {
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(model_, nullptr, &s), MOTE_OK);
    mote_generate_params p = mote_generate_params_default();
    p.sampling = sp;
    p.max_tokens = 24;
    p.ignore_eos = 1;
    std::string text;
    auto append = [](void* user, int32_t, const char* t, size_t len) {
      static_cast<std::string*>(user)->append(t, len);
      return 0;
    };
    EXPECT_EQ(mote_generate(s, prompt, std::strlen(prompt), &p, append, &text), MOTE_OK) << mote_last_error();
    mote_session_destroy(s);
    return text + "\n";  // the CLI ends its output with a newline
  };
  const std::vector<std::string> cli = {MOTE_CLI_BIN, "run", path_, "-p", prompt, "-n", "24", "--ignore-eos"};
  auto r = mote::test::run_command(cli);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string greedy_text = c_api(mote_sampling_params_default());
  EXPECT_EQ(r.out, greedy_text);

  std::vector<std::string> sampled = cli;
  sampled.insert(sampled.end(), {"--temp", "1.5", "--seed", "11"});
  r = mote::test::run_command(sampled);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  mote_sampling_params sp = mote_sampling_params_default();
  sp.temperature = 1.5f;
  sp.seed = 11;
  const std::string sampled_text = c_api(sp);
  EXPECT_EQ(r.out, sampled_text);
  EXPECT_NE(sampled_text, greedy_text) << "a 24-token sample at T=1.5 should differ from greedy";
  sp.top_k = 0;  // the filters matter: without them the same seed draws differently
  sp.top_p = 1.0f;
  sp.min_p = 0.0f;
  EXPECT_NE(c_api(sp), sampled_text);
#endif
}

}  // namespace
