// MTP module and speculative decoding (runtime/families/decoder.cpp, runtime/session): the MTP
// logits of ds3_tiny and ds3_fp8 match transformers' reference at every position; speculative
// greedy generation emits exactly the plain greedy tokens (prompt lengths, budgets, chunked
// prefills, EOS stops, continuation after generation, an expert budget, F32 and Q8_0), leaves
// the session where plain generation does, allocates nothing, and bad uses are clear errors.
#include <gtest/gtest.h>

#include <memory>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/alloc_counter.h"
#include "common/test_util.h"
#include "families/decoder.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

std::vector<float> read_f32(const fs::path& p) {
  const std::string b = test::read_file_bytes(p);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

class Speculative : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { dir_ = test::fresh_temp_dir("speculative"); }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  std::unique_ptr<Model> open(const std::string& weights, uint64_t budget = 0, bool mtp = true) {
    const fs::path out = dir_ / (GetParam() + "_" + weights + (mtp ? "" : "_nomtp") + ".mote");
    if (!fs::exists(out)) {
      std::vector<std::string> argv = {MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / GetParam()).string(), "-o",
                                       out.string(), "--weights", weights, "--quiet"};
      if (!mtp) argv.push_back("--no-mtp");
      auto r = test::run_command(argv);
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    ModelOptions o;
    o.expert_budget_bytes = budget;
    auto m = Model::open(out.string(), o);
    EXPECT_TRUE(m) << m.status().to_string();
    return m ? std::move(m).value() : nullptr;
  }
  static std::unique_ptr<Session> session(const Model& m, bool mtp, int64_t ctx = 96, int64_t batch = 64) {
    SessionOptions o;
    o.max_context = ctx;
    o.max_batch = batch;
    o.mtp = mtp;
    auto s = Session::create(m, o);
    EXPECT_TRUE(s) << s.status().to_string();
    return s ? std::move(s).value() : nullptr;
  }
  static std::vector<int32_t> generate(Session& s, const std::vector<int32_t>& prompt, int n, bool speculative,
                                       bool stop_at_eos = false) {
    std::vector<int32_t> out(static_cast<size_t>(n));
    GenerateOptions g;
    g.speculative = speculative;
    g.stop_at_eos = stop_at_eos;
    auto r = s.generate_greedy(prompt, out, g);
    EXPECT_TRUE(r) << r.status().to_string();
    out.resize(r ? size_t(*r) : 0);
    return out;
  }
  static inline fs::path dir_;
};

TEST_P(Speculative, MtpLogitsMatchTheReferenceAtEveryPosition) {
  auto m = open("f32");
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->has_mtp());
  const std::string ref_text = test::read_file_bytes(fs::path(MOTE_FIXTURES_DIR) / GetParam() / "reference.json");
  // ids and the MTP inputs, read from reference.json without a JSON dependency: the test knows the keys.
  auto parse_list = [&](const std::string& key, size_t from) {
    std::vector<int32_t> v;
    size_t p = ref_text.find("\"" + key + "\": [", from);
    EXPECT_NE(p, std::string::npos) << key;
    p = ref_text.find('[', p) + 1;
    const size_t end = ref_text.find(']', p);
    for (size_t q = p; q < end;) {
      v.push_back(int32_t(std::stol(ref_text.substr(q))));
      q = ref_text.find(',', q);
      if (q == std::string::npos || q > end) break;
      ++q;
    }
    return v;
  };
  const std::vector<int32_t> ids = parse_list("ids", 0);
  const std::vector<int32_t> next = parse_list("input_ids", ref_text.find("\"mtp\""));
  ASSERT_EQ(ids.size(), next.size());
  const std::vector<float> ref = read_f32(fs::path(MOTE_FIXTURES_DIR) / GetParam() / "mtp_logits_nozero.f32");
  const HParams& hp = m->hparams();
  const int64_t T = int64_t(ids.size()), V = hp.vocab_size, H = hp.hidden_size;
  ASSERT_EQ(int64_t(ref.size()), T * V);

  // The decoder directly, on the model's (CPU) backend: device memory is host memory.
  backend::Backend& b = m->backend();
  const families::ScratchSize size = families::decoder_scratch_size(b, hp, T, T);
  const std::unique_ptr<void, DeviceFree> device(b.alloc(size.device_bytes), DeviceFree{&b});
  std::vector<uint8_t> host(size_t(size.host_bytes));
  const families::DecoderScratch s = families::carve_decoder_scratch(b, hp, T, T, device.get(), host.data());
  std::vector<float> cache(size_t(hp.n_layers * T * hp.kv_cache_dim)), mtp_cache(size_t(T * hp.kv_cache_dim));
  std::vector<families::LayerCache> caches;
  const int64_t row_bytes = hp.kv_cache_dim * 4;
  for (int64_t l = 0; l < hp.n_layers; ++l)
    caches.push_back({reinterpret_cast<uint8_t*>(cache.data() + l * T * hp.kv_cache_dim), KvType::kF32, 0, row_bytes});
  const families::LayerCache mtp_layer{reinterpret_cast<uint8_t*>(mtp_cache.data()), KvType::kF32, 0, row_bytes};
  std::vector<float> hidden(size_t(T * H)), logits(size_t(T * V));
  ASSERT_TRUE(families::forward(*m, ids.data(), T, 0, caches, s, LogitsMode::kNone, nullptr, hidden.data()));
  ASSERT_TRUE(families::mtp_forward(*m, next.data(), hidden.data(), T, 0, mtp_layer, s, LogitsMode::kAll,
                                    logits.data()));
  float max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    max_diff = std::max(max_diff, std::fabs(ref[i] - logits[i]));
  }
  std::printf("[%s] MTP logits: relative max error %.3g\n", GetParam().c_str(), max_diff / max_ref);
  EXPECT_LT(max_diff / max_ref, 1e-3);

  // The session's path: prefill, then mtp_begin with the same last token gives the last row.
  auto sess = session(*m, true);
  std::vector<float> last(static_cast<size_t>(V)), q(static_cast<size_t>(V));
  ASSERT_TRUE(sess->prefill(ids, last.data()));
  ASSERT_TRUE(sess->mtp_begin(next.back(), q.data()));
  for (int64_t v = 0; v < V; ++v) EXPECT_NEAR(q[size_t(v)], logits[size_t((T - 1) * V + v)], 1e-4f);
}

