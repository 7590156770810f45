// mote_session_params.kv_type (API version 4): the default, validation, the KV bytes per type,
// and greedy ids close to f32's, on the ds3_tiny fixture (MLA with MTP).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

class CApiKvType : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_kv_type");
    path_ = (dir_ / "ds3_tiny.mote").string();
    auto r = mote::test::run_command(
        {MOTE_CONVERT_BIN, (fs::path(MOTE_FIXTURES_DIR) / "ds3_tiny").string(), "-o", path_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static inline fs::path dir_;
  static inline std::string path_;
};

TEST_F(CApiKvType, DefaultValidationAndBytes) {
  EXPECT_GE(MOTE_API_VERSION, 4);  // kv_type arrived in version 4
  EXPECT_EQ(mote_session_params_default().kv_type, MOTE_KV_F16);
  const mote_model_params mp = mote_model_params_default();
  mote_model* m = nullptr;
  ASSERT_EQ(mote_model_open(path_.c_str(), &mp, &m), MOTE_OK) << mote_last_error();
  mote_session_params sp = mote_session_params_default();
  sp.max_context = 256;
  sp.mtp = 0;
  sp.kv_type = static_cast<mote_kv_type>(7);
  mote_session* s = nullptr;
  EXPECT_EQ(mote_session_create(m, &sp, &s), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(std::string(mote_last_error()).find("kv_type"), std::string::npos) << mote_last_error();
  uint64_t bytes[3] = {};
  const mote_kv_type types[3] = {MOTE_KV_F32, MOTE_KV_F16, MOTE_KV_Q8_0};
  for (int i = 0; i < 3; ++i) {
    sp.kv_type = types[i];
    ASSERT_EQ(mote_session_create(m, &sp, &s), MOTE_OK) << mote_last_error();
    const int32_t prompt[5] = {3, 17, 42, 5, 9};
    mote_generate_params gp = mote_generate_params_default();
    gp.max_tokens = 4;
    gp.ignore_eos = 1;
    EXPECT_EQ(mote_generate_tokens(s, prompt, 5, &gp, nullptr, nullptr), MOTE_OK) << mote_last_error();
    mote_stats stats{};
    ASSERT_EQ(mote_session_get_stats(s, &stats), MOTE_OK);
    bytes[i] = stats.kv_cache_bytes;
    mote_session_destroy(s);
  }
  EXPECT_EQ(bytes[1] * 2, bytes[0]);  // f16: half of f32 (one latent piece per layer and position)
  EXPECT_LT(bytes[2], bytes[1]);      // q8_0: 36 bytes per 32 values
  EXPECT_GT(bytes[2], bytes[0] / 4);
  mote_model_destroy(m);
}

}  // namespace
