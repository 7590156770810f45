// Expert store (runtime/experts): for every fixture converted with --weights q8_0, logits with an
// expert budget of exactly top-k slots, about half the expert bytes and 0 (resident) are
// bit-identical in prefill and decode with both eviction policies; statistics add up; a failed
// expert read returns an error and leaves the model usable; a too-small budget is a clear
// error; decode with a budget does not allocate; sessions on several threads share a store.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/session_logits.h"
#include "common/test_util.h"
#include "model/model.h"
#include "common/alloc_counter.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

using test::same_bits;
std::vector<float> run_logits(const Model& m, const std::vector<int32_t>& ids) {
  return test::prefill_then_decode_logits(m, ids);
}

const std::vector<std::string> kFixtures = {"ds3_tiny", "ds3_bias", "ds2_lite", "ds2_group", "ds3_fp8"};

fs::path convert_fixture(const std::string& name, const fs::path& dir) {
  const fs::path out = dir / (name + ".mote");
  auto r = test::run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / name).string(), "-o", out.string(),
                              "--weights", "q8_0", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

std::unique_ptr<Model> open_model(const fs::path& path, uint64_t budget, EvictionKind policy = EvictionKind::kLru) {
  ModelOptions o;
  o.expert_budget_bytes = budget;
  o.expert_policy = policy;
  auto m = Model::open(path.string(), o);
  EXPECT_TRUE(m) << m.status().to_string();
  return m ? std::move(m).value() : nullptr;
}

std::vector<int32_t> test_ids(const Model& m, int n) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(int32_t((i * 37 + 3) % m.hparams().vocab_size));
  return ids;
}



class ExpertStoreFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    work_ = test::fresh_temp_dir("experts_" + GetParam());
    path_ = convert_fixture(GetParam(), work_);
    resident_ = open_model(path_, 0);
    ASSERT_TRUE(resident_);
    const HParams& hp = resident_->hparams();
    const ExpertStore& store = resident_->expert_store();
    for (int64_t l = 0; l < hp.n_layers; ++l)
      if (resident_->layer(l).ffn.moe)
        for (int64_t e = 0; e < hp.n_routed_experts; ++e) {
          max_seg_ = std::max(max_seg_, store.segment_bytes(l, e));
          min_seg_ = min_seg_ == 0 ? store.segment_bytes(l, e) : std::min(min_seg_, store.segment_bytes(l, e));
        }
    slot_ = (max_seg_ + 4095) / 4096 * 4096;
    topk_budget_ = slot_ * uint64_t(hp.n_experts_per_tok);
  }
  void TearDown() override { fs::remove_all(work_); }

  fs::path work_, path_;
  std::unique_ptr<Model> resident_;
  uint64_t max_seg_ = 0, min_seg_ = 0, slot_ = 0, topk_budget_ = 0;
};

TEST_P(ExpertStoreFixture, BudgetsGiveBitIdenticalLogits) {
  const std::vector<int32_t> ids = test_ids(*resident_, 12);
  const std::vector<float> ref = run_logits(*resident_, ids);
  EXPECT_TRUE(resident_->expert_store().resident());
  EXPECT_EQ(resident_->expert_store().stats().misses, 0u);
  const uint64_t half = std::max(resident_->expert_store().total_expert_bytes() / 2, topk_budget_);
  for (EvictionKind policy : {EvictionKind::kLru, EvictionKind::kLfu}) {
    for (uint64_t budget : {topk_budget_, half}) {
      auto m = open_model(path_, budget, policy);
      ASSERT_TRUE(m);
      const ExpertStore& store = m->expert_store();
      ASSERT_FALSE(store.resident());
      EXPECT_EQ(store.slot_bytes(), slot_);
      const std::vector<float> got = run_logits(*m, ids);
      m->expert_store().wait_idle();  // prefetches still reading count once they finish
      EXPECT_TRUE(same_bits(got, ref)) << eviction_kind_name(policy) << " budget " << budget;
      const ExpertStats s = store.stats();
      std::printf("[%s] %s budget %llu (%lld slots, %s): accesses %llu hits %llu misses %llu evictions %llu "
                  "bytes %llu stall %.3f ms\n",
                  GetParam().c_str(), eviction_kind_name(policy), (unsigned long long)budget,
                  (long long)store.slot_count(), store.direct_io() ? "O_DIRECT" : "buffered",
                  (unsigned long long)s.accesses, (unsigned long long)s.hits, (unsigned long long)s.misses,
                  (unsigned long long)s.evictions, (unsigned long long)s.bytes_read, double(s.io_stall_ns) / 1e6);
      EXPECT_GT(s.misses, 0u);
      EXPECT_EQ(s.hits + s.misses, s.accesses);
      const uint64_t reads = s.misses + s.prefetch_reads;  // every read succeeded
      EXPECT_GE(s.bytes_read, reads * min_seg_);
      EXPECT_LE(s.bytes_read, reads * max_seg_);
      if (min_seg_ == max_seg_) {
        EXPECT_EQ(s.bytes_read, reads * max_seg_);
      }
      EXPECT_LE(reads, s.evictions + uint64_t(store.slot_count()));
      if (budget == topk_budget_) {
        EXPECT_GT(s.evictions, 0u);
      }
    }
  }
}

