// Expert prefetch and hot pinning (runtime/experts): on fixtures with two MoE layers, prefetching
// the next layer's predicted experts keeps the logits bit-identical to the resident mode (on and
// off, with several sessions on threads, with hot pinning), its statistics add up, a prefetched
// expert is a hit, prefetch never evicts pinned experts, a failed prefetch read frees its slot and
// the acquire reads on demand, decode with prefetch does not allocate, and hot pinning
// keeps a much-used expert through a burst of cold ones. A file truncated under a running model
// is an error from the forward, and the model works again once the bytes are back.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/alloc_counter.h"
#include "common/session_logits.h"
#include "common/test_util.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

using test::same_bits;

struct StoreSetup {
  uint64_t budget = 0;
  bool prefetch = true;
  int64_t hot_slots = 0;
  EvictionKind policy = EvictionKind::kLru;
};

class PrefetchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    work_ = test::fresh_temp_dir("prefetch_" + GetParam());
    path_ = work_ / "model.mote";
    auto r = test::run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / GetParam()).string(), "-o",
                                path_.string(), "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    resident_ = open(StoreSetup{});
    ASSERT_TRUE(resident_);
    const HParams& hp = resident_->hparams();
    for (int64_t l = 0; l < hp.n_layers; ++l) {
      if (!resident_->layer(l).ffn.moe) continue;
      moe_layers_.push_back(l);
      for (int64_t e = 0; e < hp.n_routed_experts; ++e)
        slot_ = std::max(slot_, (resident_->expert_store().segment_bytes(l, e) + 4095) / 4096 * 4096);
    }
    ASSERT_GE(moe_layers_.size(), 2u) << "prefetch needs two MoE layers";
    k_ = hp.n_experts_per_tok;
  }
  void TearDown() override { fs::remove_all(work_); }

  std::unique_ptr<Model> open(const StoreSetup& setup) {
    ModelOptions o;
    o.expert_budget_bytes = setup.budget;
    o.expert_prefetch = setup.prefetch;
    o.expert_hot_slots = setup.hot_slots;
    o.expert_policy = setup.policy;
    auto m = Model::open(path_.string(), o);
    EXPECT_TRUE(m) << m.status().to_string();
    return m ? std::move(m).value() : nullptr;
  }
  uint64_t slots(int64_t n) const { return slot_ * uint64_t(n); }
  uint64_t half_budget() const { return std::max(resident_->expert_store().total_expert_bytes() / 2, slots(k_ + 1)); }

  // Prefill then decode logits of n fixed ids ([2n, vocab]).
  std::vector<float> run_logits(const Model& m, int n) {
    std::vector<int32_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(int32_t((i * 37 + 3) % m.hparams().vocab_size));
    return test::prefill_then_decode_logits(m, ids);
  }

  // Bytes of expert (layer, id) as the mapping holds them (gate, up, down concatenated).
  std::string expert_bytes(const ExpertWeights& w) const {
    std::string b;
    for (const WeightView* v : {&w.gate, &w.up, &w.down})
      b.append(reinterpret_cast<const char*>(v->data), size_t(v->row_stride * uint64_t(v->rows)));
    return b;
  }

  fs::path work_, path_;
  std::unique_ptr<Model> resident_;
  std::vector<int64_t> moe_layers_;
  uint64_t slot_ = 0;
  int64_t k_ = 0;
};


TEST_P(PrefetchTest, OnAndOffGiveResidentBitsAndCountedPrefetches) {
  const std::vector<float> ref = run_logits(*resident_, 12);
  for (EvictionKind policy : {EvictionKind::kLru, EvictionKind::kLfu}) {
    for (bool prefetch : {true, false}) {
      auto m = open({half_budget(), prefetch, 0, policy});
      ASSERT_TRUE(m);
      EXPECT_EQ(m->expert_store().wants_prefetch(), prefetch);
      EXPECT_TRUE(same_bits(run_logits(*m, 12), ref)) << "prefetch " << prefetch;
      m->expert_store().wait_idle();
      const ExpertStats s = m->expert_store().stats();
      std::printf("[%s] %s prefetch %d: accesses %llu hits %llu misses %llu prefetched %llu used %llu unused %llu\n",
                  GetParam().c_str(), eviction_kind_name(policy), int(prefetch), (unsigned long long)s.accesses,
                  (unsigned long long)s.hits, (unsigned long long)s.misses, (unsigned long long)s.prefetch_reads,
                  (unsigned long long)s.prefetch_hits, (unsigned long long)s.prefetch_unused);
      EXPECT_EQ(s.hits + s.misses, s.accesses);
      EXPECT_LE(s.prefetch_hits + s.prefetch_unused, s.prefetch_reads);
      if (prefetch) {
        EXPECT_GT(s.prefetch_reads, 0u);
        EXPECT_GT(s.prefetch_hits, 0u);
      } else {
        EXPECT_EQ(s.prefetch_reads, 0u);
      }
    }
  }
}

