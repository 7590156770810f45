// mote-bench-xnnpack: prefill GEMM (y = x W^T, n_tokens x rows x cols) in GFLOP/s, XNNPACK's
// fully-connected operators against mote's kernels, on 1 and 2 threads. Prints a table per
// thread count and, at the end, one JSON line per measurement (prefix "JSON ").
//
//   mote-bench-xnnpack [--tokens 64,512] [--threads 1,2] [--min-s 0.25] [--shapes up,down,attn,dense]
//                      [--only substring] [--warm]
//
// Options measured (x: f32 activations [n, cols], W: [rows, cols] PyTorch order):
//   xnn_f32_run      XNNPACK f32 FC, operator created (weights packed) once; timed: setup + run.
//                    2 threads: a pthreadpool of 2 (oneTBB idle).
//   xnn_f32_pack_run the same, created + packed + run + deleted in every call (what using our
//                    mmapped weights without a second packed copy costs).
//   xnn_f32_tbb      no pthreadpool: the rows split into ranges on mote's oneTBB arena
//                    (cpu::parallel_ranges), each range cut into slices of 512 KiB of weights,
//                    a single-threaded operator per slice created (packed) inside the call:
//                    cpu::xnn_matmul_f32, the integrated path.
//   xnn_bf16_tbb, xnn_f16_tbb  the same for BF16 / F16 weights: each slice decoded to f32
//                    before packing (f32 arithmetic; XNNPACK's own f16 FC accumulates in f16).
//   xnn_f32_tbb_pre  the same slices (512 KiB of packed weights each, so they stay in L2)
//                    packed once: run only, the best XNNPACK does with a packed copy in memory.
//   xnn_f32_oversub  2 threads only: 2 oneTBB ranges, each running its own pre-packed operator on
//                    its own pthreadpool of 2: 4 busy threads on the 2 threads' worth of work (what
//                    to avoid when XNNPACK is called from inside oneTBB-parallel code).
//   xnn_qs8_run      XNNPACK qs8 FC (int8 x int8 -> int8, per-tensor scales fixed at creation),
//                    created once; timed: quantise x to int8 with the static scale + run +
//                    dequantise y. Usable only with calibrated (static) activation/output scales.
//   xnn_qs8_pack_run created per call with this call's activation scale (dynamic quantisation
//                    would need it: a new scale means a new operator and repacked weights).
//   mote_<type>      kernels::matmul with the active table (F32, F16, BF16, Q8_0, Q4_0, Q2_1, and the
//                    16-row-group layouts Q8_0g/Q4_0g/Q2_1g; "(ref)" marks a type this table runs
//                    with the single-threaded scalar reference kernel).
// GFLOP/s = 2 * n * rows * cols / time (also for quantised types); the best of the repetitions
// (the machine is shared), the median goes to the JSON.
#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cpu/kernels/isa.h"
#include "cpu/kernels/threads.h"
#include "cpu/kernels/xnnpack_f32.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace {

using Clock = std::chrono::steady_clock;
using mote::WeightType;
using mote::WeightView;

struct Shape {
  const char* key;
  const char* name;
  int64_t rows, cols;
};
const Shape kShapes[] = {
    {"up", "expert_up 1024x2048", 1024, 2048},   // OLMoE expert gate/up: [intermediate, hidden]
    {"down", "expert_down 2048x1024", 2048, 1024},  // expert down: [hidden, intermediate]
    {"attn", "attn 2048x2048", 2048, 2048},      // OLMoE q/k/v/o
    {"dense", "dense 4096x4096", 4096, 4096},
};

double g_min_s = 0.25;
std::string g_only;

struct Result {
  std::string option, shape;
  int64_t n;
  int threads;
  double best_gflops, median_gflops;
  int reps;
};
std::vector<Result> g_results;
std::vector<std::pair<std::string, double>> g_pack_ms;  // shape, ms to pack the whole matrix (1 thread)

// Cold caches (default): before every timed call a 96 MiB buffer (3x the last-level cache) is
// rewritten, so weights (and packed copies) come from memory as they do in a real prefill, where
// each layer's matrices are read once per batch. --warm skips it (weights stay in L2/L3 for the
// smaller shapes, which flatters everything).
bool g_cold = true;
std::vector<uint8_t> g_flush;
void flush_caches() {
  if (!g_cold) return;
  if (g_flush.empty()) g_flush.resize(size_t(96) << 20);
  static uint8_t v = 0;
  std::memset(g_flush.data(), ++v, g_flush.size());
}

