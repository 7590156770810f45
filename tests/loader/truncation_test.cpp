// A .mote file truncated while a model generates from it: the process must never die of SIGBUS.
// Each call either completes or returns kIoError naming the file (the mapping's SIGBUS guard,
// cpu/mapped_file.h, or the expert store's pread), with and without an expert budget. Each mode
// runs in a forked child, so a SIGBUS shows up as the child's signal, not as a crashed test binary.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.h"
#include "cpu/mapped_file.h"
#include "model/model.h"
#include "session/session.h"

namespace fs = std::filesystem;
using namespace mote;

namespace {

struct Tally {
  int completed = 0, io_errors = 0, other = 0;
};

// Generates up to 1500 tokens (one decode per step) until done or an error; returns the status.
Status generate(const Model& model) {
  SessionOptions so;
  so.max_context = 1600;
  auto session = Session::create(model, so);
  if (!session) return session.status();
  std::vector<float> logits(size_t(model.hparams().vocab_size));
  const int32_t prompt[] = {1, 2, 3};
  MOTE_RETURN_IF_ERROR((*session)->prefill(prompt, logits.data()));
  for (int i = 0; i < 1500; ++i) MOTE_RETURN_IF_ERROR((*session)->decode(int32_t(i % 7), logits.data()));
  return Status::ok();
}

// One iteration: fresh copy, open, generate in a thread, truncate it after 0-2 ms to a random size.
void iteration(const fs::path& path, const std::string& good, uint64_t budget, std::mt19937& rng, Tally* tally) {
  mote::test::write_file_bytes(path, good);
  ModelOptions mo;
  mo.expert_budget_bytes = budget;
  auto model = Model::open(path.string(), mo);
  if (!model) {
    std::fprintf(stderr, "open failed: %s\n", model.status().to_string().c_str());
    ++tally->other;
    return;
  }
  Status result;
  std::thread worker([&] { result = generate(**model); });
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
  if (truncate(path.c_str(), off_t(rng() % good.size())) != 0) std::perror("truncate");
  worker.join();
  if (result.is_ok()) {
    ++tally->completed;
  } else if (result.code() == StatusCode::kIoError && result.message().find(path.string()) != std::string::npos) {
    ++tally->io_errors;
  } else {
    std::fprintf(stderr, "unexpected: %s\n", result.to_string().c_str());
    ++tally->other;
  }
}

class TruncationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("truncation");
    const fs::path good = dir_ / "good.mote";
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o",
                                      good.string(), "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    good_ = mote::test::read_file_bytes(good);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Runs `iterations` in a forked child; the child exits 0 when no call failed unexpectedly.
  void run_mode(const std::string& name, uint64_t budget, int iterations) {
    const pid_t pid = fork();
    if (pid == 0) {
      std::mt19937 rng(42);
      Tally tally;
      for (int i = 0; i < iterations; ++i) iteration(dir_ / (name + ".mote"), good_, budget, rng, &tally);
      std::printf("%s: %d runs, %d completed, %d returned kIoError, %d other\n", name.c_str(), iterations,
                  tally.completed, tally.io_errors, tally.other);
      std::fflush(stdout);
      _exit(tally.other == 0 && tally.io_errors > 0 ? 0 : 2);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_FALSE(WIFSIGNALED(status)) << name << ": the child died of signal " << WTERMSIG(status)
                                      << " (7 = SIGBUS)";
    EXPECT_EQ(WEXITSTATUS(status), 0) << name << ": unexpected statuses or no truncation was ever seen";
  }

  static inline fs::path dir_;
  static inline std::string good_;
};

// MOTE_TEST_SCALE=small (qemu-aarch64, where 60 iterations take 250-280 s): 15 iterations; the
// file is still truncated under a running model in most of them (the run is slower there).
TEST_F(TruncationTest, ResidentModelNeverDiesOfSigbus) { run_mode("resident", 0, mote::test::scaled(60, 15)); }

TEST_F(TruncationTest, ExpertBudgetModelNeverDiesOfSigbus) {
  run_mode("budget", good_.size() / 4, mote::test::scaled(60, 15));
}

// The guard itself: a read past the new end of a truncated file reads zeros and marks the mapping.
TEST_F(TruncationTest, MappedFileReadPastTruncationReadsZerosAndIsFlagged) {
  const fs::path path = dir_ / "three_pages.bin";
  mote::test::write_file_bytes(path, std::string(3 * 4096, 'x'));
  auto mapped = MappedFile::open(path.string());
  ASSERT_TRUE(mapped) << mapped.status().to_string();
  EXPECT_EQ(mapped->data()[2 * 4096 + 5], 'x');
  EXPECT_FALSE(mapped->faulted());
  ASSERT_EQ(truncate(path.c_str(), 4096), 0);
  EXPECT_EQ(mapped->data()[10], 'x');           // still inside the file
  EXPECT_EQ(mapped->data()[2 * 4096 + 5], 0);   // lost page: zeros, no SIGBUS
  EXPECT_TRUE(mapped->faulted());
}

// A SIGBUS outside every guarded mapping still kills the process (the handler does not swallow
// faults it does not own).
TEST_F(TruncationTest, ForeignSigbusStillKills) {
  const fs::path guarded = dir_ / "guarded.bin", foreign = dir_ / "foreign.bin";
  mote::test::write_file_bytes(guarded, std::string(4096, 'g'));
  mote::test::write_file_bytes(foreign, std::string(2 * 4096, 'f'));
  EXPECT_EXIT(
      {
        auto mapped = MappedFile::open(guarded.string());  // installs the handler
        const int fd = ::open(foreign.c_str(), O_RDONLY);
        auto* p = static_cast<volatile const char*>(mmap(nullptr, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0));
        if (truncate(foreign.c_str(), 0) != 0) _exit(3);
        const char c = p[4096 + 1];
        _exit(c == 0 ? 4 : 5);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

}  // namespace
