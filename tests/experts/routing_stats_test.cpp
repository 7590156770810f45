// The learning expert cache (experts/routing_stats.h, experts/expert_learning.h): the sidecar file
// round-trips, refuses corrupt, truncated, crafted and foreign files with a message naming the
// path and the reason, decays old counts, finds its default place; the store counts routed tokens
// exactly; a Model with learning saves its statistics at close, pre-loads and pins the hottest
// experts at the next open, and on the trained demo model routes more of held-out text from
// memory in the first 64 tokens than a cold start does.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "experts/expert_learning.h"
#include "experts/routing_stats.h"
#include "model/model.h"
#include "session/engine.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

RoutingStats sample_stats(int64_t layers = 3, int64_t experts = 5) {
  RoutingStats s;
  s.model = {123456, 0xabcdefull};
  s.n_layers = layers;
  s.n_experts = experts;
  s.tokens = 100;
  s.runs = 2;
  for (int64_t i = 0; i < layers * experts; ++i) s.counts.push_back(float(i % 7) * 3.5f);
  return s;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

TEST(RoutingStats, SaveLoadRoundTripsAndLeavesNoTemporaryFile) {
  const fs::path dir = test::fresh_temp_dir("routing_stats_roundtrip");
  const fs::path path = dir / "sub" / "m.experts";  // the parent is created
  const RoutingStats s = sample_stats();
  ASSERT_TRUE(save_routing_stats(path.string(), s));
  auto back = load_routing_stats(path.string(), s.model, 3, 5);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(back->counts, s.counts);
  EXPECT_EQ(back->tokens, 100);
  EXPECT_EQ(back->runs, 2u);
  EXPECT_EQ(fs::file_size(path), 64u + 15 * 4 + 8);
  int files = 0;
  for (const auto& e : fs::directory_iterator(path.parent_path())) files += 1 + 0 * int(e.path().empty());
  EXPECT_EQ(files, 1);  // no .tmp-PID left behind
  fs::remove_all(dir);
}

TEST(RoutingStats, BadFilesAreRefusedNamingThePathAndTheReason) {
  const fs::path dir = test::fresh_temp_dir("routing_stats_bad");
  const fs::path path = dir / "m.experts";
  const RoutingStats s = sample_stats();
  ASSERT_TRUE(save_routing_stats(path.string(), s));
  const std::string good = read_all(path);
  auto expect_error = [&](const std::string& bytes, StatusCode code, const std::string& reason) {
    write_all(path, bytes);
    auto r = load_routing_stats(path.string(), s.model, 3, 5);
    ASSERT_FALSE(r) << reason;
    EXPECT_EQ(r.status().code(), code) << r.status().message();
    EXPECT_NE(r.status().message().find(path.string()), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(reason), std::string::npos) << r.status().message();
  };
  std::string flipped = good;
  flipped[70] ^= 0x10;  // inside the counts
  expect_error(flipped, StatusCode::kCorruptFile, "checksum");
  expect_error(good.substr(0, good.size() - 5), StatusCode::kCorruptFile, "truncated");
  expect_error(good.substr(0, 10), StatusCode::kCorruptFile, "header");
  expect_error(good + "x", StatusCode::kCorruptFile, "longer");
  std::string magic = good;
  magic[0] = 'X';
  expect_error(magic, StatusCode::kCorruptFile, "magic");
  std::string huge = good;  // n_layers = 0xffffffff: refused before any allocation
  for (int i = 32; i < 36; ++i) huge[size_t(i)] = char(0xff);
  expect_error(huge, StatusCode::kCorruptFile, "absurd");
  std::string version = good;
  version[8] = 9;
  expect_error(version, StatusCode::kCorruptFile, "version");
  write_all(path, good);
  auto other = load_routing_stats(path.string(), ModelIdentity{1, 2}, 3, 5);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("another model"), std::string::npos);
  auto shape = load_routing_stats(path.string(), s.model, 4, 5);
  ASSERT_FALSE(shape);
  EXPECT_NE(shape.status().message().find("3 layers x 5 experts"), std::string::npos) << shape.status().message();
  auto missing = load_routing_stats((dir / "none.experts").string(), s.model, 3, 5);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  fs::remove_all(dir);
}

