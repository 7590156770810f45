// Conversations through libmote.so only, on the bundled demo model (DeepSeek-V3 layout with an
// MTP module, its real BPE tokenizer and chat template), converted at q8_0:
// - no token is lost between calls; truncation and prefix reuse equal a fresh session;
// - a 5-turn chat evaluates only each new turn's tokens and ends bit-identical to a fresh session
//   given the whole conversation;
// - saved sessions resume with zero re-evaluation and identical output; foreign, corrupt and
//   truncated files are refused without touching the session;
// - the context policies; the token-level call; counters and stop reasons survive a cancel.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

struct Reply {
  std::string text;
  std::vector<int32_t> ids;
};

int collect(void* user, int32_t token, const char* text, size_t len) {
  auto* r = static_cast<Reply*>(user);
  r->text.append(text, len);
  if (token >= 0) r->ids.push_back(token);
  return 0;
}

class ConversationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_conversation");
    path_ = (dir_ / "demo.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(mote_model_open(path_.c_str(), nullptr, &model_), MOTE_OK) << mote_last_error();
    other_ = (dir_ / "other.mote").string();
    r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", other_, "--weights", "f32", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    mote_model_destroy(model_);
    fs::remove_all(dir_);
  }

  static mote_session* session(int mtp, int max_context = 1024, mote_context_policy policy = MOTE_CONTEXT_ERROR,
                               int n_keep = 0, mote_model* model = nullptr) {
    mote_session_params p = mote_session_params_default();
    p.mtp = mtp;
    p.max_context = max_context;
    p.context_policy = policy;
    p.n_keep = n_keep;
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(model ? model : model_, &p, &s), MOTE_OK) << mote_last_error();
    return s;
  }
  static mote_generate_params greedy(int n) {
    mote_generate_params p = mote_generate_params_default();
    p.max_tokens = n;
    p.ignore_eos = 1;
    return p;
  }
  static Reply gen_ids(mote_session* s, const std::vector<int32_t>& ids, int n, mote_status expect = MOTE_OK) {
    Reply r;
    const mote_generate_params p = greedy(n);
    EXPECT_EQ(mote_generate_tokens(s, ids.data(), ids.size(), &p, collect, &r), expect) << mote_last_error();
    return r;
  }
  static std::vector<int32_t> tokens(const mote_session* s) {
    size_t n = 0;
    mote_session_get_tokens(s, nullptr, 0, &n);
    std::vector<int32_t> ids(n);
    EXPECT_EQ(mote_session_get_tokens(s, ids.data(), ids.size(), &n), MOTE_OK) << mote_last_error();
    return ids;
  }
  static std::vector<int32_t> tokenize(const std::string& text, bool bos) {
    std::vector<int32_t> ids(text.size() + 8);
    size_t n = 0;
    EXPECT_EQ(mote_tokenize_ex(model_, text.data(), text.size(), bos, 1, ids.data(), ids.size(), &n), MOTE_OK);
    ids.resize(n);
    return ids;
  }
  static mote_stats stats(const mote_session* s) {
    mote_stats st{};
    EXPECT_EQ(mote_session_get_stats(s, &st), MOTE_OK);
    return st;
  }
  static std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  static inline fs::path dir_;
  static inline std::string path_, other_;
  static inline mote_model* model_ = nullptr;
};

TEST_F(ConversationTest, NoTokenIsLostBetweenCalls) {
  for (int mtp : {0, 1}) {
    SCOPED_TRACE(mtp ? "with MTP" : "without MTP");
    mote_session* a = session(mtp);
    const std::vector<int32_t> prompt = tokenize("Once upon", true), more = tokenize(" and then", false);
    const Reply first = gen_ids(a, prompt, 5);
    ASSERT_EQ(first.ids.size(), 5u);
    // Every prompt token and all 5 generated ones, the last one pending (it used to be lost).
    EXPECT_EQ(stats(a).context_tokens, int64_t(prompt.size()) + 5);
    EXPECT_EQ(tokens(a), concat(prompt, first.ids));
    const Reply second = gen_ids(a, more, 6);
    EXPECT_EQ(stats(a).last_prompt_tokens, int64_t(more.size()) + 1);  // the pending token + the new ids
    // A fresh session given everything at once continues the same way.
    mote_session* b = session(mtp);
    const Reply whole = gen_ids(b, concat(concat(prompt, first.ids), more), 6);
    EXPECT_EQ(second.ids, whole.ids);
    EXPECT_EQ(tokens(a), tokens(b));
    mote_session_destroy(a);
    mote_session_destroy(b);
  }
}

