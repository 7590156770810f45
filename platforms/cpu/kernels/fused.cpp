// Fused SwiGLU: gate and up products of one row range computed by the same thread from one
// quantisation of the activations, and silu(gate) * up applied while the range's outputs are
// still in L1/L2. Saves, per FFN or expert, one activation quantisation and one fork-join (the
// dominant fixed cost of small expert matrices in decode) and a pass over the [T, I] products.
#include "cpu/kernels/fused.h"

#include <algorithm>

#include "cpu/kernels/threads.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace mote::cpu {
namespace {

FDotRowsFn fdot_for(const IsaOps& ops, const WeightView& w) {
  return int(w.type) <= int(WeightType::BF16) ? ops.fdot[int(w.type)] : nullptr;
}

struct SwigluCall {
  QDotRowsFn qdot;  // quantised weights (with acts), or
  FDotRowsFn fdot;  // float weights (with x)
  const WeightView *gate, *up;
  const ActBlock* acts;  // [n_tokens, nb]
  int64_t nb;
  const float* x;
  int64_t x_stride, n_tokens;
  float* out;
  int64_t out_stride;
  float* scratch;  // [n_tokens, I]
};

// Rows per step for large batches: a piece of gate and up small enough (~256 KiB together) to
// stay in L2 while every token passes over it, as driver.cpp's chunked path does.
int64_t rows_per_step(const WeightView& w, int64_t n_tokens) {
  if (n_tokens <= 16) return w.rows;
  const int64_t row_bytes = int64_t(weight_row_bytes(w.type, w.cols));
  return std::clamp<int64_t>((128 * 1024) / std::max<int64_t>(row_bytes, 1), 16, 256) / 16 * 16;
}

void swiglu_rows(void* ctx, int64_t r0, int64_t r1) {
  const auto& c = *static_cast<const SwigluCall*>(ctx);
  const int64_t I = c.gate->rows;
  if (c.qdot) {
    const int64_t step = rows_per_step(*c.gate, c.n_tokens);
    for (int64_t rb = r0; rb < r1; rb += step) {
      const int64_t re = std::min(r1, rb + step);
      c.qdot(*c.gate, rb, re, 0, c.nb, c.acts, c.n_tokens, c.out, c.out_stride, false);
      c.qdot(*c.up, rb, re, 0, c.nb, c.acts, c.n_tokens, c.scratch, I, false);
    }
  } else {
    c.fdot(*c.gate, r0, r1, c.x, c.x_stride, c.n_tokens, c.out, c.out_stride);
    c.fdot(*c.up, r0, r1, c.x, c.x_stride, c.n_tokens, c.scratch, I);
  }
  for (int64_t t = 0; t < c.n_tokens; ++t) {
    float* o = c.out + t * c.out_stride;
    const float* u = c.scratch + t * I;
    for (int64_t r = r0; r < r1; ++r) o[r] = kernels::silu_times(o[r], u[r]);
  }
}

void run_swiglu(const SwigluCall& call) {
  const WeightView& gate = *call.gate;
  const double work =
      2.0 * double(weight_row_bytes(gate.type, gate.cols)) * double(gate.rows) * double(call.n_tokens);
  if (work >= kParallelMinWork) parallel_ranges(gate.rows, kRowAlign, swiglu_rows, const_cast<SwigluCall*>(&call));
  else swiglu_rows(const_cast<SwigluCall*>(&call), 0, gate.rows);
}

}  // namespace

void swiglu_with(const IsaOps& ops, const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                 int64_t n_tokens, const uint8_t* q, float* out, int64_t out_stride, float* scratch) {
  if (gate.rows <= 0 || n_tokens <= 0) return;
  const int64_t nb = (gate.cols + kActBlock - 1) / kActBlock;
  const bool same = gate.type == up.type && gate.grouped() == up.grouped() && gate.rows == up.rows &&
                    gate.cols == up.cols;
  SwigluCall call{qdot_for(ops, gate), fdot_for(ops, gate), &gate, &up, nullptr, nb, x, x_stride, n_tokens,
                  out, out_stride, scratch};
  if (!same || (!call.qdot && !call.fdot) || (call.qdot && !q && nb * n_tokens > kActBufBlocks)) {
    kernels::swiglu_unfused(*kernels::find_kernels(ops.name), gate, up, x, x_stride, n_tokens, out, out_stride,
                            scratch);
    return;
  }
  if (!call.qdot || q) {
    call.acts = reinterpret_cast<const ActBlock*>(q);
    run_swiglu(call);
    return;
  }
  ActBlock acts[kActBufBlocks];
  for (int64_t t = 0; t < n_tokens; ++t) ops.quantize_acts(x + t * x_stride, gate.cols, acts + t * nb);
  call.acts = acts;
  run_swiglu(call);
}

void rms_norm_with(const IsaOps& ops, const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n,
                   float eps, float* y, int64_t y_stride, kernels::QuantizedRows* q) {
  const bool quantise = q != nullptr && q->data != nullptr && q->cols == n;
  const int64_t q_row = kernels::quantized_row_bytes(n);
  for (int64_t r = 0; r < n_rows; ++r) {
    float* row = y + r * y_stride;
    kernels::rms_norm_row(x + r * x_stride, w, n, eps, row);
    if (quantise) ops.quantize_acts(row, n, reinterpret_cast<ActBlock*>(q->data + r * q_row));
  }
  if (q != nullptr) q->valid = quantise;
}

}  // namespace mote::cpu