TEST_P(PrefetchTest, APrefetchedExpertIsAHitWithTheFileBytes) {
  auto m = open({slots(k_ + 2)});
  ASSERT_TRUE(m);
  ExpertStore& store = m->expert_store();
  ASSERT_TRUE(store.wants_prefetch());
  const int64_t layer = moe_layers_[1];
  const int32_t ids[2] = {3, 1};
  store.prefetch(layer, ids, 2);
  store.wait_idle();
  ExpertStats s = store.stats();
  EXPECT_EQ(s.prefetch_reads, 2u);
  EXPECT_EQ(s.misses, 0u);
  const int32_t sorted[2] = {1, 3};
  ExpertWeights views[2];
  ASSERT_TRUE(store.acquire(layer, sorted, 2, views));
  s = store.stats();
  EXPECT_EQ(s.misses, 0u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.prefetch_hits, 2u);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(expert_bytes(views[i]), expert_bytes(m->expert(layer, sorted[i])));
  store.release(layer, sorted, 2);
}

TEST_P(PrefetchTest, PrefetchNeverEvictsPinnedExperts) {
  auto m = open({slots(k_ + 1)});
  ASSERT_TRUE(m);
  ExpertStore& store = m->expert_store();
  ASSERT_TRUE(store.wants_prefetch());
  const int64_t layer = moe_layers_[0];
  std::vector<int32_t> pinned, others;
  for (int32_t i = 0; i < int32_t(k_); ++i) pinned.push_back(i), others.push_back(int32_t(k_) + i);
  std::vector<ExpertWeights> views(pinned.size());
  ASSERT_TRUE(store.acquire(layer, pinned.data(), int64_t(pinned.size()), views.data()));
  store.prefetch(moe_layers_[1], others.data(), int64_t(others.size()));  // one free slot only
  store.wait_idle();
  EXPECT_EQ(store.stats().prefetch_reads, 1u);
  for (size_t i = 0; i < pinned.size(); ++i)
    EXPECT_EQ(expert_bytes(views[i]), expert_bytes(m->expert(layer, pinned[i]))) << "expert " << pinned[i];
  store.release(layer, pinned.data(), int64_t(pinned.size()));
}

// A failed speculative read that nobody waited for frees its slot; the acquire reads on demand
// (and reports that read's error while reads keep failing).
TEST_P(PrefetchTest, FailedPrefetchFreesItsSlotAndAcquireReadsOnDemand) {
  auto m = open({slots(k_ + 2)});
  ASSERT_TRUE(m);
  ExpertStore& store = m->expert_store();
  const int64_t layer = moe_layers_[1];
  const int32_t id = 2;
  store.inject_read_failure_after(0);
  store.prefetch(layer, &id, 1);
  store.wait_idle();
  EXPECT_EQ(store.stats().prefetch_reads, 1u);
  EXPECT_EQ(store.stats().bytes_read, 0u);
  ExpertWeights view;
  Status st = store.acquire(layer, &id, 1, &view);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("offset"), std::string::npos) << st.message();
  store.inject_read_failure_after(-1);
  ASSERT_TRUE(store.acquire(layer, &id, 1, &view));
  EXPECT_EQ(expert_bytes(view), expert_bytes(m->expert(layer, id)));
  store.release(layer, &id, 1);
  const ExpertStats s = store.stats();
  EXPECT_EQ(s.prefetch_hits, 0u);
  EXPECT_EQ(s.misses, 2u);  // the failed demand read and the good one
  EXPECT_EQ(s.hits, 0u);
}

TEST_P(PrefetchTest, ReadErrorsDuringGenerationWithPrefetchLeaveTheModelUsable) {
  const std::vector<float> ref = run_logits(*resident_, 8);
  auto m = open({half_budget()});
  ASSERT_TRUE(m);
  for (int64_t after : {0, 2, 5, 9}) {
    auto s = Session::create(*m);
    ASSERT_TRUE(s);
    std::vector<float> logits(size_t(m->hparams().vocab_size) * 8);
    std::vector<int32_t> ids = {5, 9, 11, 40, 2, 7, 8, 1};
    m->expert_store().inject_read_failure_after(after);
    Status st;
    for (int round = 0; round < 3 && st; ++round) st = (*s)->prefill(ids, logits.data(), LogitsMode::kAll);
    EXPECT_EQ(st.code(), StatusCode::kIoError) << "after " << after;
    m->expert_store().wait_idle();
    m->expert_store().inject_read_failure_after(-1);
  }
  EXPECT_TRUE(same_bits(run_logits(*m, 8), ref));
}