TEST_F(ConversationTest, TruncateThenContinueEqualsAFreshSession) {
  const std::vector<int32_t> prompt = tokenize("The little robot walked to the", true);
  const std::vector<int32_t> tail = tokenize(" park", false);
  for (int mtp : {0, 1}) {
    for (size_t cut : {size_t(0), size_t(1), size_t(9), size_t(17)}) {  // tokens dropped from the end
      SCOPED_TRACE(std::string(mtp ? "with MTP" : "without MTP") + ", dropping " + std::to_string(cut));
      mote_session* a = session(mtp);
      gen_ids(a, prompt, 12);
      const std::vector<int32_t> all = tokens(a);
      const size_t keep = all.size() - cut;
      ASSERT_EQ(mote_session_truncate(a, keep), MOTE_OK) << mote_last_error();
      ASSERT_EQ(tokens(a), std::vector<int32_t>(all.begin(), all.begin() + std::ptrdiff_t(keep)));
      const Reply cont = gen_ids(a, tail, 6);
      mote_session* b = session(mtp);
      const Reply fresh = gen_ids(b, concat({all.begin(), all.begin() + std::ptrdiff_t(keep)}, tail), 6);
      EXPECT_EQ(cont.ids, fresh.ids);
      EXPECT_EQ(mote_session_truncate(a, tokens(a).size() + 1), MOTE_ERR_INVALID_ARGUMENT);
      mote_session_destroy(a);
      mote_session_destroy(b);
    }
  }
}

TEST_F(ConversationTest, FiveTurnChatEvaluatesOnlyEachNewTurn) {
  const char* users[] = {"Tell me a story about a cat.", "What was the cat's name?", "Where did it live?",
                         "Did it have friends?", "How does the story end?"};
  mote_session* chat = session(1, 2048);
  std::vector<std::string> roles = {"system"}, contents = {"You are a helpful storyteller."};
  int64_t previous_tokens = 0;
  Reply last;
  for (int turn = 0; turn < 5; ++turn) {
    roles.push_back("user");
    contents.push_back(users[turn]);
    std::vector<mote_chat_message> msgs;
    for (size_t i = 0; i < roles.size(); ++i) msgs.push_back({roles[i].c_str(), contents[i].c_str()});
    size_t rendered = 0;
    mote_chat_tokenize(model_, msgs.data(), msgs.size(), 1, nullptr, 0, &rendered);
    last = Reply{};
    const mote_generate_params p = greedy(24);
    ASSERT_EQ(mote_chat_generate(chat, msgs.data(), msgs.size(), &p, collect, &last), MOTE_OK) << mote_last_error();
    const mote_stats st = stats(chat);
    std::printf("[chat] turn %d: conversation %zu tokens, evaluated %lld (reused %lld), reply %lld tokens\n", turn + 1,
                rendered, (long long)st.last_prompt_tokens, (long long)st.last_reused_tokens,
                (long long)st.last_generated_tokens);
    // Everything the session held is reused except where the template's rendering of the reply
    // text tokenizes differently from the generated ids (a few tokens at the reply's end).
    EXPECT_GE(st.last_reused_tokens, previous_tokens - 4) << "turn " << turn + 1;
    EXPECT_EQ(st.last_reused_tokens + st.last_prompt_tokens, int64_t(rendered));
    if (turn > 0) {
      EXPECT_LT(st.last_prompt_tokens, int64_t(rendered) / 2);
    }
    previous_tokens = st.context_tokens;
    roles.push_back("assistant");
    contents.push_back(last.text);
  }
  // A fresh session given the whole conversation (the same 5th-turn request) replies identically.
  roles.pop_back();
  contents.pop_back();
  std::vector<mote_chat_message> msgs;
  for (size_t i = 0; i < roles.size(); ++i) msgs.push_back({roles[i].c_str(), contents[i].c_str()});
  mote_session* fresh = session(1, 2048);
  Reply again;
  const mote_generate_params p = greedy(24);
  ASSERT_EQ(mote_chat_generate(fresh, msgs.data(), msgs.size(), &p, collect, &again), MOTE_OK) << mote_last_error();
  EXPECT_EQ(again.ids, last.ids);
  EXPECT_EQ(again.text, last.text);
  EXPECT_EQ(tokens(fresh), tokens(chat));
  mote_session_destroy(chat);
  mote_session_destroy(fresh);
}