TEST_P(ExpertStoreFixture, ReadErrorReturnsStatusAndModelStaysUsable) {
  const std::vector<int32_t> ids = test_ids(*resident_, 8);
  const std::vector<float> ref = run_logits(*resident_, ids);
  auto m = open_model(path_, topk_budget_);
  ASSERT_TRUE(m);
  auto s = Session::create(*m);
  ASSERT_TRUE(s);
  std::vector<float> logits(size_t(m->hparams().vocab_size) * ids.size());
  m->expert_store().inject_read_failure_after(3);
  Status st = (*s)->prefill(ids, logits.data(), LogitsMode::kAll);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find(path_.string()), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("offset"), std::string::npos) << st.message();
  EXPECT_EQ((*s)->position(), 0);
  st = (*s)->decode(ids[0], logits.data());
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ((*s)->position(), 0);
  m->expert_store().inject_read_failure_after(-1);
  EXPECT_TRUE(same_bits(run_logits(*m, ids), ref));
}

TEST_P(ExpertStoreFixture, BudgetBelowTopKIsAClearError) {
  ModelOptions o;
  o.expert_budget_bytes = topk_budget_ - 1;
  auto m = Model::open(path_.string(), o);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find(std::to_string(topk_budget_) + " bytes"), std::string::npos)
      << m.status().message();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ExpertStoreFixture, ::testing::ValuesIn(kFixtures),
                         [](const auto& info) { return info.param; });

class ExpertStoreTiny : public ExpertStoreFixture {};

TEST_P(ExpertStoreTiny, DecodeWithABudgetDoesNotAllocate) {
  auto m = open_model(path_, topk_budget_, EvictionKind::kLfu);
  ASSERT_TRUE(m);
  SessionOptions so;
  so.max_context = 64;
  auto s = Session::create(*m, so);
  ASSERT_TRUE(s);
  const std::vector<int32_t> ids = test_ids(*m, 8);
  std::vector<float> logits(size_t(8 * m->hparams().vocab_size));
  ASSERT_TRUE((*s)->prefill(ids, logits.data(), LogitsMode::kLast));
  int64_t count = 0;
  {
    test::CountAllocations counter;
    for (int i = 0; i < 6; ++i) (void)(*s)->decode(ids[size_t(i)], logits.data());
    (void)(*s)->prefill(std::span(ids).first(4), logits.data(), LogitsMode::kAll);
    count = counter.count();
  }
  EXPECT_EQ(count, 0);
  EXPECT_GT(m->expert_store().stats().misses, 0u);
}

