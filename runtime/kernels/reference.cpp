// Scalar reference kernels: plain C++, fp32 accumulation, no intrinsics, no allocation.
// Quantised and half-precision rows are decoded in place, kChunk columns at a time, into a
// small stack buffer (kernels/quant.h owns the block formats), so every weight byte is read
// once per call and then reused for all tokens of the batch. The same holds for the transposed
// product (matmul_t), which axpys each decoded row chunk into every token's output.
#include <algorithm>
#include <atomic>

#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote::kernels {
namespace {

// Columns decoded per step; a multiple of the quantisation block (32).
constexpr int64_t kChunk = 256;
static_assert(kChunk % kQuantBlock == 0);

float dot_ref(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_ref(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// f32 weights: the row is used where it lies.
void matmul_f32(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                int64_t y_stride) {
  for (int64_t r = 0; r < w.rows; ++r) {
    const float* row = reinterpret_cast<const float*>(w.row(r));
    for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = dot_ref(row, x + t * x_stride, w.cols);
  }
}

// Any other type: decode kChunk columns of the row, then use them for every token.
template <WeightType kType>
void matmul_decoded(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                    float* y, int64_t y_stride) {
  float buf[kChunk];
  for (int64_t r = 0; r < w.rows; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = 0.0f;
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      dequantize_view_piece(w, r, c0, n, buf);
      for (int64_t t = 0; t < n_tokens; ++t)
        y[t * y_stride + r] += dot_ref(buf, x + t * x_stride + c0, n);
    }
  }
}

// Transposed product, f32 weights: y[t, :] = sum_r x[t, r] * W[r, :], each row used where it lies.
void matmul_t_f32(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                  int64_t y_stride) {
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t c = 0; c < w.cols; ++c) y[t * y_stride + c] = 0.0f;
  for (int64_t r = 0; r < w.rows; ++r) {
    const float* row = reinterpret_cast<const float*>(w.row(r));
    for (int64_t t = 0; t < n_tokens; ++t) axpy_ref(x[t * x_stride + r], row, y + t * y_stride, w.cols);
  }
}

// Transposed product, any other type: decode kChunk columns of row r once, then axpy them into
// every token's output.
template <WeightType kType>
void matmul_t_decoded(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                      int64_t y_stride) {
  float buf[kChunk];
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t c = 0; c < w.cols; ++c) y[t * y_stride + c] = 0.0f;
  for (int64_t r = 0; r < w.rows; ++r) {
    for (int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
      const int64_t n = std::min(kChunk, w.cols - c0);
      dequantize_view_piece(w, r, c0, n, buf);
      for (int64_t t = 0; t < n_tokens; ++t) axpy_ref(x[t * x_stride + r], buf, y + t * y_stride + c0, n);
    }
  }
}

void get_row_ref(const WeightView& w, int64_t row, float* out) {
  dequantize_view_piece(w, row, 0, w.cols, out);
}

}  // namespace

void swiglu_unfused(const KernelTable& table, const WeightView& gate, const WeightView& up, const float* x,
                    int64_t x_stride, int64_t n_tokens, float* out, int64_t out_stride, float* scratch) {
  const int64_t I = gate.rows;
  table.matmul[int(gate.type)](gate, x, x_stride, n_tokens, out, out_stride);
  table.matmul[int(up.type)](up, x, x_stride, n_tokens, scratch, I);
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* o = out + t * out_stride;
    const float* u = scratch + t * I;
    for (int64_t i = 0; i < I; ++i) o[i] = silu_times(o[i], u[i]);
  }
}

void expert_ffns_one_by_one(const KernelTable& table, const ExpertJob* jobs, int64_t n_jobs) {
  for (int64_t j = 0; j < n_jobs; ++j) {
    const ExpertJob& e = jobs[j];
    table.swiglu(e.gate, e.up, e.x, e.gate.cols, e.n_tokens, e.x_q, e.hidden, e.gate.rows, e.scratch);
    table.matmul[int(e.down.type)](e.down, e.hidden, e.down.cols, e.n_tokens, e.out, e.down.rows);
  }
}

void rms_norm_rows_plain(const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n, float eps,
                         float* y, int64_t y_stride, QuantizedRows* q) {
  for (int64_t r = 0; r < n_rows; ++r) rms_norm_row(x + r * x_stride, w, n, eps, y + r * y_stride);
  if (q != nullptr) q->valid = false;
}

namespace {

// The reference works on f32 activations only: q is never valid for it, so it is ignored.
void swiglu_ref(const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride, int64_t n_tokens,
                const uint8_t* /*q*/, float* out, int64_t out_stride, float* scratch) {
  swiglu_unfused(reference_kernels(), gate, up, x, x_stride, n_tokens, out, out_stride, scratch);
}

void expert_ffns_ref(const ExpertJob* jobs, int64_t n_jobs) { expert_ffns_one_by_one(reference_kernels(), jobs, n_jobs); }

const KernelTable kReference = {
    "reference",
    {matmul_f32, matmul_decoded<WeightType::F16>, matmul_decoded<WeightType::BF16>,
     matmul_decoded<WeightType::Q8_0>, matmul_decoded<WeightType::Q4_0>, matmul_decoded<WeightType::MXFP4>,
     matmul_decoded<WeightType::Q2_1>},
    {matmul_t_f32, matmul_t_decoded<WeightType::F16>, matmul_t_decoded<WeightType::BF16>,
     matmul_t_decoded<WeightType::Q8_0>, matmul_t_decoded<WeightType::Q4_0>,
     matmul_t_decoded<WeightType::MXFP4>, matmul_t_decoded<WeightType::Q2_1>},
    get_row_ref,
    dot_ref,
    axpy_ref,
    swiglu_ref,
    rms_norm_rows_plain,
    expert_ffns_ref,
};

// Null until the first active_kernels() call picks default_kernels() (or set_active_kernels
// installs a table first).
std::atomic<const KernelTable*> g_active{nullptr};

}  // namespace

const KernelTable& reference_kernels() { return kReference; }

const KernelTable& active_kernels() {
  if (const KernelTable* t = g_active.load(std::memory_order_acquire)) return *t;
  static const KernelTable& chosen = default_kernels();  // once: the choice may print a warning
  const KernelTable* expected = nullptr;
  g_active.compare_exchange_strong(expected, &chosen, std::memory_order_acq_rel);
  return *g_active.load(std::memory_order_acquire);
}

void set_active_kernels(const KernelTable& table) { g_active.store(&table, std::memory_order_release); }

}  // namespace mote::kernels