TEST_F(ConversationTest, SavedSessionResumesWithoutReEvaluation) {
  for (int mtp : {0, 1}) {
    SCOPED_TRACE(mtp ? "with MTP" : "without MTP");
    mote_session* a = session(mtp);
    gen_ids(a, tokenize("In a small village there lived", true), 40);
    const std::string file = (dir_ / ("saved" + std::to_string(mtp) + ".session")).string();
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(mote_session_save(a, file.c_str()), MOTE_OK) << mote_last_error();
    const auto t1 = std::chrono::steady_clock::now();
    for (const auto& e : fs::directory_iterator(dir_))
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "temporary file left behind";
    mote_session* b = session(mtp);
    ASSERT_EQ(mote_session_load(b, file.c_str()), MOTE_OK) << mote_last_error();
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("[session] %zu tokens: file %llu bytes, save %.2f ms, load %.2f ms\n", tokens(a).size(),
                (unsigned long long)fs::file_size(file), std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count());
    EXPECT_EQ(tokens(b), tokens(a));
    const std::vector<int32_t> more = tokenize(" a very old", false);
    const Reply ra = gen_ids(a, more, 16), rb = gen_ids(b, more, 16);
    EXPECT_EQ(ra.ids, rb.ids);
    EXPECT_EQ(ra.text, rb.text);
    // Zero re-evaluation: the loaded session evaluated only the pending token and the new ids.
    EXPECT_EQ(stats(b).last_prompt_tokens, int64_t(more.size()) + 1);
    EXPECT_EQ(stats(b).prompt_tokens, int64_t(more.size()) + 1);
    mote_session_destroy(a);
    mote_session_destroy(b);
  }
}

TEST_F(ConversationTest, BadSessionFilesAreRefusedAndLeaveTheSessionAlone) {
  mote_session* a = session(1);
  gen_ids(a, tokenize("Hello there", true), 10);
  const std::string file = (dir_ / "good.session").string();
  ASSERT_EQ(mote_session_save(a, file.c_str()), MOTE_OK) << mote_last_error();
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& name, const std::string& content) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  };
  mote_session* b = session(1);
  gen_ids(b, tokenize("Other words", true), 3);
  const std::vector<int32_t> before = tokens(b);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  struct Case {
    std::string path;
    mote_status status;
    const char* words;
  } cases[] = {
      {write("flipped.session", flipped), MOTE_ERR_CORRUPT_FILE, "checksum"},
      {write("short.session", bytes.substr(0, bytes.size() - 100)), MOTE_ERR_CORRUPT_FILE, "size"},
      {write("header.session", bytes.substr(0, 40)), MOTE_ERR_CORRUPT_FILE, "truncated"},
      {write("empty.session", ""), MOTE_ERR_CORRUPT_FILE, "truncated"},
      {write("text.session", std::string(200, 'x')), MOTE_ERR_CORRUPT_FILE, "magic"},
      {(dir_ / "missing.session").string(), MOTE_ERR_NOT_FOUND, "missing.session"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(mote_session_load(b, c.path.c_str()), c.status) << c.path;
    EXPECT_NE(std::string(mote_last_error()).find(c.words), std::string::npos) << mote_last_error();
    EXPECT_EQ(tokens(b), before);
  }
  // Another model file (same architecture, other weights) is refused by identity.
  mote_model* other = nullptr;
  ASSERT_EQ(mote_model_open(other_.c_str(), nullptr, &other), MOTE_OK) << mote_last_error();
  mote_session* c = session(1, 1024, MOTE_CONTEXT_ERROR, 0, other);
  EXPECT_EQ(mote_session_load(c, file.c_str()), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("another model"), std::string::npos) << mote_last_error();
  // Too small a context for the saved tokens.
  mote_session* tiny = session(1, 8);
  EXPECT_EQ(mote_session_load(tiny, file.c_str()), MOTE_ERR_OUT_OF_RANGE) << mote_last_error();
  mote_session_destroy(tiny);
  mote_session_destroy(c);
  mote_model_destroy(other);
  mote_session_destroy(a);
  mote_session_destroy(b);
}