TEST(RoutingStats, OldCountsDecayByTheTokensOfTheNewRun) {
  RoutingStats s = sample_stats(1, 2);
  s.counts = {1000, 0};
  s.tokens = 1000;
  merge_routing_run(s, {0, 512}, kRoutingHalfLifeTokens);  // one half-life of new routing
  EXPECT_FLOAT_EQ(s.counts[0], 500);
  EXPECT_FLOAT_EQ(s.counts[1], 512);
  EXPECT_DOUBLE_EQ(s.tokens, 500 + kRoutingHalfLifeTokens);
  EXPECT_EQ(s.runs, 3u);
  merge_routing_run(s, {0, 0}, 0);  // a run without tokens changes nothing but the run count
  EXPECT_FLOAT_EQ(s.counts[0], 500);
}

TEST(RoutingStats, DefaultPathFollowsTheCacheVariables) {
  const ModelIdentity id{0x1234, 0xfeedull};
  auto with_env = [&](const char* mote_cache, const char* xdg, const char* home, const std::string& model) {
    auto set = [](const char* name, const char* v) { v ? setenv(name, v, 1) : unsetenv(name); };
    const std::string saved_home = std::getenv("HOME") ? std::getenv("HOME") : "";
    set("MOTE_CACHE_DIR", mote_cache);
    set("XDG_CACHE_HOME", xdg);
    set("HOME", home);
    const std::string p = default_routing_stats_path(model, id);
    unsetenv("MOTE_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    saved_home.empty() ? unsetenv("HOME") : setenv("HOME", saved_home.c_str(), 1);
    return p;
  };
  const std::string ident = "000000000000feed00001234";
  EXPECT_EQ(with_env("/c", "/x", "/h", "/m/a.mote"), "/c/a.mote-" + ident + ".experts");
  EXPECT_EQ(with_env(nullptr, "/x", "/h", "/m/a.mote"), "/x/mote/a.mote-" + ident + ".experts");
  EXPECT_EQ(with_env(nullptr, nullptr, "/h", "/m/a.mote"), "/h/.cache/mote/a.mote-" + ident + ".experts");
  EXPECT_EQ(with_env(nullptr, nullptr, nullptr, "/m/a.mote"), "/m/a.mote.experts");
  EXPECT_EQ(with_env(nullptr, nullptr, "/h", ""), "/h/.cache/mote/" + ident + ".experts");
  EXPECT_EQ(with_env(nullptr, nullptr, nullptr, ""), "");
}

TEST(RoutingStats, ExpectedHitRateKeepsTheHottest) {
  const float uniform[4] = {0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(expected_hit_rate(uniform, 4, 1), 0.25);
  const float skewed[4] = {1, 6, 2, 1};
  EXPECT_DOUBLE_EQ(expected_hit_rate(skewed, 4, 1), 0.6);
  EXPECT_DOUBLE_EQ(expected_hit_rate(skewed, 4, 2), 0.8);
  EXPECT_DOUBLE_EQ(expected_hit_rate(skewed, 4, 9), 1.0);
}

// --- with the trained demo model ---

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

class LearningDemo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(test::fresh_temp_dir("learning_demo"));
    auto r = test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", (*dir_ / "demo.mote").string(), "--weights",
                                "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path model_path() { return *dir_ / "demo.mote"; }
  static std::unique_ptr<Engine> open(uint64_t budget, const fs::path& stats, bool prefetch = false) {
    EngineOptions o;
    o.model.expert_budget_bytes = budget;
    o.model.expert_prefetch = prefetch;
    o.model.expert_learn = !stats.empty();
    o.model.expert_stats_path = stats.string();
    auto e = Engine::open(model_path().string(), o);
    EXPECT_TRUE(e) << e.status().to_string();
    return e ? std::move(e).value() : nullptr;
  }
  // The ids of n tokens of a text file from byte `skip` on, by the model's own tokenizer.
  static std::vector<int32_t> text_ids(const Engine& e, const fs::path& text, size_t skip, size_t n) {
    const std::string all = read_all(text);
    std::vector<int32_t> ids;
    EXPECT_TRUE(e.tokenizer()->encode(std::string_view(all).substr(skip, n * 16), false, &ids));
    EXPECT_GE(ids.size(), n) << text;
    ids.resize(std::min(ids.size(), n));
    return ids;
  }
  static fs::path* dir_;
};
fs::path* LearningDemo::dir_ = nullptr;

// Decodes `ids` one token at a time (each a routed forward pass); returns the store's hit rate.
double decode_hit_rate(const Model& m, const std::vector<int32_t>& ids) {
  SessionOptions so;
  so.max_context = int64_t(ids.size()) + 8;
  auto s = Session::create(m, so);
  EXPECT_TRUE(s) << s.status().to_string();
  if (!s) return 0;
  std::vector<float> logits(size_t(m.hparams().vocab_size));
  for (int32_t id : ids) EXPECT_TRUE((*s)->decode(id, logits.data()));
  const ExpertStats st = m.expert_store().stats();
  return st.accesses ? double(st.hits) / double(st.accesses) : 0;
}

TEST_F(LearningDemo, StoreCountsEveryRoutedToken) {
  auto e = open(0, {});
  ASSERT_TRUE(e);
  const Model* m = &e->model();
  SessionOptions so;
  so.max_context = 64;
  auto s = Session::create(*m, so);
  ASSERT_TRUE(s);
  const std::vector<int32_t> prompt = text_ids(*e, kDemo / "heldout.txt", 0, 20);
  std::vector<float> logits(size_t(m->hparams().vocab_size));
  ASSERT_TRUE((*s)->prefill(prompt, logits.data()));  // one prefill pass
  ASSERT_TRUE((*s)->decode(prompt[0], logits.data()));  // one decode step
  const HParams& hp = m->hparams();
  const std::vector<uint64_t> counts = m->expert_store().routed_token_counts();
  ASSERT_EQ(counts.size(), size_t(hp.n_layers * hp.n_routed_experts));
  for (int64_t l = 0; l < hp.n_layers; ++l) {
    uint64_t sum = 0;
    for (int64_t e = 0; e < hp.n_routed_experts; ++e) sum += counts[size_t(l * hp.n_routed_experts + e)];
    EXPECT_EQ(sum, m->expert_store().is_moe_layer(l) ? 21u * uint64_t(hp.n_experts_per_tok) : 0u) << "layer " << l;
  }
  EXPECT_DOUBLE_EQ(m->expert_store().routed_tokens(), 21.0);
}

TEST_F(LearningDemo, ClosingSavesAndTheNextOpenPreloadsAndPinsTheHottest) {
  const fs::path stats = *dir_ / "close.experts";
  fs::remove(stats);
  const uint64_t budget = 2400 * 1024;
  {
    auto e = open(budget, stats);
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->model().expert_learning()->loaded());
    decode_hit_rate(e->model(), text_ids(*e, kDemo / "heldout.txt", 0, 48));
  }  // destroyed: saved
  auto loaded = load_routing_stats(stats.string(), {0, 0}, 0, 0);
  ASSERT_FALSE(loaded);  // identity check
  auto e = open(budget, stats);
  ASSERT_TRUE(e);
  const Model* m = &e->model();
  const ExpertLearning* learning = m->expert_learning();
  ASSERT_TRUE(learning->loaded());
  EXPECT_DOUBLE_EQ(learning->learned_tokens(), 48.0);
  const ExpertStore& store = m->expert_store();
  EXPECT_EQ(learning->preloaded(), store.slot_count());
  EXPECT_EQ(store.stats().preloaded, uint64_t(store.slot_count()));  // no pool: read at open
  EXPECT_EQ(store.hot_slot_count(), default_pin_slots(store, m->hparams()));
  EXPECT_GT(store.hot_slot_count(), 0);
  // The experts the statistics rank hottest are resident, the very hottest pinned.
  const std::vector<int64_t> order = hottest_first(learning->statistics());
  const int64_t E = m->hparams().n_routed_experts;
  std::vector<ExpertState> states(static_cast<size_t>(E), ExpertState{});
  for (int64_t i = 0; i < store.slot_count(); ++i) {
    ASSERT_TRUE(store.snapshot(order[size_t(i)] / E, states.data()));
    const ExpertState& st = states[size_t(order[size_t(i)] % E)];
    EXPECT_TRUE(st.resident) << "rank " << i;
    EXPECT_EQ(st.hot, i < store.hot_slot_count()) << "rank " << i;
  }
  // The pins are fixed: after many repin periods of other routing they are still held.
  decode_hit_rate(*m, text_ids(*e, kDemo / "heldout.txt", 4000, 48));
  EXPECT_EQ(store.fixed_slot_count(), default_pin_slots(store, m->hparams()));
  for (int64_t i = 0; i < store.fixed_slot_count(); ++i) {
    ASSERT_TRUE(store.snapshot(order[size_t(i)] / E, states.data()));
    EXPECT_TRUE(states[size_t(order[size_t(i)] % E)].hot) << "rank " << i << " after 48 more tokens";
  }
}