// Runs fn once (warm-up), then until min_s of timed calls (at least 3, at most 200; a single
// call if the warm-up took over a second). Returns seconds per call: best and median.
void time_it(const std::function<void()>& fn, double* best, double* median, int* reps) {
  flush_caches();
  auto t0 = Clock::now();
  fn();
  const double warm = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> ts;
  if (warm > 1.0) {
    ts.push_back(warm);
  } else {
    double total = 0;
    while ((total < g_min_s || ts.size() < 3) && ts.size() < 200) {
      flush_caches();
      t0 = Clock::now();
      fn();
      const double t = std::chrono::duration<double>(Clock::now() - t0).count();
      ts.push_back(t);
      total += t;
    }
  }
  std::sort(ts.begin(), ts.end());
  *best = ts.front();
  *median = ts[ts.size() / 2];
  *reps = int(ts.size());
}

void measure(const std::string& option, const Shape& s, int64_t n, int threads, const std::function<void()>& fn) {
  if (!g_only.empty() && option.find(g_only) == std::string::npos) return;
  double best, median;
  int reps;
  time_it(fn, &best, &median, &reps);
  const double flop = 2.0 * double(n) * double(s.rows) * double(s.cols);
  g_results.push_back({option, s.name, n, threads, flop / best * 1e-9, flop / median * 1e-9, reps});
  std::fprintf(stderr, "  %-22s %-22s n=%-4lld t=%d  %7.1f GFLOP/s (best of %d)\n", option.c_str(), s.name,
               (long long)n, threads, flop / best * 1e-9, reps);
}

void fill(std::vector<float>& v, uint64_t seed, float scale) {
  uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& f : v) {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    f = scale * (float(int64_t(st >> 40) - (int64_t(1) << 23)) / float(int64_t(1) << 23));
  }
}

struct Encoded {
  std::string label;
  WeightType type;
  bool grouped;
  std::vector<uint8_t> bytes;
  WeightView view;
};

Encoded encode(const std::vector<float>& w, int64_t rows, int64_t cols, WeightType type, bool grouped) {
  Encoded e;
  e.type = type;
  e.grouped = grouped;
  const uint64_t rb = mote::weight_row_bytes(type, cols);
  std::vector<uint8_t> rm(rb * uint64_t(rows));
  for (int64_t r = 0; r < rows; ++r) mote::quantize_row(type, w.data() + r * cols, cols, rm.data() + r * rb);
  if (grouped) {
    e.bytes.resize(rm.size());
    mote::interleave_matrix(type, rm.data(), rows, cols, e.bytes.data());
  } else {
    e.bytes = std::move(rm);
  }
  e.view.type = type;
  e.view.rows = rows;
  e.view.cols = cols;
  e.view.row_stride = rb;
  e.view.data = e.bytes.data();
  e.view.row_group = grouped ? mote::kRowGroup : 1;
  return e;
}

// True if the active table runs this type/layout with the scalar reference kernel.
bool reference_fallback(WeightType type, bool grouped) {
  const mote::cpu::IsaOps* ops = mote::cpu::isa_ops(mote::kernels::active_kernels().name);
  if (!ops) return true;
  if (!grouped) return type == WeightType::Q2_1 && ops->qdot_q2_1 == nullptr;
  if (type == WeightType::Q8_0) return ops->qdot_grouped_q8_0 == nullptr;
  if (type == WeightType::Q4_0) return ops->qdot_grouped_q4_0 == nullptr;
  return ops->qdot_grouped_q2_1 == nullptr;
}

const float kInf = std::numeric_limits<float>::infinity();

// Row slices [16-multiple) for pre-packed per-range operators.
struct Slices {
  std::vector<int64_t> bounds;  // k + 1 bounds
  std::vector<xnn_operator_t> ops;
  ~Slices() {
    for (xnn_operator_t op : ops) xnn_delete_operator(op);
  }
};

