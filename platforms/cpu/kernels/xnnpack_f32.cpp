#include "cpu/kernels/xnnpack_f32.h"

#if defined(MOTE_HAVE_XNNPACK)

#include <xnnpack.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include "cpu/kernels/threads.h"
#include "kernels/quant.h"

namespace mote::cpu {
namespace {

// Rows per range are multiples of this (XNNPACK's widest f32 tile is 16 output channels).
constexpr int64_t kXnnRowAlign = 16;
// Packed weights per operator. XNNPACK's FC streams all of its packed weights once per tile of
// 7 tokens and does not block for the cache: one operator over a 16 MiB matrix reads it from
// memory n / 7 times (measured 30 GFLOP/s, against 150+ when the weights stay in L2). So each
// range packs and runs slices of at most this many bytes (L2 is 1 MiB per core here), each over
// all tokens; the weights are still read from memory only once per call, to pack them.
constexpr int64_t kXnnSliceBytes = 512 * 1024;

int64_t slice_rows(int64_t cols) {
  const int64_t rows = kXnnSliceBytes / (cols * int64_t(sizeof(float)));
  return std::max<int64_t>(kXnnRowAlign, rows / kXnnRowAlign * kXnnRowAlign);
}

bool init_xnnpack() {
  const char* env = std::getenv("MOTE_XNNPACK");
  if (env && std::strcmp(env, "0") == 0) return false;
  return xnn_initialize(nullptr) == xnn_status_success;  // never deinitialised (process lifetime)
}

struct XnnCall {
  const WeightView* w;
  const float* x;
  int64_t x_stride, n;
  float* y;
  int64_t y_stride;
  std::atomic<bool>* failed;
};

// Rows [r0, r1), slice by slice: a single-threaded operator packs the slice's rows (so they
// stay in L2) and runs over all n tokens.
void xnn_rows(void* ctx, int64_t r0, int64_t r1) {
  const auto& c = *static_cast<const XnnCall*>(ctx);
  const float inf = std::numeric_limits<float>::infinity();
  const int64_t step = slice_rows(c.w->cols);
  // F16/BF16: each slice is decoded to f32 first (one more pass over it, in L2).
  std::unique_ptr<float[]> decoded;
  if (c.w->type != WeightType::F32) decoded.reset(new (std::nothrow) float[size_t(step * c.w->cols)]);
  if (c.w->type != WeightType::F32 && !decoded) {
    c.failed->store(true, std::memory_order_relaxed);
    return;
  }
  for (int64_t s0 = r0; s0 < r1; s0 += step) {
    const int64_t s1 = std::min(r1, s0 + step);
    xnn_operator_t op = nullptr;
    const float* kernel = c.w->f32() + s0 * c.w->cols;
    if (decoded) {
      for (int64_t r = s0; r < s1; ++r)
        dequantize_row(c.w->type, c.w->row(r), c.w->cols, decoded.get() + (r - s0) * c.w->cols);
      kernel = decoded.get();
    }
    bool ok = xnn_create_fully_connected_nc_f32(size_t(c.w->cols), size_t(s1 - s0), size_t(c.x_stride),
                                                size_t(c.y_stride), kernel, nullptr, -inf, inf, 0,
                                                &op) == xnn_status_success;
    ok = ok && xnn_setup_fully_connected_nc_f32(op, size_t(c.n), c.x, c.y + s0, nullptr) == xnn_status_success;
    ok = ok && xnn_run_operator(op, nullptr) == xnn_status_success;
    if (op) xnn_delete_operator(op);
    if (!ok) {
      c.failed->store(true, std::memory_order_relaxed);
      return;
    }
  }
}

}  // namespace

bool xnn_f32_available() {
  static const bool ok = init_xnnpack();
  return ok;
}

bool xnn_matmul_f32(const WeightView& w, const float* x, int64_t x_stride, int64_t n, float* y,
                    int64_t y_stride) {
  const bool f32 = w.type == WeightType::F32;
  if (n < (f32 ? kXnnMinTokens : kXnnMinTokensHalf) || !(f32 || w.type == WeightType::F16 || w.type == WeightType::BF16) || w.grouped() ||
      w.rows <= 0 || w.cols <= 0 || (f32 && w.row_stride != uint64_t(w.cols) * sizeof(float)) ||
      x_stride < w.cols || y_stride < w.rows)
    return false;
  if (!xnn_f32_available()) return false;
  std::atomic<bool> failed{false};
  XnnCall call{&w, x, x_stride, n, y, y_stride, &failed};
  parallel_ranges(w.rows, kXnnRowAlign, xnn_rows, &call);
  return !failed.load();
}

}  // namespace mote::cpu

#else  // no XNNPACK in this build

namespace mote::cpu {
bool xnn_f32_available() { return false; }
bool xnn_matmul_f32(const WeightView&, const float*, int64_t, int64_t, float*, int64_t) { return false; }
}  // namespace mote::cpu

#endif