TEST_F(LearningDemo, ACorruptFileIsIgnoredWithAWarningAndReplaced) {
  const fs::path stats = *dir_ / "corrupt.experts";
  write_all(stats, "garbage that is not a statistics file");
  {
    auto e = open(2400 * 1024, stats);
    ASSERT_TRUE(e);  // the open does not fail
    EXPECT_FALSE(e->model().expert_learning()->loaded());
    EXPECT_EQ(e->model().expert_store().stats().preloaded, 0u);
    decode_hit_rate(e->model(), text_ids(*e, kDemo / "heldout.txt", 0, 8));
  }
  auto e = open(2400 * 1024, stats);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->model().expert_learning()->loaded());
}

// The measurement of README "Learning expert cache" as a test, without prefetch so that it is
// deterministic: statistics learned on training text, then the first 64 tokens of held-out text.
TEST_F(LearningDemo, LearnedStartServesMoreOfHeldOutTextFromMemory) {
  const fs::path stats = *dir_ / "learned.experts";
  fs::remove(stats);
  const fs::path train = fs::path(MOTE_SHARED_DATA_DIR) / "corpora" / "tinyshakespeare.txt";
  std::vector<int32_t> heldout;
  {
    auto e = open(0, stats);  // learning from a resident run (prefill passes: per-token counts)
    ASSERT_TRUE(e);
    SessionOptions so;
    so.max_context = 512;
    auto s = Session::create(e->model(), so);
    ASSERT_TRUE(s);
    const std::vector<int32_t> ids = text_ids(*e, train, 300000, 4096);
    std::vector<float> logits(size_t(e->model().hparams().vocab_size));
    for (size_t i = 0; i + 256 <= ids.size(); i += 256) {
      ASSERT_TRUE((*s)->prefill(std::span<const int32_t>(ids.data() + i, 256), logits.data()));
      (*s)->reset();
    }
    heldout = text_ids(*e, kDemo / "heldout.txt", 1000, 64);
  }
  const uint64_t budget = 2400 * 1024;  // about half of the routed-expert bytes
  auto cold = open(budget, {});
  auto warm = open(budget, stats);
  ASSERT_TRUE(cold && warm);
  ASSERT_TRUE(warm->model().expert_learning()->loaded());
  const double cold_hits = decode_hit_rate(cold->model(), heldout);
  const double warm_hits = decode_hit_rate(warm->model(), heldout);
  std::printf("first 64 held-out tokens, half the expert bytes, no prefetch: hit rate cold %.3f, learned %.3f\n",
              cold_hits, warm_hits);
  EXPECT_GT(warm_hits, cold_hits + 0.02) << "cold " << cold_hits << " learned " << warm_hits;
}

}  // namespace
}  // namespace mote