// k slices of about rows / k rows (multiples of 16); k = 0: slices of at most 512 KiB of
// weights (as cpu::xnn_matmul_f32 cuts them).
void make_slices(Slices& sl, const float* w, int64_t rows, int64_t cols, int k) {
  int64_t per = (rows / std::max(k, 1) + 15) / 16 * 16;
  if (k == 0) {
    per = std::max<int64_t>(16, (512 * 1024 / (cols * 4)) / 16 * 16);
    k = int((rows + per - 1) / per);
  }
  sl.bounds.push_back(0);
  for (int i = 1; i < k; ++i) sl.bounds.push_back(std::min(rows, per * i));
  sl.bounds.push_back(rows);
  for (int i = 0; i < k; ++i) {
    xnn_operator_t op = nullptr;
    const int64_t r0 = sl.bounds[size_t(i)], r1 = sl.bounds[size_t(i) + 1];
    if (xnn_create_fully_connected_nc_f32(size_t(cols), size_t(r1 - r0), size_t(cols), size_t(rows), w + r0 * cols,
                                          nullptr, -kInf, kInf, 0, &op) != xnn_status_success) {
      std::fprintf(stderr, "xnn_create_fully_connected_nc_f32 (slice) failed\n");
      std::exit(1);
    }
    sl.ops.push_back(op);
  }
}

struct SliceCall {
  Slices* sl;
  const float* x;
  float* y;
  int64_t n;
  std::vector<pthreadpool_t>* pools;  // one per slice, or null: single-threaded
};

void run_slices(void* ctx, int64_t b, int64_t e) {
  auto& c = *static_cast<SliceCall*>(ctx);
  for (int64_t i = b; i < e; ++i) {
    pthreadpool_t pool = c.pools ? (*c.pools)[size_t(i)] : nullptr;
    xnn_setup_fully_connected_nc_f32(c.sl->ops[size_t(i)], size_t(c.n), c.x, c.y + c.sl->bounds[size_t(i)], pool);
    xnn_run_operator(c.sl->ops[size_t(i)], pool);
  }
}

