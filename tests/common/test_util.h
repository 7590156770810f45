// Helpers shared by the test binaries: run a child process and capture its output, exit code
// and peak RSS; read and write whole files; make per-test temporary directories.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace mote::test {

// MOTE_TEST_SCALE=small: the heaviest tests shrink their data (fewer tokens, layers, experts,
// repetitions or narrower widths; never a looser tolerance). scripts/test-arm.sh sets it for the
// whole suite under qemu-aarch64, where everything runs ~35x slower; every cut is listed there
// and in README "Tests on aarch64". Unset (x86, sanitizers): the full sizes. Header-only, so the
// standalone kernel build (tests/kernels/standalone) needs nothing more.
inline bool small_scale() {
  const char* s = std::getenv("MOTE_TEST_SCALE");
  return s != nullptr && std::strcmp(s, "small") == 0;
}
// `full` normally, `small` under MOTE_TEST_SCALE=small.
template <class T>
T scaled(T full, T small) {
  return small_scale() ? small : full;
}

struct CommandResult {
  int exit_code = -1;         // exit status, or 128 + signal number if killed by a signal
  std::string out;            // captured stdout
  std::string err;            // captured stderr
  int64_t peak_rss_bytes = 0; // child's ru_maxrss (VmHWM) from wait4
  // Note: Linux carries the RSS of the forked copy of the test process into the child's
  // ru_maxrss (exec keeps the high-water mark), so a memory-bound test must keep its own RSS
  // well below the bound it checks (build big inputs streaming, not in memory).
};

// Runs argv[0] with the given arguments (no shell), optionally feeding `stdin_text`.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// Runs argv in a pseudo-terminal (stdin and stdout are a tty), typing each of `inputs` in turn
// once the child has printed something new, and returns everything it printed (out) and its exit
// code. Gives up after `timeout_s` seconds (the child is killed, exit_code 128+9).
CommandResult run_in_pty(const std::vector<std::string>& argv, const std::vector<std::string>& inputs,
                         int timeout_s = 60);

std::string read_file_bytes(const std::filesystem::path& path);
void write_file_bytes(const std::filesystem::path& path, const std::string& bytes);

// A fresh, empty directory MOTE_TEST_TMP/<name>.<pid> (removed first if present), so parallel
// test processes never share one.
std::filesystem::path fresh_temp_dir(const std::string& name);

// Files in `dir` whose name contains `needle` (e.g. ".tmp-" to find leftover temporary files).
std::vector<std::string> files_containing(const std::filesystem::path& dir, const std::string& needle);

}  // namespace mote::test
