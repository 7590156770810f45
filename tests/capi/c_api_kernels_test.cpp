// Per-model kernel settings through libmote.so only (mote_model_params.kernels and n_threads):
// two models opened from the bundled demo model (converted at q8_0), one on the reference kernel
// table with 1 thread and one on the best table with 2, evaluate side by side from two threads;
// each gives, bit for bit, the logits and tokens it gives when it runs alone. Where this CPU has
// a fast table the two models' logits differ (the int8 activations of the fast Q8_0 kernels), so
// a model that ran the other's table, or a process-wide one, is caught. Bad names and the
// backend this build lacks are one-line errors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

class CApiKernelsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_kernels");
    path_ = (dir_ / "demo.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static mote_model* open(const char* kernels, int threads) {
    mote_model_params p = mote_model_params_default();
    p.kernels = kernels;
    p.n_threads = threads;
    mote_model* m = nullptr;
    EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_OK) << mote_last_error();
    return m;
  }

  // A prefill of a real prompt, then 8 greedy decode steps: every step's logits, then the ids.
  struct Run {
    std::vector<float> logits;
    std::vector<int32_t> ids;
  };
  static Run run(mote_model* model) {
    Run out;
    mote_model_info info{};
    EXPECT_EQ(mote_model_get_info(model, &info), MOTE_OK);
    const size_t vocab = size_t(info.vocab_size);
    const char* prompt = "Once upon a time, in a small village by the sea,";
    std::vector<int32_t> ids(64);
    size_t n = 0;
    EXPECT_EQ(mote_tokenize(model, prompt, std::strlen(prompt), 1, ids.data(), ids.size(), &n), MOTE_OK)
        << mote_last_error();
    ids.resize(n);
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(model, nullptr, &s), MOTE_OK) << mote_last_error();
    if (s == nullptr) return out;
    std::vector<float> logits(vocab);
    EXPECT_EQ(mote_session_eval(s, ids.data(), ids.size(), 0, logits.data(), vocab), MOTE_OK) << mote_last_error();
    for (int step = 0; step < 8; ++step) {
      out.logits.insert(out.logits.end(), logits.begin(), logits.end());
      int32_t next = 0;
      for (size_t i = 1; i < vocab; ++i)
        if (logits[i] > logits[size_t(next)]) next = int32_t(i);
      out.ids.push_back(next);
      EXPECT_EQ(mote_session_eval(s, &next, 1, 0, logits.data(), vocab), MOTE_OK) << mote_last_error();
    }
    mote_session_destroy(s);
    return out;
  }

  static bool same_bits(const Run& a, const Run& b) {
    return a.ids == b.ids && a.logits.size() == b.logits.size() &&
           std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * sizeof(float)) == 0;
  }

  static inline fs::path dir_;
  static inline std::string path_;
};

TEST_F(CApiKernelsTest, DefaultIsTheBestTable) {
  const mote_model_params p = mote_model_params_default();
  EXPECT_EQ(p.kernels, nullptr);
  EXPECT_EQ(p.backend, MOTE_BACKEND_CPU);
}

TEST_F(CApiKernelsTest, TwoModelsWithDifferentKernelsRunSideBySide) {
  mote_model* ref = open("reference", 1);
  mote_model* best = open("", 2);
  ASSERT_TRUE(ref && best);
  const Run ref_alone = run(ref), best_alone = run(best);
  ASSERT_EQ(ref_alone.ids.size(), 8u);
  // The same model on its own again: deterministic.
  EXPECT_TRUE(same_bits(run(ref), ref_alone));
  mote_model_info info{};
  ASSERT_EQ(mote_model_get_info(best, &info), MOTE_OK);
  // Whether this CPU has a fast table: a model opened on "avx2", "avx512" or "neon" opens.
  bool fast = false;
  for (const char* name : {"avx2", "avx512", "neon"}) {
    mote_model_params p = mote_model_params_default();
    p.kernels = name;
    mote_model* m = nullptr;
    if (mote_model_open(path_.c_str(), &p, &m) == MOTE_OK) {
      fast = true;
      mote_model_destroy(m);
    }
  }
  if (fast) {
    EXPECT_FALSE(same_bits(ref_alone, best_alone)) << "the reference and the best table gave the same bits";
  }
  for (int round = 0; round < 3; ++round) {
    Run a, b;
    std::thread ta([&] { a = run(ref); }), tb([&] { b = run(best); });
    ta.join();
    tb.join();
    EXPECT_TRUE(same_bits(a, ref_alone)) << "reference model, round " << round;
    EXPECT_TRUE(same_bits(b, best_alone)) << "best model, round " << round;
  }
  mote_model_destroy(ref);
  mote_model_destroy(best);
}

TEST_F(CApiKernelsTest, BadKernelNameAndMissingBackendAreOneLineErrors) {
  mote_model_params p = mote_model_params_default();
  p.kernels = "sse9";
  mote_model* m = nullptr;
  EXPECT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(m, nullptr);
  std::string e = mote_last_error();
  EXPECT_NE(e.find("sse9"), std::string::npos) << e;
  EXPECT_NE(e.find("reference"), std::string::npos) << e;  // the names that would work
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  // MOTE_BACKEND_CUDA: without MOTE_CUDA the build has no CUDA backend; with it, a machine
  // without a usable device (CI) gets CUDA's own reason; both are one-line MOTE_ERR_UNSUPPORTED.
  p = mote_model_params_default();
  p.backend = MOTE_BACKEND_CUDA;
  const mote_status cuda = mote_model_open(path_.c_str(), &p, &m);
  e = cuda == MOTE_OK ? std::string() : mote_last_error();
#if defined(MOTE_TEST_CUDA_BUILD)
  if (cuda == MOTE_OK) {  // a machine with a GPU
    mote_model_destroy(m);
    m = nullptr;
  } else {
    EXPECT_EQ(cuda, MOTE_ERR_UNSUPPORTED) << e;
    EXPECT_NE(e.find("MOTE_BACKEND_CUDA: no CUDA device: "), std::string::npos) << e;
  }
#else
  EXPECT_EQ(cuda, MOTE_ERR_UNSUPPORTED);
  EXPECT_NE(e.find("this build has no CUDA backend (configure with -DMOTE_CUDA=ON)"), std::string::npos) << e;
#endif
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  p = mote_model_params_default();
  p.kernels = "reference";
  ASSERT_EQ(mote_model_open(path_.c_str(), &p, &m), MOTE_OK) << mote_last_error();
  mote_model_destroy(m);
}

}  // namespace
