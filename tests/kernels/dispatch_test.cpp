// Choice of the kernel table (best for the CPU, or MOTE_KERNELS) and the end-to-end check of the
// fixture models converted to F32, Q8_0 and Q8_0 + Q4 experts under every fast table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "kernels/kernel_test_util.h"

#if defined(MOTE_CLI_BIN)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/test_util.h"

namespace fs = std::filesystem;
#endif

namespace mote {
namespace {

// Sets MOTE_KERNELS for the scope of the object (restoring the previous value).
class ScopedKernelsEnv {
 public:
  explicit ScopedKernelsEnv(const char* value) {
    if (const char* old = std::getenv("MOTE_KERNELS")) old_ = old, had_ = true;
    if (value) setenv("MOTE_KERNELS", value, 1);
    else unsetenv("MOTE_KERNELS");
  }
  ~ScopedKernelsEnv() {
    if (had_) setenv("MOTE_KERNELS", old_.c_str(), 1);
    else unsetenv("MOTE_KERNELS");
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(Dispatch, DefaultIsTheBestTableThisCpuRuns) {
  ScopedKernelsEnv env(nullptr);
  const kernels::KernelTable* all[8];
  const int n = kernels::available_kernels(all, 8);
  ASSERT_GE(n, 1);
  EXPECT_EQ(all[0], &kernels::reference_kernels());
  EXPECT_EQ(&kernels::default_kernels(), all[n - 1]);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_STREQ(kernels::default_kernels().name, cpu::amx_supported() ? "avx512-amx" : "avx512");
  }
#endif
}

TEST(Dispatch, EnvironmentForcesATable) {
  for (const char* name : {"reference", "avx2", "avx512", "avx512-amx", "neon"}) {
    const kernels::KernelTable* t = kernels::find_kernels(name);
    if (!t) continue;
    ScopedKernelsEnv env(name);
    EXPECT_EQ(&kernels::default_kernels(), t) << name;
    EXPECT_STREQ(kernels::default_kernels().name, name);
  }
}

#if defined(__x86_64__)
// AMX follows CPUID, the OS's tile state and MOTE_AMX. ctest runs this binary's Dispatch tests a
// second time with MOTE_AMX=0 (kernels_dispatch_amx_forced_off): then the avx512-amx table must
// be absent and the default must be the AVX-512 table on any CPU, AMX or not.
TEST(Dispatch, AmxTableFollowsTheCpuAndMoteAmx) {
  ScopedKernelsEnv env(nullptr);
  const char* amx_env = std::getenv("MOTE_AMX");
  const bool forced_off = amx_env && std::string(amx_env) == "0";
  unsigned a = 0, b = 0, c = 0, d = 0;
  __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  const bool cpuid_amx = (d >> 24 & 1) && (d >> 25 & 1);
  if (forced_off || !cpuid_amx) {
    EXPECT_FALSE(cpu::amx_supported());
    EXPECT_EQ(kernels::find_kernels("avx512-amx"), nullptr);
    EXPECT_EQ(cpu::isa_ops("avx512-amx"), nullptr);
    if (cpu::cpu_supports("avx512")) EXPECT_STREQ(kernels::default_kernels().name, "avx512");
  }
  if (forced_off) {
    ScopedKernelsEnv forced("avx512-amx");  // asked for by name, still refused (one warning)
    testing::internal::CaptureStderr();
    EXPECT_EQ(&kernels::default_kernels(), &kernels::reference_kernels());
    testing::internal::GetCapturedStderr();
  }
  if (cpu::amx_supported()) {
    EXPECT_TRUE(cpuid_amx);
    ASSERT_NE(kernels::find_kernels("avx512-amx"), nullptr);
    EXPECT_STREQ(kernels::default_kernels().name, "avx512-amx");
  }
}
#endif

TEST(Dispatch, UnknownNameGivesReferenceAndOneWarningLine) {
  ScopedKernelsEnv env("sse9000");
  testing::internal::CaptureStderr();
  const kernels::KernelTable& k = kernels::default_kernels();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(&k, &kernels::reference_kernels());
  EXPECT_NE(err.find("MOTE_KERNELS=sse9000"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(Dispatch, FindKernelsRejectsUnknownNames) {
  EXPECT_EQ(kernels::find_kernels("nope"), nullptr);
  EXPECT_EQ(kernels::find_kernels("reference"), &kernels::reference_kernels());
}

#if defined(MOTE_CLI_BIN)
// The fixtures converted to Q8_0 (and Q8_0 with Q4 routed experts), run by the CLI with
// MOTE_KERNELS=reference and with each fast table.
//
// Greedy token sequences are not required to be identical: int8 activations move the logits by
// about as much as Q8_0 weights do (on ds2_lite: max 0.10, rms 0.03 at logit scale 8..13), and
// these random tiny models have near ties (ds2_lite's 11th generated token has a top-2 margin of
// 0.036 with the reference kernels, 0.079 in F32; the fast tables pick the runner-up). So the
// check is teacher-forced: over the prompt plus the reference's greedy continuation, every
// position's argmax must agree, except where the reference's own margin between the two picks is
// below 2% of the row's largest |logit| (twice the largest activation-quantisation error seen).
// F32 files (no activation quantisation) must give identical greedy continuations.
class GreedyAcrossTables : public ::testing::TestWithParam<std::string> {
 protected:
  struct Run { int exit_code; std::string out, err; };
  static Run cli(const char* table, const std::vector<std::string>& args) {
    ScopedKernelsEnv env(table);
    std::vector<std::string> argv = {MOTE_CLI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    // The exact f32 KV cache: this compares kernel tables, not cache roundings (an f16 cache moves
    // q4-expert routing near-ties of ds3_tiny / ds3_bias differently per table).
    argv.insert(argv.end(), {"--kv-type", "f32"});
    const auto r = test::run_command(argv);
    return {r.exit_code, r.out, r.err};
  }
  static std::vector<float> read_floats(const fs::path& path) {
    const std::string bytes = test::read_file_bytes(path);
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    return v;
  }
};

std::string join(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

TEST_P(GreedyAcrossTables, FastTablesAgreeWithReferenceOnConvertedFixture) {
  const fs::path dir = fs::path(MOTE_FIXTURES_DIR) / GetParam();
  if (!fs::exists(dir / "reference.json")) GTEST_FAIL() << "missing fixture " << dir;
  const auto ref = nlohmann::json::parse(test::read_file_bytes(dir / "reference.json"));
  const std::vector<int> prompt = ref.at("greedy_prompt").get<std::vector<int>>();
  std::vector<int> ids = prompt;
  for (int id : ref.at("greedy_continuation").get<std::vector<int>>()) ids.push_back(id);
  const int64_t vocab = ref.at("vocab_size").get<int64_t>();
  const std::string n = std::to_string(ref.at("greedy_n").get<int>());
  const fs::path work = test::fresh_temp_dir("kern_greedy_" + GetParam());
  struct Recipe { std::string name; std::vector<std::string> flags; };
  for (const Recipe& recipe : {Recipe{"f32", {"--weights", "f32"}}, Recipe{"q8_0", {"--weights", "q8_0"}},
                               Recipe{"q8_0+q4experts", {"--weights", "q8_0", "--expert-weights", "q4"}}}) {
    const fs::path model = work / (recipe.name + ".mote");
    std::vector<std::string> argv = {MOTE_CONVERT_BIN, dir.string(), "-o", model.string(), "--quiet"};
    argv.insert(argv.end(), recipe.flags.begin(), recipe.flags.end());
    const auto conv = test::run_command(argv);
    ASSERT_EQ(conv.exit_code, 0) << conv.err;
    const Run want_run = cli("reference", {"run", model.string(), "--ids", join(prompt), "-n", n});
    ASSERT_EQ(want_run.exit_code, 0) << want_run.err;
    const fs::path ref_logits = work / "ref.f32";
    const Run rl = cli("reference", {"logits", model.string(), "--ids", join(ids), "--out", ref_logits.string(), "--mode", "prefill"});
    ASSERT_EQ(rl.exit_code, 0) << rl.err;
    const std::vector<float> want = read_floats(ref_logits);
    ASSERT_EQ(int64_t(want.size()), int64_t(ids.size()) * vocab);
    for (const kernels::KernelTable* k : test::fast_tables()) {
      const std::string what = GetParam() + " " + recipe.name + " with " + k->name;
      const Run got_run = cli(k->name, {"run", model.string(), "--ids", join(prompt), "-n", n});
      ASSERT_EQ(got_run.exit_code, 0) << got_run.err;
      if (recipe.name == "f32") EXPECT_EQ(got_run.out, want_run.out) << what;
      else if (got_run.out != want_run.out)
        std::printf("[%s] greedy continuation differs (near tie):\n  reference %s  fast      %s", what.c_str(),
                    want_run.out.c_str(), got_run.out.c_str());
      const fs::path fast_logits = work / "fast.f32";
      const Run fl = cli(k->name, {"logits", model.string(), "--ids", join(ids), "--out", fast_logits.string(), "--mode", "prefill"});
      ASSERT_EQ(fl.exit_code, 0) << fl.err;
      const std::vector<float> got = read_floats(fast_logits);
      ASSERT_EQ(got.size(), want.size());
      for (size_t p = prompt.size() - 1; p < ids.size(); ++p) {
        const float* w = want.data() + p * size_t(vocab);
        const float* g = got.data() + p * size_t(vocab);
        const int64_t a = std::max_element(w, w + vocab) - w, b = std::max_element(g, g + vocab) - g;
        float scale = 0;
        for (int64_t v = 0; v < vocab; ++v) scale = std::max(scale, std::fabs(w[v]));
        if (a != b) {
          EXPECT_LE(w[a] - w[b], 0.02f * scale) << what << ": position " << p << " picks " << b << " over " << a;
        }
      }
    }
  }
  fs::remove_all(work);
}

// Every fixture directory with a reference.json (new architectures join automatically).
std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(MOTE_FIXTURES_DIR))
    if (fs::exists(e.path() / "reference.json")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GreedyAcrossTables, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });
#endif

}  // namespace
}  // namespace mote