int8_t quantize_i8(float v, float inv_scale) {
  return int8_t(std::clamp(std::nearbyint(v * inv_scale), -127.0f, 127.0f));
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

// One shape's data: the matrix, inputs and outputs (sized for the largest batch), mote's
// encodings and the XNNPACK operators created once, with the qs8 scales.
struct ShapeBench {
  const Shape& s;
  int64_t R, C, max_n;
  std::vector<float> w, x, y, y_ref;
  std::vector<Encoded> enc;
  xnn_operator_t f32_op = nullptr, qs8_op = nullptr;
  float w_scale = 0, x_scale = 0, y_scale = 0, y_amax = 0;
  std::vector<int8_t> wq, xq, yq;
  ShapeBench(const Shape& shape, int64_t n) : s(shape), R(shape.rows), C(shape.cols), max_n(n) {}
};

// mote weight encodings (those --only leaves in), labelled "mote_<type>" ("(ref)" if the active
// table falls back to the scalar reference kernel).
std::vector<Encoded> encode_all(const std::vector<float>& w, int64_t R, int64_t C) {
  std::vector<Encoded> enc;
  const struct { const char* label; WeightType t; bool g; } kinds[] = {
      {"F32", WeightType::F32, false},    {"F16", WeightType::F16, false}, {"BF16", WeightType::BF16, false}, {"Q8_0", WeightType::Q8_0, false},
      {"Q4_0", WeightType::Q4_0, false},  {"Q2_1", WeightType::Q2_1, false}, {"Q8_0g", WeightType::Q8_0, true},
      {"Q4_0g", WeightType::Q4_0, true},  {"Q2_1g", WeightType::Q2_1, true}};
  for (const auto& k : kinds) {
    if (!g_only.empty() && ("mote_" + std::string(k.label)).find(g_only) == std::string::npos) continue;
    Encoded e = encode(w, R, C, k.t, k.g);
    e.label = std::string("mote_") + k.label + (reference_fallback(k.t, k.g) ? "(ref)" : "");
    enc.push_back(std::move(e));
  }
  return enc;
}

// XNNPACK f32, packed once
xnn_operator_t create_f32_op(const std::vector<float>& w, int64_t R, int64_t C) {
  xnn_operator_t f32_op = nullptr;
  if (xnn_create_fully_connected_nc_f32(size_t(C), size_t(R), size_t(C), size_t(R), w.data(), nullptr, -kInf, kInf, 0,
                                        &f32_op) != xnn_status_success) {
    std::fprintf(stderr, "xnn_create_fully_connected_nc_f32 failed\n");
    std::exit(1);
  }
  return f32_op;
}

xnn_status create_qs8(const ShapeBench& b, float xs, xnn_operator_t* op) {
  return xnn_create_fully_connected_nc_qs8(size_t(b.C), size_t(b.R), size_t(b.C), size_t(b.R), 0, xs, b.w_scale,
                                           b.wq.data(), nullptr, 0, b.y_scale, -127, 127, 0, op);
}

// XNNPACK qs8: per-tensor weight scale, static activation and output scales (calibrated here
// from this x and a float reference run, which also fills y_ref).
void setup_qs8(ShapeBench& b) {
  float w_amax = 0, x_amax = 0;
  for (float v : b.w) w_amax = std::max(w_amax, std::fabs(v));
  for (float v : b.x) x_amax = std::max(x_amax, std::fabs(v));
  b.w_scale = w_amax / 127.0f, b.x_scale = x_amax / 127.0f;
  b.wq.resize(b.w.size());
  for (size_t i = 0; i < b.w.size(); ++i) b.wq[i] = quantize_i8(b.w[i], 1.0f / b.w_scale);
  // Output scale from a float reference of the largest batch.
  mote::kernels::set_num_threads(0);
  mote::kernels::matmul(mote::kernels::f32_view(b.w.data(), b.R, b.C), b.x.data(), b.max_n, b.y_ref.data());
  b.y_amax = 0;
  for (float v : b.y_ref) b.y_amax = std::max(b.y_amax, std::fabs(v));
  b.y_scale = b.y_amax / 127.0f;
  if (create_qs8(b, b.x_scale, &b.qs8_op) != xnn_status_success) {
    std::fprintf(stderr, "xnn_create_fully_connected_nc_qs8 failed\n");
    std::exit(1);
  }
  b.xq.resize(b.x.size());
  b.yq.resize(b.y.size());
}

// Accuracy against mote's F32 kernel (largest batch).
void report_accuracy(ShapeBench& b) {
  const int64_t R = b.R, C = b.C, max_n = b.max_n;
  auto &w = b.w, &x = b.x, &y = b.y, &y_ref = b.y_ref;
  xnn_setup_fully_connected_nc_f32(b.f32_op, size_t(max_n), x.data(), y.data(), nullptr);
  xnn_run_operator(b.f32_op, nullptr);
  const double d_xnn = max_abs_diff(y, y_ref);
  std::fill(y.begin(), y.end(), 0.0f);
  const bool ok = mote::cpu::xnn_matmul_f32(mote::kernels::f32_view(w.data(), R, C), x.data(), C, max_n, y.data(), R);
  const double d_tbb = ok ? max_abs_diff(y, y_ref) : -1;
  for (size_t i = 0; i < x.size(); ++i) b.xq[i] = quantize_i8(x[i], 1.0f / b.x_scale);
  xnn_setup_fully_connected_nc_qs8(b.qs8_op, size_t(max_n), b.xq.data(), b.yq.data(), nullptr);
  xnn_run_operator(b.qs8_op, nullptr);
  double d_q = 0;
  for (size_t i = 0; i < y.size(); ++i) d_q = std::max(d_q, std::fabs(double(b.yq[i]) * b.y_scale - y_ref[i]));
  std::fprintf(stderr, "%s: max |y - mote F32| (|y| max %.2f): xnn_f32 %.2g, xnn_matmul_f32 %.2g%s, qs8 %.2g\n",
               b.s.name, double(b.y_amax), d_xnn, d_tbb, ok ? "" : " (not applied)", d_q);
}

// Per-thread-count XNNPACK state.
struct ThreadBench {
  int threads;
  pthreadpool_t pool = nullptr;
  Slices pre;
  Slices two;  // oversubscription demo: 2 slices, each with its own pool of `threads`
  std::vector<pthreadpool_t> slice_pools;
};

// Packing alone: create + delete the 512 KiB slices of the whole matrix one after another
// (what xnn_matmul_f32 adds to a run), in ms, against the run-only time of the same slices.
void bench_pack_only(const ShapeBench& b) {
  const int64_t R = b.R, C = b.C;
  const auto& w = b.w;
  double best, median;
  int reps;
  const int64_t per = std::max<int64_t>(16, (512 * 1024 / (C * 4)) / 16 * 16);
  time_it([&] {
    for (int64_t r0 = 0; r0 < R; r0 += per) {  // one slice alive at a time, as in xnn_matmul_f32
      xnn_operator_t op = nullptr;
      xnn_create_fully_connected_nc_f32(size_t(C), size_t(std::min(per, R - r0)), size_t(C), size_t(R),
                                        w.data() + r0 * C, nullptr, -kInf, kInf, 0, &op);
      xnn_delete_operator(op);
    }
  }, &best, &median, &reps);
  g_pack_ms.push_back({b.s.name, best * 1e3});
  std::fprintf(stderr, "  %-22s %-22s        t=1  %7.2f ms (best of %d)\n", "xnn_f32_pack_only", b.s.name, best * 1e3, reps);
}

// The XNNPACK f32 options for n tokens.
void bench_xnn_f32(ShapeBench& b, ThreadBench& t, int64_t n) {
  const Shape& s = b.s;
  const int64_t R = b.R, C = b.C;
  const int threads = t.threads;
  pthreadpool_t pool = t.pool;
  auto &w = b.w, &x = b.x, &y = b.y;
  measure("xnn_f32_run", s, n, threads, [&] {
    xnn_setup_fully_connected_nc_f32(b.f32_op, size_t(n), x.data(), y.data(), pool);
    xnn_run_operator(b.f32_op, pool);
  });
  measure("xnn_f32_pack_run", s, n, threads, [&] {
    xnn_operator_t op = nullptr;
    xnn_create_fully_connected_nc_f32(size_t(C), size_t(R), size_t(C), size_t(R), w.data(), nullptr, -kInf, kInf,
                                      0, &op);
    xnn_setup_fully_connected_nc_f32(op, size_t(n), x.data(), y.data(), pool);
    xnn_run_operator(op, pool);
    xnn_delete_operator(op);
  });
  measure("xnn_f32_tbb", s, n, threads, [&] {
    if (!mote::cpu::xnn_matmul_f32(mote::kernels::f32_view(w.data(), R, C), x.data(), C, n, y.data(), R)) {
      std::fprintf(stderr, "xnn_matmul_f32 did not apply\n");
      std::exit(1);
    }
  });
  measure("xnn_f32_tbb_pre", s, n, threads, [&] {
    SliceCall call{&t.pre, x.data(), y.data(), n, nullptr};
    mote::cpu::parallel_ranges(int64_t(t.pre.ops.size()), 1, run_slices, &call);
  });
  if (threads > 1)
    measure("xnn_f32_oversub", s, n, threads, [&] {
      SliceCall call{&t.two, x.data(), y.data(), n, &t.slice_pools};
      mote::cpu::parallel_ranges(2, 1, run_slices, &call);
    });
}

// The XNNPACK qs8 options for n tokens.
void bench_xnn_qs8(ShapeBench& b, const ThreadBench& t, int64_t n) {
  const int64_t R = b.R, C = b.C;
  pthreadpool_t pool = t.pool;
  auto &x = b.x, &y = b.y;
  auto &xq = b.xq, &yq = b.yq;
  measure("xnn_qs8_run", b.s, n, t.threads, [&] {
    const float inv = 1.0f / b.x_scale;
    for (int64_t i = 0; i < n * C; ++i) xq[size_t(i)] = quantize_i8(x[size_t(i)], inv);
    xnn_setup_fully_connected_nc_qs8(b.qs8_op, size_t(n), xq.data(), yq.data(), pool);
    xnn_run_operator(b.qs8_op, pool);
    for (int64_t i = 0; i < n * R; ++i) y[size_t(i)] = float(yq[size_t(i)]) * b.y_scale;
  });
  measure("xnn_qs8_pack_run", b.s, n, t.threads, [&] {
    xnn_operator_t op = nullptr;
    create_qs8(b, b.x_scale, &op);
    xnn_setup_fully_connected_nc_qs8(op, size_t(n), xq.data(), yq.data(), pool);
    xnn_run_operator(op, pool);
    xnn_delete_operator(op);
  });
}

// mote's kernels for n tokens, and xnn_matmul_f32 on the BF16 / F16 encodings.
void bench_mote(ShapeBench& b, int64_t n, int threads) {
  const int64_t R = b.R, C = b.C;
  auto &x = b.x, &y = b.y;
  for (const Encoded& e : b.enc) {
    if ((e.type == WeightType::BF16 || e.type == WeightType::F16) && !e.grouped &&
        n >= mote::cpu::kXnnMinTokensHalf)  // below it xnn_matmul_f32 declines
      measure(e.type == WeightType::BF16 ? "xnn_bf16_tbb" : "xnn_f16_tbb", b.s, n, threads, [&] {
        if (!mote::cpu::xnn_matmul_f32(e.view, x.data(), C, n, y.data(), R)) std::exit(1);
      });
    if (threads > 1 && e.label.find("(ref)") != std::string::npos) continue;  // single-threaded anyway
    measure(e.label, b.s, n, threads, [&] { mote::kernels::matmul(e.view, x.data(), n, y.data()); });
  }
}

// All options on `threads` threads, for every token count.
void bench_threads(ShapeBench& b, int threads, const std::vector<int64_t>& tokens) {
  mote::kernels::set_num_threads(threads);
  ThreadBench t;
  t.threads = threads;
  t.pool = threads > 1 ? pthreadpool_create(size_t(threads)) : nullptr;
  make_slices(t.pre, b.w.data(), b.R, b.C, 0);
  if (threads > 1) {
    make_slices(t.two, b.w.data(), b.R, b.C, 2);
    for (int i = 0; i < 2; ++i) t.slice_pools.push_back(pthreadpool_create(size_t(threads)));
  }
  if (threads == 1 && (g_only.empty() || std::string("xnn_f32_pack_only").find(g_only) != std::string::npos))
    bench_pack_only(b);
  for (int64_t n : tokens) {
    bench_xnn_f32(b, t, n);
    bench_xnn_qs8(b, t, n);
    bench_mote(b, n, threads);
  }
  for (pthreadpool_t p : t.slice_pools) pthreadpool_destroy(p);
  if (t.pool) pthreadpool_destroy(t.pool);
}

void bench_shape(const Shape& s, const std::vector<int64_t>& tokens, const std::vector<int>& thread_counts) {
  ShapeBench b(s, *std::max_element(tokens.begin(), tokens.end()));
  b.w.resize(size_t(b.R * b.C));
  fill(b.w, 7, 0.05f);
  b.x.resize(size_t(b.max_n * b.C));
  fill(b.x, 11, 1.0f);
  b.y.resize(size_t(b.max_n * b.R));
  b.y_ref.resize(size_t(b.max_n * b.R));
  b.enc = encode_all(b.w, b.R, b.C);
  b.f32_op = create_f32_op(b.w, b.R, b.C);
  setup_qs8(b);
  report_accuracy(b);
  for (int threads : thread_counts) bench_threads(b, threads, tokens);
  xnn_delete_operator(b.f32_op);
  xnn_delete_operator(b.qs8_op);
}

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> v;
  for (const char* p = s; *p;) {
    v.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
    if (*p == ',') ++p;
    else if (*p) break;
  }
  return v;
}