TEST_F(ConversationTest, ContextPolicies) {
  const std::vector<int32_t> prompt = tokenize("Once upon a time there was", true);
  mote_session* strict = session(1, 48);
  gen_ids(strict, prompt, 100, MOTE_ERR_OUT_OF_RANGE);
  EXPECT_NE(std::string(mote_last_error()).find("max_context"), std::string::npos) << mote_last_error();
  for (int mtp : {0, 1}) {
    SCOPED_TRACE(mtp ? "with MTP" : "without MTP");
    mote_session* s = session(mtp, 48, MOTE_CONTEXT_SHIFT, 4);
    const Reply r = gen_ids(s, prompt, 100);
    EXPECT_EQ(r.ids.size(), 100u);
    const mote_stats st = stats(s);
    EXPECT_GT(st.context_shifts, 0);
    EXPECT_LE(st.context_tokens, 49);
    const std::vector<int32_t> held = tokens(s);
    EXPECT_EQ(std::vector<int32_t>(held.begin(), held.begin() + 4), std::vector<int32_t>(prompt.begin(), prompt.begin() + 4));
    // After a shift the session equals a fresh one fed the shortened sequence: the last token was
    // chosen from the shifted context, so a fresh session on that context chooses it too.
    mote_session* fresh = session(0, 1024);
    mote_model_info info;
    ASSERT_EQ(mote_model_get_info(model_, &info), MOTE_OK);
    std::vector<float> logits(size_t(info.vocab_size));
    ASSERT_EQ(mote_session_eval(fresh, held.data(), held.size() - 1, 0, logits.data(), logits.size()), MOTE_OK);
    mote_sampling_params sp = mote_sampling_params_default();
    mote_sampler* sampler = nullptr;
    ASSERT_EQ(mote_sampler_create(model_, &sp, &sampler), MOTE_OK);
    int32_t token = -1;
    ASSERT_EQ(mote_sampler_sample(sampler, logits.data(), logits.size(), &token), MOTE_OK);
    EXPECT_EQ(token, held.back());
    mote_sampler_destroy(sampler);
    mote_session_destroy(fresh);
    mote_session_destroy(s);
  }
  mote_session_destroy(strict);
}