TEST_P(Speculative, GreedyOutputIsIdenticalWithAndWithoutSpeculation) {
  for (const std::string weights : {"f32", "q8_0"}) {
    auto m = open(weights);
    ASSERT_TRUE(m);
    const int64_t V = m->hparams().vocab_size;
    for (int prompt_len : {1, 2, 5, 17}) {
      std::vector<int32_t> prompt;
      for (int i = 0; i < prompt_len; ++i) prompt.push_back(int32_t((i * 53 + 7 + prompt_len) % V));
      for (int64_t batch : {64, 4}) {  // 4: chunked prefills keep the MTP one position behind
        auto plain = session(*m, false, 96, batch);
        auto spec = session(*m, true, 96, batch);
        for (int n : {1, 2, 3, 24}) {
          plain->reset();
          spec->reset();
          const std::vector<int32_t> a = generate(*plain, prompt, n, false);
          const std::vector<int32_t> b = generate(*spec, prompt, n, true);
          EXPECT_EQ(a, b) << weights << " prompt " << prompt_len << " n " << n << " batch " << batch;
          EXPECT_EQ(plain->position(), spec->position());
          // The conversation goes on: feed the last token plus more, generate again.
          std::vector<int32_t> more = {a.back(), int32_t(3 % V), int32_t(9 % V)};
          EXPECT_EQ(generate(*plain, more, 12, false), generate(*spec, more, 12, true)) << weights;
          EXPECT_EQ(plain->position(), spec->position());
        }
        const SpeculationStats& st = spec->speculation_stats();
        EXPECT_LE(st.accepted, st.steps);
      }
    }
  }
}

TEST_P(Speculative, EosStopsAndExpertBudgetGiveTheSameTokens) {
  auto m = open("q8_0");
  ASSERT_TRUE(m);
  const std::vector<int32_t> prompt = {0, 11, 22, 33};
  auto plain = session(*m, false);
  const std::vector<int32_t> ref = generate(*plain, prompt, 40, false);
  // Pretend each generated token is EOS in turn: plain and speculative stop at the same place.
  HParams& hp = const_cast<HParams&>(m->hparams());
  const std::vector<int32_t> saved = hp.eos_token_ids;
  for (size_t i = 0; i < ref.size(); i += 7) {
    hp.eos_token_ids = {ref[i]};
    auto a = session(*m, false), b = session(*m, true);
    EXPECT_EQ(generate(*a, prompt, 40, false, true), generate(*b, prompt, 40, true, true)) << "eos " << ref[i];
    EXPECT_EQ(a->position(), b->position());
  }
  hp.eos_token_ids = saved;
  const uint64_t slot = (m->expert_store().segment_bytes(1, 0) + 4095) / 4096 * 4096;
  auto budgeted = open("q8_0", slot * uint64_t(m->hparams().n_experts_per_tok + 2));
  ASSERT_TRUE(budgeted);
  auto s = session(*budgeted, true);
  EXPECT_EQ(generate(*s, prompt, 40, true), ref);
  EXPECT_GT(budgeted->expert_store().stats().misses, 0u);
}

