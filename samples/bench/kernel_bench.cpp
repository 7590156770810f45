// mote-bench-kernels: how close the decode kernels (matrix-vector, n_tokens = 1) come to this
// machine's memory read bandwidth. In one run it measures the read bandwidth (a streaming sum
// over a buffer far larger than the last-level cache, 1 thread and all threads, on the kernels'
// own thread pool), then runs matmul of every weight type with every fast kernel table on
// weights of the same size, and reports GB/s of weight bytes read and the ratio to the bandwidth
// measured with the same thread count. Target (issue 5): ratio >= 0.8 for matmul (decode_t: the
// transposed product matmul_t, shown for information). Q8_0 / Q4_0 / Q2_1 run in both layouts:
// row-major and row groups ("grouped", kernels/quant.h), the layout the converter writes for them;
// MXFP4 (gpt-oss experts) is row-major only.
// Prefill (64 and 512 tokens through a 4096 x 4096 matrix) reports GFLOP/s for both layouts.
//
//   mote-bench-kernels [--size-mb N] [google benchmark flags, e.g. --benchmark_filter=q4]
//
// Buffers are filled with valid pseudo-random blocks (finite f16 scales): contents do not change
// the speed of these kernels, only their size does.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cpu/kernels/threads.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

int64_t g_size_bytes = int64_t(384) << 20;  // per buffer: >> any LLC (32 MiB here)
std::map<int, double> g_bandwidth;          // measured GB/s by thread count
// The same per second of process CPU time (std::clock). On a machine shared with other work a
// 1-thread run gets only part of a core; bytes per CPU-second of the probe and of a kernel
// compare them as if each had the core to itself ("cpu ratio"). With several threads idle
// workers' spinning counts too, so there it is only indicative.
std::map<int, double> g_bandwidth_cpu;
// The last measurement of each benchmark (Google Benchmark calls a function several times while
// it picks the iteration count; the last call is the reported one).
struct Row { std::string name; int threads; double gbs, ratio, cpu_ratio = 0.0; };
std::vector<Row> g_rows, g_prefill_rows;  // prefill rows: gbs holds GFLOP/s
void record(const Row& row, std::vector<Row>* rows = &g_rows) {
  for (Row& r : *rows)
    if (r.name == row.name && r.threads == row.threads) { r = row; return; }
  rows->push_back(row);
}

// Fills n bytes with a cheap pseudo-random sequence (xorshift), touching every page.
void fill_random(uint8_t* p, int64_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    std::memcpy(p + i, &s, 8);
  }
  for (; i < n; ++i) p[i] = uint8_t(i);
}

// Sum of 64-bit words of [p, p + n) (n a multiple of 32): the read-bandwidth probe.
#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t sum_words_avx2(const uint8_t* p, int64_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; i += 8) s += *reinterpret_cast<const uint64_t*>(p + i);
  return s;
}
#endif

uint64_t sum_words(const uint8_t* p, int64_t n) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return sum_words_avx2(p, n);
#endif
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i + 32 <= n; i += 32) {
    const uint64_t* w = reinterpret_cast<const uint64_t*>(p + i);
    s0 += w[0], s1 += w[1], s2 += w[2], s3 += w[3];
  }
  return s0 + s1 + s2 + s3;
}

struct Aligned {
  uint8_t* p = nullptr;
  explicit Aligned(int64_t n) : p(static_cast<uint8_t*>(std::aligned_alloc(4096, size_t((n + 4095) / 4096 * 4096)))) {}
  ~Aligned() { std::free(p); }
};

struct SumCtx {
  const uint8_t* p;
  std::vector<uint64_t>* partial;  // one slot per 1 MiB range (no false sharing of results matters little)
};

constexpr int64_t kRange = 1 << 20;

void sum_range(void* ctx, int64_t begin, int64_t end) {
  auto& c = *static_cast<SumCtx*>(ctx);
  (*c.partial)[size_t(begin / kRange)] = sum_words(c.p + begin, end - begin);
}

