// ConverterMemory: the converter's peak RSS is bounded by a constant independent of the model
// size (see the bound in converter/main.cpp). A ~530 MB F32 checkpoint (large vocab x hidden,
// tiny everything else) is generated streaming, 1 MiB at a time, and converted with
// --chunk-mb 4; the child's peak RSS (wait4 ru_maxrss) must stay under 64 MiB.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "converter/ckpt_builder.h"
#include "converter/convert_util.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;

// Removes the folder even when an assertion fails.
struct RemoveOnExit {
  fs::path dir;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

TEST(ConverterMemory, PeakRssIsBoundedOnALargeCheckpoint) {
  RemoveOnExit guard{fresh_temp_dir("memory_bound")};
  const fs::path dir = guard.dir;
  TinySpec spec;
  spec.vocab = 65536;
  spec.hidden = 1024;
  spec.nextn = 0;
  const TinyCheckpoint ck = make_tiny(spec);  // embed_tokens and lm_head [65536, 1024] are lazy
  uint64_t total = 0;
  for (const StTensor& t : ck.tensors) total += t.byte_size();
  ck.write(dir / "hf", 2);
  ASSERT_GT(total, uint64_t(500) << 20) << "checkpoint too small to prove anything";
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote", {"--chunk-mb", "4", "--weights", "q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  const double peak_mib = double(r.peak_rss_bytes) / (1 << 20);
  std::printf("[ConverterMemory] checkpoint %.1f MB, output %.1f MB, converter peak RSS %.1f MiB "
              "(test process %.1f MiB)\n%s", double(total) / 1e6, double(fs::file_size(dir / "m.mote")) / 1e6,
              peak_mib, double(self.ru_maxrss) / 1024, r.err.c_str());
  RecordProperty("peak_rss_mib", std::to_string(peak_mib));
  RecordProperty("checkpoint_mb", std::to_string(double(total) / 1e6));
  EXPECT_LT(r.peak_rss_bytes, int64_t(64) << 20);
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->find_tensor("lm_head.weight")->type(), fb::WeightType::Q8_0);
  f.reset();

  // Interrupted mid-conversion (SIGTERM): neither output nor temporary file may remain.
  const fs::path out = dir / "killed";
  fs::create_directories(out);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(MOTE_CONVERT_BIN, MOTE_CONVERT_BIN, (dir / "hf").c_str(), "-o", (out / "m.mote").c_str(),
          "--weights", "q4", "--threads", "1", "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the temporary file exists (conversion under way), then interrupt.
  bool started = false;
  for (int i = 0; i < 500 && !started; ++i) {
    started = !files_containing(out, ".tmp-").empty();
    if (!started) usleep(10000);
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(started) << "conversion never started";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_TRUE(fs::is_empty(out)) << "left: " << (fs::is_empty(out) ? "" : files_containing(out, "")[0]);
}

}  // namespace
}  // namespace mote::test