// The per-step draft gate (families/draft_gate.h): under an expert budget, an allowance of 0
// drops the draft row of every step whose draft token needs an expert of its own that is not in
// memory, part-way through the pass; the step then counts as a rejected draft and the tokens stay
// the plain greedy ones. An unlimited allowance drops nothing, and nothing is gated when every
// expert is resident (no read to price).
TEST_P(Speculative, DraftGateDropsCostlyDraftRowsAndKeepsTheTokens) {
  auto m = open("q8_0");
  ASSERT_TRUE(m);
  const std::vector<int32_t> prompt = {0, 11, 22, 33};
  auto plain = session(*m, false);
  const std::vector<int32_t> ref = generate(*plain, prompt, 40, false);
  const uint64_t slot = (m->expert_store().segment_bytes(1, 0) + 4095) / 4096 * 4096;
  auto budgeted = open("q8_0", slot * uint64_t(m->hparams().n_experts_per_tok + 2));
  ASSERT_TRUE(budgeted);
  auto run = [&](Model& model, double allowance, SpeculationStats* stats) {
    auto s = session(model, true);
    std::vector<int32_t> out(40);
    GenerateOptions g;
    g.speculative = true;
    g.draft_miss_allowance = allowance;
    auto r = s->generate_greedy(prompt, out, g);
    EXPECT_TRUE(r) << r.status().to_string();
    out.resize(r ? size_t(*r) : 0);
    *stats = s->speculation_stats();
    return out;
  };
  SpeculationStats strict, open_gate, resident;
  budgeted->expert_store().reset_stats();
  EXPECT_EQ(run(*budgeted, 0.0, &strict), ref);
  const uint64_t strict_bytes = budgeted->expert_store().stats().bytes_read;
  EXPECT_GT(strict.dropped, 0) << "steps " << strict.steps;
  EXPECT_LE(strict.dropped, strict.steps);
  EXPECT_LE(strict.accepted + strict.dropped, strict.steps);
  budgeted->expert_store().reset_stats();
  EXPECT_EQ(run(*budgeted, 1e9, &open_gate), ref);
  const uint64_t open_bytes = budgeted->expert_store().stats().bytes_read;
  EXPECT_EQ(open_gate.dropped, 0);
  // The dropped draft rows' own experts were not read.
  EXPECT_LT(strict_bytes, open_bytes) << "steps " << strict.steps << " vs " << open_gate.steps;
  EXPECT_EQ(run(*m, 0.0, &resident), ref);
  EXPECT_EQ(resident.dropped, 0);
}

TEST_P(Speculative, SpeculativeGenerationDoesNotAllocate) {
  auto m = open("q8_0");
  ASSERT_TRUE(m);
  auto s = session(*m, true);
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5}, out(32);
  GenerateOptions g;
  g.speculative = true;
  ASSERT_TRUE(s->generate_greedy(prompt, out, g));
  s->reset();
  int64_t count = 0;
  {
    test::CountAllocations counter;
    (void)s->generate_greedy(prompt, out, g);
    count = counter.count();
  }
  EXPECT_EQ(count, 0);
}

TEST_P(Speculative, MisuseIsAClearError) {
  auto no_mtp = open("f32", 0, false);
  ASSERT_TRUE(no_mtp);
  SessionOptions o;
  o.mtp = true;
  auto bad = Session::create(*no_mtp, o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("MTP"), std::string::npos) << bad.status().message();
  auto m = open("f32");
  auto plain = session(*m, false);
  std::vector<int32_t> out(4);
  GenerateOptions g;
  g.speculative = true;
  auto r = plain->generate_greedy(std::vector<int32_t>{1, 2}, out, g);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("mtp"), std::string::npos);
  auto spec = session(*m, true);
  std::vector<float> logits(size_t(2 * m->hparams().vocab_size));
  ASSERT_TRUE(spec->prefill(std::vector<int32_t>{1, 2, 3}, logits.data()));
  EXPECT_EQ(spec->mtp_verify(1, 2, logits.data()).code(), StatusCode::kInvalidArgument);  // no mtp_begin yet
  ASSERT_TRUE(spec->mtp_begin(4, logits.data()));
  EXPECT_EQ(spec->mtp_begin(4, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec->mtp_accept(1, 2, logits.data()).code(), StatusCode::kInvalidArgument);  // no mtp_verify
  EXPECT_EQ(spec->mtp_verify(1, -5, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec->position(), 3);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Speculative, ::testing::Values(std::string("ds3_tiny"), std::string("ds3_fp8")),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mote