TEST_F(ConversationTest, TokenLevelEvalMatchesGeneration) {
  mote_model_info info;
  ASSERT_EQ(mote_model_get_info(model_, &info), MOTE_OK);
  const size_t V = size_t(info.vocab_size);
  const std::vector<int32_t> prompt = tokenize("The sun rose over the hills", true);
  mote_session* s = session(0);
  std::vector<float> all(prompt.size() * V), last(V);
  EXPECT_EQ(mote_session_eval(s, prompt.data(), prompt.size(), 1, all.data(), all.size() - 1), MOTE_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(tokens(s).size(), 0u);  // refused before any work
  ASSERT_EQ(mote_session_eval(s, prompt.data(), prompt.size(), 1, all.data(), all.size()), MOTE_OK) << mote_last_error();
  // Greedy sampling on the last row is what generation picks first.
  mote_sampling_params sp = mote_sampling_params_default();
  mote_sampler* sampler = nullptr;
  ASSERT_EQ(mote_sampler_create(model_, &sp, &sampler), MOTE_OK) << mote_last_error();
  int32_t token = -1;
  ASSERT_EQ(mote_sampler_sample(sampler, all.data() + (prompt.size() - 1) * V, V, &token), MOTE_OK);
  mote_session* g = session(0);
  EXPECT_EQ(gen_ids(g, prompt, 1).ids, std::vector<int32_t>{token});
  // Last-position logits of one more token equal the all-positions row of a fresh evaluation.
  ASSERT_EQ(mote_session_eval(s, &token, 1, 0, last.data(), last.size()), MOTE_OK);
  mote_session* f = session(0);
  const std::vector<int32_t> longer = concat(prompt, {token});
  std::vector<float> rows(longer.size() * V);
  ASSERT_EQ(mote_session_eval(f, longer.data(), longer.size(), 1, rows.data(), rows.size()), MOTE_OK);
  for (size_t i = 0; i < V; ++i) ASSERT_NEAR(last[i], rows[prompt.size() * V + i], 1e-4f) << i;
  EXPECT_EQ(mote_session_eval(s, nullptr, 0, 0, nullptr, 0), MOTE_ERR_INVALID_ARGUMENT);
  const int32_t bad = int32_t(V);
  EXPECT_EQ(mote_session_eval(s, &bad, 1, 0, nullptr, 0), MOTE_ERR_INVALID_ARGUMENT);
  mote_sampler_destroy(sampler);
  mote_session_destroy(s);
  mote_session_destroy(g);
  mote_session_destroy(f);
}

TEST_F(ConversationTest, CancelKeepsCountersAndStopReasonsAreReported) {
  mote_session* s = session(1);
  Reply r;
  struct Ctx {
    Reply* r;
    int n;
  } ctx{&r, 0};
  auto cancel_at_10 = [](void* user, int32_t token, const char* text, size_t len) {
    auto* c = static_cast<Ctx*>(user);
    collect(c->r, token, text, len);
    return ++c->n >= 10 ? 1 : 0;
  };
  const std::vector<int32_t> prompt = tokenize("A long time ago", true);
  const mote_generate_params p = greedy(40);
  EXPECT_EQ(mote_generate_tokens(s, prompt.data(), prompt.size(), &p, cancel_at_10, &ctx), MOTE_ERR_CANCELLED);
  mote_stats st = stats(s);
  EXPECT_EQ(st.stop_reason, MOTE_STOP_CANCELLED);
  EXPECT_EQ(st.generated_tokens, 10);
  EXPECT_EQ(st.last_generated_tokens, 10);
  EXPECT_GT(st.decode_tok_s, 0.0);
  EXPECT_EQ(st.context_tokens, int64_t(prompt.size()) + 10);  // the reply so far stays in the session
  gen_ids(s, tokenize(" more", false), 5);
  EXPECT_EQ(stats(s).stop_reason, MOTE_STOP_MAX_TOKENS);
  mote_generate_params stop = greedy(200);
  const char* stops[] = {" "};
  stop.stop = stops;
  stop.n_stop = 1;
  Reply unused;
  ASSERT_EQ(mote_generate_tokens(s, prompt.data(), 1, &stop, collect, &unused), MOTE_OK) << mote_last_error();
  EXPECT_EQ(stats(s).stop_reason, MOTE_STOP_STRING);
  mote_session_destroy(s);
}

}  // namespace