void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = int(state.range(0));
  mote::kernels::set_num_threads(threads);
  Aligned buf(g_size_bytes);
  fill_random(buf.p, g_size_bytes, 1);
  std::vector<uint64_t> partial(size_t(g_size_bytes / kRange + 1));
  SumCtx ctx{buf.p, &partial};
  mote::cpu::parallel_ranges(g_size_bytes, kRange, sum_range, &ctx);  // warm-up (first arena use)
  const std::clock_t c0 = std::clock();
  const auto t0 = Clock::now();
  for (auto _ : state) {
    mote::cpu::parallel_ranges(g_size_bytes, kRange, sum_range, &ctx);
    benchmark::DoNotOptimize(partial.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double gbs = double(g_size_bytes) * double(state.iterations()) / s / 1e9;
  const double cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;
  g_bandwidth[mote::kernels::num_threads()] = gbs;
  g_bandwidth_cpu[mote::kernels::num_threads()] = double(g_size_bytes) * double(state.iterations()) / cpu_s / 1e9;
  state.counters["GB/s"] = gbs;
  state.counters["threads"] = mote::kernels::num_threads();
  record({"read bandwidth", mote::kernels::num_threads(), gbs, 1.0, 1.0});
}

// Valid blocks of `type` with finite scales: random bytes, then each scale set to a small f16.
void make_weights(mote::WeightType type, uint8_t* p, int64_t rows, uint64_t row_bytes) {
  fill_random(p, int64_t(rows * row_bytes), 7);
  using mote::WeightType;
  const int64_t n = int64_t(rows * row_bytes);
  if (type == WeightType::Q8_0 || type == WeightType::Q4_0) {
    const int64_t bb = mote::weight_block_bytes(type);
    for (int64_t i = 0; i < n; i += bb) p[i + 1] = uint8_t(0x20 | (p[i + 1] & 0x0f));  // exponent ~2^-7
  } else if (type == WeightType::Q2_1) {  // f16 scale and minimum, both ~2^-7
    for (int64_t i = 0; i < n; i += mote::kQ2_1BlockBytes) {
      p[i + 1] = uint8_t(0x20 | (p[i + 1] & 0x0f));
      p[i + 3] = uint8_t(0x20 | (p[i + 3] & 0x8f));
    }
  } else if (type == WeightType::MXFP4) {  // E8M0 scale byte 2^-7..2^0
    for (int64_t i = 0; i < n; i += mote::kMxfp4BlockBytes) p[i] = uint8_t(120 + (p[i] & 7));
  } else if (type == WeightType::F16 || type == WeightType::BF16) {
    for (int64_t i = 1; i < n; i += 2) p[i] = uint8_t(type == WeightType::F16 ? 0x30 | (p[i] & 0x83) : 0x3c | (p[i] & 0x81));
  } else {
    for (int64_t i = 3; i < n; i += 4) p[i] = uint8_t(0x3c | (p[i] & 0x81));
  }
}

// The same for a row-grouped matrix (rows % 16 == 0): the scales (and Q2_1 minimums) of each
// group block are its first 16 (32) f16 values.
void make_grouped_weights(mote::WeightType type, uint8_t* p, int64_t rows, uint64_t row_bytes) {
  fill_random(p, int64_t(rows * row_bytes), 7);
  const int64_t n = int64_t(rows * row_bytes);
  const int64_t gb = mote::kRowGroup * mote::weight_block_bytes(type);
  const int halves = type == mote::WeightType::Q2_1 ? 2 : 1;
  for (int64_t i = 0; i < n; i += gb)
    for (int64_t k = 0; k < mote::kRowGroup * halves; ++k) p[i + 2 * k + 1] = uint8_t(0x20 | (p[i + 2 * k + 1] & 0x0f));
}

// A 4096-column weight of `type` filling `bytes`, row-major or in row groups (rows rounded down to
// a multiple of 16). Owns its buffer.
struct BenchWeights {
  std::unique_ptr<Aligned> buf;
  mote::WeightView view;
  BenchWeights(mote::WeightType type, int64_t rows, bool grouped) {
    const int64_t cols = 4096;
    const uint64_t row_bytes = mote::weight_row_bytes(type, cols);
    if (grouped) rows = rows / mote::kRowGroup * mote::kRowGroup;
    buf = std::make_unique<Aligned>(int64_t(rows * row_bytes));
    if (grouped) make_grouped_weights(type, buf->p, rows, row_bytes);
    else make_weights(type, buf->p, rows, row_bytes);
    view = {type, rows, cols, row_bytes, buf->p};
    if (grouped) view.row_group = mote::kRowGroup;
  }
};

std::string layout_name(const mote::kernels::KernelTable* table, mote::WeightType type, bool grouped) {
  return std::string(table->name) + "/" + mote::weight_type_name(type) + (grouped ? "/grouped" : "");
}

// matmul (y = W x, one token) or, when `transposed`, matmul_t (y = x W, one token; the MLA
// absorbed-attention product) over the whole buffer; `grouped`: the weights in row groups.
void BM_Decode(benchmark::State& state, const mote::kernels::KernelTable* table, mote::WeightType type,
               bool transposed, bool grouped) {
  const int threads = int(state.range(0));
  mote::kernels::set_num_threads(threads);
  const int64_t cols = 4096;
  const uint64_t row_bytes = mote::weight_row_bytes(type, cols);
  const BenchWeights weights(type, g_size_bytes / int64_t(row_bytes), grouped);
  const mote::WeightView& w = weights.view;
  const int64_t rows = w.rows;
  const int64_t nx = transposed ? rows : cols, ny = transposed ? cols : rows;
  std::vector<float> x(static_cast<size_t>(nx)), y(static_cast<size_t>(ny));
  for (int64_t c = 0; c < nx; ++c) x[size_t(c)] = float((c * 37) % 101) / 50.0f - 1.0f;
  const auto run = [&] {
    if (transposed) table->matmul_t[int(type)](w, x.data(), nx, 1, y.data(), ny);
    else table->matmul[int(type)](w, x.data(), nx, 1, y.data(), ny);
  };
  run();  // warm-up
  const std::clock_t c0 = std::clock();
  const auto t0 = Clock::now();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(y.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;
  const double gbs = double(rows * row_bytes) * double(state.iterations()) / s / 1e9;
  const int used = mote::kernels::num_threads();
  const double bw = g_bandwidth.count(used) ? g_bandwidth[used] : 0.0;
  const double bw_cpu = g_bandwidth_cpu.count(used) ? g_bandwidth_cpu[used] : 0.0;
  const double gbs_cpu = double(rows * row_bytes) * double(state.iterations()) / cpu_s / 1e9;
  state.counters["GB/s"] = gbs;
  state.counters["ratio"] = bw > 0 ? gbs / bw : 0.0;
  state.counters["threads"] = used;
  record({(transposed ? "matmul_t " : "") + layout_name(table, type, grouped), used, gbs, bw > 0 ? gbs / bw : 0.0,
          bw_cpu > 0 ? gbs_cpu / bw_cpu : 0.0});
}

// Batched matmul (prefill: n tokens through a 4096 x 4096 matrix): GFLOP/s (2 flops per weight
// and token). Compute-bound, unlike decode; shown for information.
void BM_Prefill(benchmark::State& state, const mote::kernels::KernelTable* table, mote::WeightType type,
                int64_t n, bool grouped) {
  mote::kernels::set_num_threads(int(state.range(0)));
  const int64_t rows = 4096, cols = 4096;
  const BenchWeights weights(type, rows, grouped);
  const mote::WeightView& w = weights.view;
  std::vector<float> x(static_cast<size_t>(n * cols)), y(static_cast<size_t>(n * rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 101) / 50.0f - 1.0f;
  table->matmul[int(type)](w, x.data(), cols, n, y.data(), rows);  // warm-up
  const auto t0 = Clock::now();
  for (auto _ : state) {
    table->matmul[int(type)](w, x.data(), cols, n, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double gflops = 2.0 * double(rows * cols * n) * double(state.iterations()) / s / 1e9;
  state.counters["GFLOP/s"] = gflops;
  state.counters["threads"] = mote::kernels::num_threads();
  record({"prefill" + std::to_string(n) + " " + layout_name(table, type, grouped), mote::kernels::num_threads(), gflops, 0.0},
         &g_prefill_rows);
}

bool has_row_groups(mote::WeightType type) { return mote::row_group_type(type); }

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first; the rest goes to Google Benchmark.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--size-mb") == 0 && i + 1 < argc) {
      g_size_bytes = std::max<int64_t>(64, std::atoll(argv[++i])) << 20;
      continue;
    }
    args.push_back(argv[i]);
  }
  int n = int(args.size());
  mote::kernels::set_num_threads(0);
  const int all = mote::kernels::num_threads();
  std::vector<int> thread_counts = {1};
  if (all > 1) thread_counts.push_back(all);

  for (int t : thread_counts)
    benchmark::RegisterBenchmark("read_bandwidth", BM_ReadBandwidth)->Arg(t)->UseRealTime()->Unit(benchmark::kMillisecond);
  const mote::kernels::KernelTable* tables[8];
  const int n_tables = mote::kernels::available_kernels(tables, 8);
  for (int k = 0; k < n_tables; ++k) {
    if (tables[k] == &mote::kernels::reference_kernels()) continue;
    for (mote::WeightType type : {mote::WeightType::Q2_1, mote::WeightType::Q4_0, mote::WeightType::MXFP4,
                                  mote::WeightType::Q8_0, mote::WeightType::F16, mote::WeightType::BF16,
                                  mote::WeightType::F32})
      for (bool transposed : {false, true})
        for (bool grouped : {false, true}) {
          if (grouped && (transposed || !has_row_groups(type))) continue;  // matmul_t never meets row groups
          for (int t : thread_counts) {
            const std::string name =
                std::string(transposed ? "decode_t/" : "decode/") + layout_name(tables[k], type, grouped);
            benchmark::RegisterBenchmark(name.c_str(), BM_Decode, tables[k], type, transposed, grouped)
                ->Arg(t)->UseRealTime()->Unit(benchmark::kMillisecond);
          }
        }
  }
  for (int k = 0; k < n_tables; ++k) {
    if (tables[k] == &mote::kernels::reference_kernels()) continue;
    for (mote::WeightType type : {mote::WeightType::Q2_1, mote::WeightType::Q4_0, mote::WeightType::MXFP4,
                                  mote::WeightType::Q8_0, mote::WeightType::F32})
      for (int64_t n : {64, 512})
        for (bool grouped : {false, true}) {
          if (grouped && !has_row_groups(type)) continue;
          for (int t : thread_counts) {
            const std::string name = "prefill" + std::to_string(n) + "/" + layout_name(tables[k], type, grouped);
            benchmark::RegisterBenchmark(name.c_str(), BM_Prefill, tables[k], type, n, grouped)
                ->Arg(t)->UseRealTime()->Unit(benchmark::kMillisecond);
          }
        }
  }
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::printf("\nsummary (%lld MiB per buffer; ratio = kernel GB/s / read bandwidth at the same thread count;\n"
              "cpu ratio: the same per second of process CPU time, for a shared machine)\n",
              static_cast<long long>(g_size_bytes >> 20));
  std::printf("%-32s %8s %10s %8s %10s\n", "what", "threads", "GB/s", "ratio", "cpu ratio");
  for (const Row& r : g_rows)
    std::printf("%-32s %8d %10.2f %8.3f %10.3f\n", r.name.c_str(), r.threads, r.gbs, r.ratio, r.cpu_ratio);
  if (!g_prefill_rows.empty()) std::printf("\n%-32s %8s %10s\n", "prefill (4096 x 4096)", "threads", "GFLOP/s");
  for (const Row& r : g_prefill_rows) std::printf("%-32s %8d %10.2f\n", r.name.c_str(), r.threads, r.gbs);
  return 0;
}