TEST_P(ExpertStoreTiny, SessionsOnThreadsShareABudgetedStore) {
  const std::vector<int32_t> ids = test_ids(*resident_, 10);
  const std::vector<float> ref = run_logits(*resident_, ids);
  auto m = open_model(path_, topk_budget_);
  ASSERT_TRUE(m);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) threads.emplace_back([&, i] { got[i] = run_logits(*m, ids); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_TRUE(same_bits(g, ref));
  const ExpertStats s = m->expert_store().stats();
  EXPECT_EQ(s.hits + s.misses, s.accesses);
}

TEST_P(ExpertStoreTiny, CliLogitsWithBudgetEqualResident) {
  const std::string ids = "1,5,9,200,17,3";
  std::string outputs[2];
  for (int with_budget = 0; with_budget < 2; ++with_budget) {
    for (const std::string mode : {"prefill", "decode"}) {
      const fs::path out = work_ / ("logits_" + mode + std::to_string(with_budget) + ".f32");
      std::vector<std::string> argv = {MOTE_CLI_BIN, "logits", path_.string(), "--ids", ids, "--out", out.string(),
                                       "--mode", mode};
      if (with_budget) argv.insert(argv.end(), {"--expert-budget", "64K"});
      auto r = test::run_command(argv);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      if (with_budget) {
        EXPECT_NE(r.err.find("expert store:"), std::string::npos) << r.err;
      }
      outputs[with_budget] += test::read_file_bytes(out);
    }
  }
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
  auto r = test::run_command({MOTE_CLI_BIN, "run", path_.string(), "--ids", ids, "-n", "4", "--ignore-eos",
                              "--expert-budget", "64K"});
  auto r0 = test::run_command({MOTE_CLI_BIN, "run", path_.string(), "--ids", ids, "-n", "4", "--ignore-eos"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, r0.out);
  r = test::run_command({MOTE_CLI_BIN, "logits", path_.string(), "--ids", ids, "--out",
                         (work_ / "x.f32").string(), "--expert-budget", "12Q"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--expert-budget"), std::string::npos) << r.err;
}

// The text front end honours the expert flags: same text with a budget, statistics on request,
// clear errors for tuning flags without a budget and for bad values.
TEST_P(ExpertStoreTiny, TextAndChatTakeExpertFlags) {
  const std::vector<std::string> run = {MOTE_CLI_BIN, "run", path_.string(), "-p", "Hello", "-n", "12", "--ignore-eos"};
  auto resident = test::run_command(run);
  ASSERT_EQ(resident.exit_code, 0) << resident.err;
  std::vector<std::string> argv = run;
  argv.insert(argv.end(), {"--expert-budget", "64K", "--expert-hot", "1", "--stats"});
  auto budgeted = test::run_command(argv);
  ASSERT_EQ(budgeted.exit_code, 0) << budgeted.err;
  EXPECT_EQ(budgeted.out, resident.out);
  EXPECT_NE(budgeted.err.find("expert store:"), std::string::npos) << budgeted.err;
  auto chat = test::run_command({MOTE_CLI_BIN, "chat", path_.string(), "-n", "6", "--expert-budget", "64K"},
                                "Hi\n/stats\n/quit\n");
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_NE(chat.out.find("[stats] experts: budget"), std::string::npos) << chat.out;
  auto bad = test::run_command({MOTE_CLI_BIN, "run", path_.string(), "-p", "Hi", "--no-prefetch"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("need --expert-budget"), std::string::npos) << bad.err;
  bad = test::run_command({MOTE_CLI_BIN, "bench", path_.string(), "--expert-budget", "-5"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--expert-budget"), std::string::npos) << bad.err;
  bad = test::run_command({MOTE_CLI_BIN, "bench", path_.string(), "--gen", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--gen"), std::string::npos) << bad.err;
}

// demote_layer (used for the MTP block's experts while drafting is off): the demoted layer's
// experts are evicted before any other, even when they are the most recent and most used.
TEST_P(ExpertStoreTiny, DemotedExpertsAreEvictedFirst) {
  for (EvictionKind policy : {EvictionKind::kLru, EvictionKind::kLfu}) {
    auto m = open_model(path_, slot_ * 6, policy);
    ASSERT_TRUE(m);
    ExpertStore& store = m->expert_store();
    ASSERT_EQ(store.slot_count(), 6);
    const int64_t mtp_layer = m->hparams().n_layers, main_layer = 1;  // ds3_tiny: layer 1 is MoE
    auto touch = [&](int64_t layer, int64_t id) {
      auto v = store.acquire(layer, id);
      ASSERT_TRUE(v) << v.status().to_string();
      store.release(layer, id);
    };
    for (int64_t id = 0; id < 4; ++id) touch(main_layer, id);
    for (int round = 0; round < 3; ++round)  // the MTP experts: most used and most recent
      for (int64_t id = 0; id < 2; ++id) touch(mtp_layer, id);
    EXPECT_EQ(store.demote_layer(mtp_layer), 2);
    touch(main_layer, 4);  // two misses: each must take a demoted slot
    touch(main_layer, 5);
    std::vector<ExpertState> main(size_t(m->hparams().n_routed_experts));
    ASSERT_TRUE(store.snapshot(main_layer, main.data()));
    for (int64_t id = 0; id < 6; ++id) EXPECT_TRUE(main[size_t(id)].resident) << "expert " << id;
    EXPECT_EQ(store.missing_bytes(mtp_layer, std::vector<int32_t>{0, 1}.data(), 2),
              store.segment_bytes(mtp_layer, 0) + store.segment_bytes(mtp_layer, 1));
    EXPECT_EQ(store.missing_bytes(main_layer, std::vector<int32_t>{0, 5}.data(), 2), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, ExpertStoreTiny, ::testing::Values(std::string("ds3_tiny")),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mote