struct Args {
  std::vector<int64_t> tokens = {64, 512};
  std::vector<int> thread_counts = {1, 2};
  std::string shapes = "up,down,attn,dense";
};

// Reads the flags into args (--min-s, --only and --warm into the globals); false on an unknown one.
bool parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--tokens") args.tokens = parse_list(v), ++i;
    else if (a == "--threads") {
      args.thread_counts.clear();
      for (int64_t t : parse_list(v)) args.thread_counts.push_back(int(t));
      ++i;
    } else if (a == "--min-s") g_min_s = std::atof(v), ++i;
    else if (a == "--shapes") args.shapes = v, ++i;
    else if (a == "--only") g_only = v, ++i;
    else if (a == "--warm") g_cold = false;
    else return false;
  }
  return true;
}

// The shapes whose keys the comma-separated list names, in kShapes order.
std::vector<const Shape*> select_shapes(const std::string& shapes) {
  std::vector<const Shape*> used;
  const std::string list = std::string(1, ',').append(shapes).append(1, ',');
  for (const Shape& s : kShapes) {
    std::string key(1, ',');
    key.append(s.key).append(1, ',');
    if (list.find(key) != std::string::npos) used.push_back(&s);
  }
  return used;
}

// Table for one thread count; rows = options, columns = shape x tokens.
void print_table(int threads, const std::vector<const Shape*>& used, const std::vector<int64_t>& tokens) {
  std::printf("\nGFLOP/s, %d thread%s (best of repetitions)\n", threads, threads > 1 ? "s" : "");
  std::printf("%-22s", "option");
  for (const Shape* s : used)
    for (int64_t n : tokens) std::printf(" | %-5s n=%-4lld", s->key, (long long)n);
  std::printf("\n");
  std::vector<std::string> options;
  for (const Result& r : g_results)
    if (r.threads == threads && std::find(options.begin(), options.end(), r.option) == options.end())
      options.push_back(r.option);
  for (const std::string& o : options) {
    std::printf("%-22s", o.c_str());
    for (const Shape* s : used)
      for (int64_t n : tokens) {
        const Result* hit = nullptr;
        for (const Result& r : g_results)
          if (r.threads == threads && r.option == o && r.shape == s->name && r.n == n) hit = &r;
        if (hit) std::printf(" | %12.1f", hit->best_gflops);
        else std::printf(" | %12s", "-");
      }
    std::printf("\n");
  }
}

