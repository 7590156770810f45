// Session: the full forward against the float64 naive oracle for V3/V2 variants and every
// weight type, prefill == decode, chunking, errors, greedy generation, no allocation in decode.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "common/alloc_counter.h"
#include "runtime/naive_forward.h"
#include "runtime/tiny_model.h"
#include "session/session.h"

namespace mote {
namespace {

using test::TinyConfig;

std::unique_ptr<Model> open_tiny(const std::string& name, const TinyConfig& c) {
  const std::string path = test::tiny_path(name);
  test::write_tiny_model(path, c);
  auto m = Model::open(path);
  EXPECT_TRUE(m) << m.status().to_string();
  return m ? std::move(m).value() : nullptr;
}

std::unique_ptr<Session> make_session(const Model& m, int64_t max_context = 32, int64_t max_batch = 16) {
  auto s = Session::create(m, {max_context, max_batch});
  EXPECT_TRUE(s) << s.status().to_string();
  return std::move(s).value();
}

TinyConfig v3_config() { return TinyConfig{}; }

TinyConfig v2_lite_config() {
  TinyConfig c;
  c.arch = fb::Architecture::DeepSeekV2;
  c.q_lora = 0;
  c.topk_method = fb::TopkMethod::Greedy;
  c.scoring = fb::ScoringFunc::Softmax;
  c.n_group = c.topk_group = 1;
  c.norm_topk_prob = false;
  c.routed_scale = 1.0f;
  c.shared = 2;
  c.top_k = 4;
  c.mscale = c.mscale_all_dim = 0.707f;
  c.seed = 7;
  return c;
}

TinyConfig v2_group_config() {
  TinyConfig c;
  c.arch = fb::Architecture::DeepSeekV2;
  c.topk_method = fb::TopkMethod::GroupLimitedGreedy;
  c.scoring = fb::ScoringFunc::Softmax;
  c.norm_topk_prob = false;
  c.routed_scale = 16.0f;
  c.shared = 2;
  c.factor = 8;
  c.mscale = 1.0f;
  c.mscale_all_dim = 0.707f;
  c.seed = 9;
  return c;
}

const std::vector<int32_t> kIds = {0, 5, 17, 40, 3, 22, 22, 9, 31, 2, 11};

double rel_error(const std::vector<float>& got, const std::vector<std::vector<double>>& ref) {
  double diff = 0, scale = 0;
  const size_t V = ref[0].size();
  for (size_t t = 0; t < ref.size(); ++t)
    for (size_t v = 0; v < V; ++v) {
      diff = std::max(diff, std::fabs(double(got[t * V + v]) - ref[t][v]));
      scale = std::max(scale, std::fabs(ref[t][v]));
    }
  return diff / scale;
}

double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(ref[i])));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  return diff / scale;
}

std::vector<float> prefill_all(Session& s, const std::vector<int32_t>& ids) {
  std::vector<float> logits(ids.size() * size_t(s.vocab_size()));
  const Status st = s.prefill(ids, logits.data(), LogitsMode::kAll);
  EXPECT_TRUE(st) << st.to_string();
  return logits;
}

std::vector<float> decode_all(Session& s, const std::vector<int32_t>& ids) {
  const size_t V = size_t(s.vocab_size());
  std::vector<float> logits(ids.size() * V);
  for (size_t t = 0; t < ids.size(); ++t) {
    const Status st = s.decode(ids[t], logits.data() + t * V);
    EXPECT_TRUE(st) << st.to_string();
  }
  return logits;
}

void check_against_naive(const std::string& name, const TinyConfig& c, double tolerance) {
  auto m = open_tiny(name, c);
  ASSERT_TRUE(m);
  auto s = make_session(*m);
  const auto naive = test::naive_forward(*m, kIds);
  const double prefill_err = rel_error(prefill_all(*s, kIds), naive.logits);
  s->reset();
  const double decode_err = rel_error(decode_all(*s, kIds), naive.logits);
  EXPECT_LT(prefill_err, tolerance) << name;
  EXPECT_LT(decode_err, tolerance) << name;
  std::printf("[%s] relative max error vs float64 naive: prefill %.3g, decode %.3g\n", name.c_str(), prefill_err,
              decode_err);
}

TEST(Session, V3MatchesNaive) { check_against_naive("s_v3.mote", v3_config(), 1e-5); }
TEST(Session, V2LiteMatchesNaive) { check_against_naive("s_v2_lite.mote", v2_lite_config(), 1e-5); }
TEST(Session, V2GroupLimitedMatchesNaive) { check_against_naive("s_v2_group.mote", v2_group_config(), 1e-5); }

TEST(Session, V3WithMtpAndMoeFrequencyMatchesNaive) {
  TinyConfig c = v3_config();
  c.mtp_layers = 1;
  c.layers = 4;
  c.moe_freq = 2;
  check_against_naive("s_v3_freq.mote", c, 1e-5);
}

TEST(Session, EveryWeightTypeMatchesNaiveOnItsDequantisedWeights) {
  for (WeightType type : {WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0}) {
    TinyConfig c = v3_config();
    c.type = type;
    check_against_naive(std::string("s_v3_") + weight_type_name(type) + ".mote", c, 2e-5);
  }
}

