#include "bench_roofline.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

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

}  // namespace

double measure_read_bandwidth_gbs(int threads) {
  constexpr size_t kBytes = size_t(256) << 20;
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

}  // namespace mote::cli