namespace {

TEST_F(ConversationTest, EosTokensAndDraftCounters) {
  mote_model_info info;
  ASSERT_EQ(mote_model_get_info(model_, &info), MOTE_OK);
  size_t n = 0;
  ASSERT_EQ(mote_model_get_eos_tokens(model_, nullptr, 0, &n), info.eos_token >= 0 ? MOTE_ERR_BUFFER_TOO_SMALL : MOTE_OK);
  std::vector<int32_t> eos(n);
  ASSERT_EQ(mote_model_get_eos_tokens(model_, eos.data(), eos.size(), &n), MOTE_OK) << mote_last_error();
  ASSERT_GE(n, 1u);
  EXPECT_EQ(eos[0], info.eos_token);
  EXPECT_EQ(mote_model_get_eos_tokens(nullptr, eos.data(), eos.size(), &n), MOTE_ERR_INVALID_ARGUMENT);
  // Speculative decoding with the MTP module reports its drafts; a plain session none. (Always
  // drafting: an adaptive session may start from an earlier session's estimates and not draft.)
  for (int mtp : {int(MOTE_MTP_OFF), int(MOTE_MTP_ALWAYS)}) {
    mote_session* s = session(mtp);
    gen_ids(s, tokenize("Once upon a time", true), 32);
    const mote_stats st = stats(s);
    if (mtp) {
      EXPECT_GT(st.draft_steps, 0);
      EXPECT_LE(st.drafts_accepted, st.draft_steps);
    } else {
      EXPECT_EQ(st.draft_steps, 0);
    }
    ASSERT_EQ(mote_session_reset(s), MOTE_OK);
    EXPECT_EQ(stats(s).draft_steps, 0);
    mote_session_destroy(s);
  }
}

// mote_session_params.mtp: MOTE_MTP_OFF, MOTE_MTP_ADAPTIVE (default) and MOTE_MTP_ALWAYS give the
// same greedy tokens; ALWAYS drafts every step, ADAPTIVE reports its decision and estimates
// (API version 5 fields), and a reset clears the counters but keeps the estimates.
TEST_F(ConversationTest, DraftModesAndTheirStats) {
  EXPECT_EQ(mote_session_params_default().mtp, MOTE_MTP_ADAPTIVE);
  // A model of its own: a new session starts from what the model's last adaptive session
  // measured (checked at the end), and this test needs the first session's bootstrap.
  mote_model* fresh = nullptr;
  ASSERT_EQ(mote_model_open(path_.c_str(), nullptr, &fresh), MOTE_OK) << mote_last_error();
  const std::vector<int32_t> prompt = tokenize("Once upon a time", true);
  std::vector<int32_t> ids[3];
  mote_stats st[3];
  const int modes[3] = {MOTE_MTP_OFF, MOTE_MTP_ADAPTIVE, MOTE_MTP_ALWAYS};
  for (int m = 0; m < 3; ++m) {
    mote_session* s = session(modes[m], 1024, MOTE_CONTEXT_ERROR, 0, fresh);
    ids[m] = gen_ids(s, prompt, 96).ids;
    st[m] = stats(s);
    if (modes[m] == MOTE_MTP_ADAPTIVE) {
      ASSERT_EQ(mote_session_reset(s), MOTE_OK);
      const mote_stats after = stats(s);
      EXPECT_EQ(after.draft_skipped, 0);
      EXPECT_EQ(after.draft_probes, 0);
      EXPECT_EQ(after.draft_acceptance, st[m].draft_acceptance);  // estimates survive a reset
    }
    mote_session_destroy(s);
  }
  EXPECT_EQ(ids[1], ids[0]);
  EXPECT_EQ(ids[2], ids[0]);
  EXPECT_EQ(st[0].draft_steps + st[0].draft_skipped, 0);
  EXPECT_EQ(st[0].draft_speedup_predicted, 0.0);
  EXPECT_EQ(st[2].draft_skipped, 0);
  EXPECT_GT(st[2].draft_steps, 40);
  // Adaptive: every step after the first token either drafted or was skipped.
  EXPECT_GT(st[1].draft_steps, 0);
  EXPECT_GT(st[1].draft_steps + st[1].draft_skipped, 40);
  EXPECT_LE(st[1].draft_probes, st[1].draft_steps);
  EXPECT_GT(st[1].draft_acceptance, 0.0);
  EXPECT_LE(st[1].draft_acceptance, 1.0);
  ASSERT_GT(st[1].draft_cost_ratio, 0.0);
  EXPECT_NEAR(st[1].draft_speedup_predicted, (1 + st[1].draft_acceptance) / st[1].draft_cost_ratio, 1e-9);
  // The next adaptive session on this model starts from the last one's estimates (the always
  // session in between left them alone); a session of another model does not.
  mote_session* next = session(MOTE_MTP_ADAPTIVE, 1024, MOTE_CONTEXT_ERROR, 0, fresh);
  const mote_stats inherited = stats(next);
  EXPECT_EQ(inherited.draft_acceptance, st[1].draft_acceptance);
  EXPECT_EQ(inherited.draft_cost_ratio, st[1].draft_cost_ratio);
  EXPECT_EQ(inherited.draft_probes, 0);
  EXPECT_EQ(gen_ids(next, prompt, 96).ids, ids[0]);
  mote_session_destroy(next);
  mote_model* other = nullptr;
  ASSERT_EQ(mote_model_open(path_.c_str(), nullptr, &other), MOTE_OK) << mote_last_error();
  mote_session* unrelated = session(MOTE_MTP_ADAPTIVE, 1024, MOTE_CONTEXT_ERROR, 0, other);
  EXPECT_EQ(stats(unrelated).draft_cost_ratio, 0.0);  // nothing measured yet
  mote_session_destroy(unrelated);
  mote_model_destroy(other);
  mote_model_destroy(fresh);
}

}  // namespace