TEST_P(PrefetchTest, SessionsOnThreadsShareAPrefetchingStore) {
  const std::vector<float> ref = run_logits(*resident_, 10);
  auto m = open({half_budget(), true, 1});
  ASSERT_TRUE(m);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) threads.emplace_back([&, i] { got[i] = run_logits(*m, 10); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_TRUE(same_bits(g, ref));
  m->expert_store().wait_idle();
  const ExpertStats s = m->expert_store().stats();
  EXPECT_EQ(s.hits + s.misses, s.accesses);
}

TEST_P(PrefetchTest, DecodeWithPrefetchDoesNotAllocate) {
  auto m = open({half_budget(), true, 1});
  ASSERT_TRUE(m);
  SessionOptions so;
  so.max_context = 64;
  auto s = Session::create(*m, so);
  ASSERT_TRUE(s);
  std::vector<int32_t> ids = {3, 8, 13, 21, 34, 55, 89, 144};
  for (int32_t& id : ids) id %= int32_t(m->hparams().vocab_size);
  std::vector<float> logits(size_t(8 * m->hparams().vocab_size));
  ASSERT_TRUE((*s)->prefill(ids, logits.data(), LogitsMode::kLast));
  int64_t count = 0;
  {
    test::CountAllocations counter;
    for (int i = 0; i < 6; ++i) (void)(*s)->decode(ids[size_t(i)], logits.data());
    m->expert_store().wait_idle();
    count = counter.count();
  }
  EXPECT_EQ(count, 0);
  EXPECT_GT(m->expert_store().stats().prefetch_reads, 0u);
}

TEST_P(PrefetchTest, HotPinningKeepsAMuchUsedExpertThroughAColdBurst) {
  const int64_t layer = moe_layers_[0];
  const int64_t E = resident_->hparams().n_routed_experts;
  uint64_t misses[2] = {};
  for (int hot = 0; hot < 2; ++hot) {
    auto m = open({slots(k_ + 2), /*prefetch=*/false, hot});
    ASSERT_TRUE(m);
    ExpertStore& store = m->expert_store();
    EXPECT_EQ(store.hot_slot_count(), hot);
    const int32_t favourite = 0;
    ExpertWeights view;
    for (int i = 0; i < 400; ++i) {  // more than a repin period of uses
      ASSERT_TRUE(store.acquire(layer, &favourite, 1, &view));
      store.release(layer, &favourite, 1);
    }
    for (int32_t id = 1; id < int32_t(E); ++id) {  // a burst of E-1 cold experts, more than the slots
      ASSERT_TRUE(store.acquire(layer, &id, 1, &view));
      store.release(layer, &id, 1);
    }
    const uint64_t before = store.stats().misses;
    ASSERT_TRUE(store.acquire(layer, &favourite, 1, &view));
    EXPECT_EQ(expert_bytes(view), expert_bytes(m->expert(layer, favourite)));
    store.release(layer, &favourite, 1);
    misses[hot] = store.stats().misses - before;
  }
  EXPECT_EQ(misses[0], 1u) << "LRU alone evicts the favourite";
  EXPECT_EQ(misses[1], 0u) << "hot pinning keeps it";
  auto m = open({half_budget(), true, 2});
  ASSERT_TRUE(m);
  EXPECT_TRUE(same_bits(run_logits(*m, 12), run_logits(*resident_, 12)));
}

// Truncates a copy of the model under an open, budgeted model so that the last MoE layer's
// experts are cut off (every dense segment lies before them, so mapped pages stay valid): the
// forward returns kIoError naming the file, the session keeps its position, and once the bytes
// are back the same session and model produce the resident logits.
TEST_P(PrefetchTest, TruncatedFileDuringGenerationIsAnErrorThenRecovers) {
  const std::vector<float> ref = run_logits(*resident_, 8);
  const fs::path copy = work_ / "copy.mote";
  fs::copy_file(path_, copy);
  const std::string original = test::read_file_bytes(copy);
  ModelOptions o;
  o.expert_budget_bytes = half_budget();
  auto opened = Model::open(copy.string(), o);
  ASSERT_TRUE(opened) << opened.status().to_string();
  Model& m = **opened;
  const MoteFile& file = m.file();
  std::vector<bool> expert_segment(file.model().segments()->size(), false);
  uint64_t cut = UINT64_MAX;
  for (const fb::ExpertLayer* el : *file.model().expert_layers())
    for (const fb::Expert* e : *el->experts()) {
      expert_segment[e->segment()] = true;
      if (el->layer() == moe_layers_.back()) cut = std::min(cut, file.segment_file_offset(e->segment()));
    }
  for (uint32_t i = 0; i < expert_segment.size(); ++i)
    if (!expert_segment[i]) {
      ASSERT_LE(file.segment_file_offset(i) + file.segment_size(i), cut) << "segment " << i << " after the cut";
    }
  fs::resize_file(copy, cut);

  auto s = Session::create(m);
  ASSERT_TRUE(s);
  std::vector<int32_t> ids = {5, 9, 11, 40, 2, 7, 8, 1};
  std::vector<float> logits(size_t(m.hparams().vocab_size) * ids.size());
  Status st = (*s)->prefill(ids, logits.data(), LogitsMode::kAll);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find(copy.string()), std::string::npos) << st.message();
  EXPECT_EQ((*s)->position(), 0);
  st = (*s)->decode(ids[0], logits.data());
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  m.expert_store().wait_idle();

  test::write_file_bytes(copy, original);  // the bytes are back
  EXPECT_TRUE(same_bits(run_logits(m, 8), ref));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrefetchTest, ::testing::Values(std::string("ds3_bias"), std::string("ds2_lite")),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mote
