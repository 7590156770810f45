#include "bench_roofline.h"

#include <mote/mote.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace mote::cli {
namespace {

// Sums words [begin, end): integer adds vectorise, so the loop runs at the memory's speed.
uint64_t sum_words(const uint64_t* p, size_t begin, size_t end) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = begin;
  for (; i + 4 <= end; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
  for (; i < end; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

// The CPUID brand string (leaves 0x80000002..4), or "" where there is none.
std::string cpuid_brand() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000004u) return "";
  char brand[49] = {};
  for (unsigned leaf = 0; leaf < 3; ++leaf) {
    __get_cpuid(0x80000002u + leaf, &a, &b, &c, &d);
    const unsigned regs[4] = {a, b, c, d};
    std::memcpy(brand + 16 * leaf, regs, 16);
  }
  std::string s(brand);
  const size_t first = s.find_first_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first);
#else
  return "";
#endif
}

// "key\t: value" -> value, for the first line of /proc/cpuinfo whose key is `key`.
std::string cpuinfo_field(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.find_first_not_of(" \t", key.size()) != colon) continue;
    const size_t v = line.find_first_not_of(' ', colon + 1);
    return v == std::string::npos ? "" : line.substr(v);
  }
  return "";
}

}  // namespace

CpuDescription describe_cpu() {
  std::ifstream f("/proc/cpuinfo");
  std::stringstream text;
  if (f) text << f.rdbuf();
  CpuDescription cpu;
  cpu.model = cpuinfo_field(text.str(), "model name");
  if (cpu.model.empty()) cpu.model = cpuid_brand();
  std::string listed = cpuinfo_field(text.str(), "flags");
  if (listed.empty()) listed = cpuinfo_field(text.str(), "Features");  // aarch64
  std::istringstream words(listed);
  const std::set<std::string> have{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
#if defined(__aarch64__)
  const char* wanted[] = {"asimd", "asimddp", "sve", "i8mm", "bf16"};
#else
  const char* wanted[] = {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                          "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"};
#endif
  for (const char* w : wanted) cpu.flags.emplace_back(w, have.count(w) != 0);
  return cpu;
}

double measure_read_bandwidth_gbs(int threads, size_t max_bytes) {
  const size_t kBytes = std::max<size_t>(std::min<size_t>(size_t(256) << 20, max_bytes), size_t(16) << 20);
  const size_t words = kBytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[words]);
  for (size_t i = 0; i < words; ++i) buf[i] = i;  // touch every page
  threads = std::max(threads, 1);
  double best = 0;
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sums[size_t(t)] = sum_words(buf.get(), words * size_t(t) / size_t(threads),
                                                            words * size_t(t + 1) / size_t(threads)); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(kBytes) / s / 1e9);
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sums) keep = keep + v;  // the sums are used, so the reads are not elided
  buf.reset();
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {  // "5": reset VmHWM to the current RSS
    std::fputs("5", f);
    std::fclose(f);
  }
  return best;
}

size_t bandwidth_buffer_bytes(const mote_model* model) {
  mote_memory_plan plan{};
  size_t bytes = size_t(256) << 20;
  if (mote_model_get_memory_plan(model, &plan) == MOTE_OK) bytes = std::min<size_t>(bytes, plan.available_bytes / 2);
  return bytes;
}

}  // namespace mote::cli
