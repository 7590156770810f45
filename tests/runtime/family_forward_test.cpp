// The registry's own_forward hook (model/family.h): families::forward_as runs a family's own
// forward when it names one, with the decoder's arguments unchanged, and the shared decoder
// otherwise; families::forward looks the model's family up (every registered family uses the
// shared decoder today, so its logits equal forward_as with the registry's spec).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "families/decoder.h"
#include "model/family.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

// What the fake family forward saw.
struct Seen {
  int calls = 0;
  int64_t n_tokens = 0, start = 0;
  size_t n_caches = 0;
  int32_t first_id = -1;
};
Seen g_seen;

Status fake_forward(const Model&, const int32_t* ids, int64_t n_tokens, int64_t start,
                    std::span<const blocks::LayerCache> caches, const families::DecoderScratch&,
                    families::LogitsMode, float* logits, float*) {
  ++g_seen.calls;
  g_seen.n_tokens = n_tokens;
  g_seen.start = start;
  g_seen.n_caches = caches.size();
  g_seen.first_id = ids[0];
  if (logits != nullptr) logits[0] = 42.0f;
  return Status::ok();
}

class FamilyForward : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_temp_dir("family_forward");
    const fs::path out = dir_ / "olmoe_f32.mote";
    auto r = test::run_command({MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / "olmoe_tiny").string(), "-o",
                                out.string(), "--weights", "f32", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto m = Model::open(out.string());
    ASSERT_TRUE(m) << m.status().to_string();
    model_ = std::move(m).value();
    const HParams& hp = model_->hparams();
    backend::Backend& b = model_->backend();
    const families::ScratchSize size = families::decoder_scratch_size(b, hp, kTokens, kTokens);
    device_ = DeviceBuffer(b.alloc(size.device_bytes), DeviceFree{&b});
    host_.resize(size_t(size.host_bytes));
    scratch_ = families::carve_decoder_scratch(b, hp, kTokens, kTokens, device_.get(), host_.data());
    cache_.assign(size_t(hp.n_layers * kTokens * hp.kv_cache_dim), 0.0f);
    for (int64_t l = 0; l < hp.n_layers; ++l)
      caches_.push_back({reinterpret_cast<uint8_t*>(cache_.data() + l * kTokens * hp.kv_cache_dim), KvType::kF32, 0,
                         hp.kv_cache_dim * 4});
  }
  void TearDown() override {
    device_.reset();
    model_.reset();
    fs::remove_all(dir_);
  }
  std::vector<float> logits(const FamilySpec& family, const std::vector<int32_t>& ids) {
    std::vector<float> out(size_t(model_->hparams().vocab_size), -1.0f);
    const Status st = families::forward_as(family, *model_, ids.data(), int64_t(ids.size()), 0, caches_, scratch_,
                                           families::LogitsMode::kLast, out.data());
    EXPECT_TRUE(st) << st.to_string();
    return out;
  }

  static constexpr int64_t kTokens = 8;
  using DeviceBuffer = std::unique_ptr<void, DeviceFree>;
  fs::path dir_;
  std::unique_ptr<Model> model_;
  DeviceBuffer device_{nullptr, DeviceFree{nullptr}};
  std::vector<uint8_t> host_;
  families::DecoderScratch scratch_;
  std::vector<float> cache_;
  std::vector<blocks::LayerCache> caches_;
};

TEST_F(FamilyForward, OwnForwardReplacesTheSharedDecoder) {
  FamilySpec own = *find_family(model_->hparams().arch);
  own.own_forward = &fake_forward;
  g_seen = {};
  const std::vector<float> out = logits(own, {5, 6, 7});
  EXPECT_EQ(g_seen.calls, 1);
  EXPECT_EQ(g_seen.n_tokens, 3);
  EXPECT_EQ(g_seen.start, 0);
  EXPECT_EQ(g_seen.n_caches, size_t(model_->hparams().n_layers));
  EXPECT_EQ(g_seen.first_id, 5);
  EXPECT_EQ(out[0], 42.0f);
  EXPECT_EQ(out[1], -1.0f);  // nothing but the family's forward wrote the logits
}

TEST_F(FamilyForward, RegisteredFamilyRunsTheSharedDecoder) {
  const FamilySpec& registered = *find_family(model_->hparams().arch);
  ASSERT_EQ(registered.own_forward, nullptr);
  g_seen = {};
  const std::vector<int32_t> ids = {5, 6, 7};
  const std::vector<float> via_spec = logits(registered, ids);
  std::vector<float> via_forward(via_spec.size());
  ASSERT_TRUE(families::forward(*model_, ids.data(), 3, 0, caches_, scratch_, families::LogitsMode::kLast,
                                via_forward.data()));
  EXPECT_EQ(g_seen.calls, 0);
  EXPECT_EQ(std::memcmp(via_spec.data(), via_forward.data(), via_spec.size() * 4), 0);
  EXPECT_NE(via_spec[1], -1.0f);
}

}  // namespace
}  // namespace mote
