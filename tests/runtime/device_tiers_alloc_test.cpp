// The tiered MoE (blocks/ffn_tiers.h) allocates nothing in decode, on the staging backend (the
// GPU test double) with every expert on the device (resident mode: no lock either) and with a
// device cache of a quarter of the experts in each miss mode (uploads, CPU, the measured choice).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/alloc_counter.h"
#include "common/test_util.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

TEST(DeviceTiersAlloc, DecodeAllocatesNothingInEveryTierMode) {
  const fs::path dir = test::fresh_temp_dir("device_tiers_alloc");
  const std::string path = (dir / "olmoe_tiny.mote").string();
  auto r = test::run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / "olmoe_tiny").string(), "-o", path,
                              "--weights", "q8_0", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ModelOptions o;
  o.backend.kind = backend::BackendKind::kStaging;
  o.backend.n_threads = 2;
  auto probe = Model::open(path, o);
  ASSERT_TRUE(probe) << probe.status().to_string();
  const DevicePlacement full = (*probe)->placement();
  const uint64_t slot = (*probe)->device_experts()->slot_bytes();
  const int64_t quarter = (*probe)->device_experts()->total_experts() / 4;
  for (int mode = -1; mode < 3; ++mode) {  // -1: no budget (resident), then auto, upload, cpu
    ModelOptions mo = o;
    if (mode >= 0) {
      mo.vram_session_bytes = 16 << 20;
      mo.vram_budget_bytes = full.dense_bytes + mo.vram_session_bytes + uint64_t(quarter) * slot;
      mo.expert_tier_mode = static_cast<TierMode>(mode);
    }
    auto m = Model::open(path, mo);
    ASSERT_TRUE(m) << m.status().to_string();
    EXPECT_EQ((*m)->device_experts()->all_resident(), mode < 0);
    SessionOptions so;
    so.max_context = 64;
    so.max_batch = 8;
    auto s = Session::create(**m, so);
    ASSERT_TRUE(s) << s.status().to_string();
    std::vector<float> logits(size_t((*m)->hparams().vocab_size));
    const std::vector<int32_t> prompt = {1, 17, 5, 200, 42};
    ASSERT_TRUE((*s)->prefill(prompt, logits.data()));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE((*s)->decode(7 + i, logits.data()));  // warm: measured choices settle
    int64_t count = 0;
    {
      test::CountAllocations counter;
      for (int i = 0; i < 8; ++i) (void)(*s)->decode(11 + 3 * i, logits.data());
      count = counter.count();
    }
    EXPECT_EQ(count, 0) << "mode " << mode;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mote