TEST(Session, PrefillEqualsDecodeAndChunking) {
  auto m = open_tiny("s_prefill_decode.mote", v3_config());
  ASSERT_TRUE(m);
  auto whole = make_session(*m, 32, 16);
  auto chunked = make_session(*m, 32, 3);
  auto stepwise = make_session(*m, 32, 1);
  const auto a = prefill_all(*whole, kIds);
  const auto b = prefill_all(*chunked, kIds);
  const auto c = decode_all(*stepwise, kIds);
  EXPECT_LT(rel_error(b, a), 1e-6);
  EXPECT_LT(rel_error(c, a), 1e-5);
  EXPECT_EQ(whole->position(), int64_t(kIds.size()));
  // kLast returns the last row of kAll; a prefill continuing a session equals a longer prefill.
  auto s = make_session(*m, 32, 4);
  std::vector<float> last(size_t(m->hparams().vocab_size));
  ASSERT_TRUE(s->prefill(std::span(kIds).first(6), last.data(), LogitsMode::kNone) .is_ok());
  ASSERT_TRUE(s->prefill(std::span(kIds).subspan(6), last.data(), LogitsMode::kLast).is_ok());
  const size_t V = last.size();
  const std::vector<float> want(a.end() - long(V), a.end());
  EXPECT_LT(rel_error(last, want), 1e-6);
}

TEST(Session, ResetStartsOver) {
  auto m = open_tiny("s_reset.mote", v3_config());
  ASSERT_TRUE(m);
  auto s = make_session(*m);
  const auto first = prefill_all(*s, kIds);
  s->reset();
  EXPECT_EQ(s->position(), 0);
  EXPECT_EQ(prefill_all(*s, kIds), first);
}

TEST(Session, ErrorsLeaveTheSessionUnchanged) {
  auto m = open_tiny("s_errors.mote", v3_config());
  ASSERT_TRUE(m);
  auto s = make_session(*m, 8, 4);
  std::vector<float> logits(size_t(8 * m->hparams().vocab_size));
  ASSERT_TRUE(s->prefill(std::vector<int32_t>{1, 2, 3}, logits.data()).is_ok());
  const int32_t vocab = int32_t(m->hparams().vocab_size);
  Status st = s->decode(vocab, logits.data());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("token id 41"), std::string::npos) << st.to_string();
  EXPECT_EQ(s->decode(-1, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->prefill(std::vector<int32_t>{4, vocab + 3}, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->position(), 3);
  st = s->prefill(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, logits.data());
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_NE(st.message().find("context full"), std::string::npos) << st.to_string();
  EXPECT_EQ(s->position(), 3);
  EXPECT_EQ(s->prefill({}, logits.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->decode(1, nullptr).code(), StatusCode::kInvalidArgument);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->decode(7, logits.data()).is_ok());
  EXPECT_EQ(s->position(), 8);
  EXPECT_EQ(s->decode(7, logits.data()).code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(Session::create(*m, {0, 4}));
  EXPECT_FALSE(Session::create(*m, {8, -1}));
  // max_batch 0: the automatic pass length, capped by max_context.
  auto auto_batch = Session::create(*m, {8, 0});
  ASSERT_TRUE(auto_batch);
  EXPECT_EQ((*auto_batch)->max_batch(), 8);
}

TEST(Session, GreedyGenerationMatchesArgmaxOfTheNaiveForward) {
  auto m = open_tiny("s_greedy.mote", v3_config());
  ASSERT_TRUE(m);
  auto s = make_session(*m);
  const std::vector<int32_t> prompt = {0, 12, 30, 7};
  std::vector<int32_t> out(10);
  auto n = s->generate_greedy(prompt, out);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, 10);
  EXPECT_EQ(s->position(), int64_t(prompt.size() + out.size() - 1));
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), out.begin(), out.end() - 1);
  const auto naive = test::naive_forward(*m, all);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& row = naive.logits[prompt.size() - 1 + i];
    EXPECT_EQ(out[i], int32_t(std::max_element(row.begin(), row.end()) - row.begin())) << "step " << i;
  }
  // Too long for the context: refused up front.
  auto small = make_session(*m, 8, 4);
  std::vector<int32_t> many(6);
  EXPECT_EQ(small->generate_greedy(prompt, many).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(small->position(), 0);
}

TEST(Session, ArgmaxPrefersTheLowestIndex) {
  const float v[5] = {1, 3, 3, -1, 2};
  EXPECT_EQ(argmax(v, 5), 1);
}

TEST(Session, DecodeDoesNotAllocate) {
  auto m = open_tiny("s_alloc.mote", v3_config());
  ASSERT_TRUE(m);
  auto s = make_session(*m, 32, 8);
  std::vector<float> logits(size_t(8 * m->hparams().vocab_size));
  ASSERT_TRUE(s->prefill(kIds, logits.data(), LogitsMode::kLast).is_ok());
  std::vector<int32_t> out(5);
  int64_t count = 0;
  {
    test::CountAllocations counter;
    for (int i = 0; i < 5; ++i) (void)s->decode(3 + i, logits.data());
    (void)s->prefill(std::span(kIds).first(4), logits.data(), LogitsMode::kAll);
    (void)s->generate_greedy(std::span(kIds).first(2), out);
    count = counter.count();
  }
  EXPECT_EQ(count, 0);
}

TEST(Session, SessionsShareAModelAcrossThreads) {
  auto m = open_tiny("s_threads.mote", v3_config());
  ASSERT_TRUE(m);
  std::vector<float> ref = prefill_all(*make_session(*m), kIds);
  std::vector<std::vector<float>> got(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] { got[size_t(i)] = prefill_all(*make_session(*m), kIds); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, ref);
}

}  // namespace
}  // namespace mote