void print_pack_summary() {
  if (g_pack_ms.empty()) return;
  std::printf("\nXNNPACK f32 packing (create + delete of the 512 KiB slices, 1 thread) against one run of the\n"
              "pre-packed slices (xnn_f32_tbb_pre, 1 thread):\n");
  for (const auto& [shape, ms] : g_pack_ms) {
    std::printf("%-22s pack %7.2f ms", shape.c_str(), ms);
    for (const Result& r : g_results)
      if (r.threads == 1 && r.option == "xnn_f32_tbb_pre" && r.shape == shape) {
        const Shape* sp = nullptr;
        for (const Shape& k : kShapes)
          if (shape == k.name) sp = &k;
        const double run_ms = 2.0 * double(r.n) * double(sp->rows) * double(sp->cols) / (r.best_gflops * 1e9) * 1e3;
        std::printf(" | n=%lld run %7.2f ms (pack = %.0f%%)", (long long)r.n, run_ms, 100.0 * ms / run_ms);
      }
    std::printf("\n");
  }
}

void print_json() {
  for (const auto& [shape, ms] : g_pack_ms)
    std::printf("JSON {\"option\":\"xnn_f32_pack_only\",\"shape\":\"%s\",\"threads\":1,\"ms_best\":%.3f}\n", shape.c_str(), ms);
  for (const Result& r : g_results)
    std::printf("JSON {\"option\":\"%s\",\"shape\":\"%s\",\"n_tokens\":%lld,\"threads\":%d,\"gflops_best\":%.2f,"
                "\"gflops_median\":%.2f,\"reps\":%d}\n",
                r.option.c_str(), r.shape.c_str(), (long long)r.n, r.threads, r.best_gflops, r.median_gflops, r.reps);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(stderr, "usage: %s [--tokens 64,512] [--threads 1,2] [--min-s S] [--shapes up,down,attn,dense] [--only SUBSTR] [--warm]\n", argv[0]);
    return 2;
  }
  if (xnn_initialize(nullptr) != xnn_status_success) {
    std::fprintf(stderr, "xnn_initialize failed (unsupported CPU?)\n");
    return 1;
  }
  std::fprintf(stderr, "kernel table: %s; xnn_matmul_f32 available: %d (min tokens %lld)\n",
               mote::kernels::active_kernels().name, int(mote::cpu::xnn_f32_available()),
               (long long)mote::cpu::kXnnMinTokens);
  const std::vector<const Shape*> used = select_shapes(args.shapes);
  for (const Shape* s : used) bench_shape(*s, args.tokens, args.thread_counts);

  // Tables: one per thread count; rows = options, columns = shape x tokens.
  for (int threads : args.thread_counts) print_table(threads, used, args.tokens);
  print_pack_summary();
  std::printf("\n");
  print_json();
  return 0;
}
