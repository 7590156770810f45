// The scalar attention oracle (kernels/attention.h). It reproduces, operation for operation, the
// loops the blocks ran with the reference kernel table before the attention interface:
// per (token, head) the scores in key order (two dot products summed when the query comes in
// two pieces, then times scale), their max (with the sink), the sum of exp(s - max) in key
// order, then out = sum_p (exp(s_p - max) / sum) V[p] accumulated in key order. The scores go to
// the workspace when it holds one token's keys; without one it recomputes each score in each of
// its three passes (the same operations give the same floats, so the result is identical) at
// three times the dot products.
// Typed rows (kv_type != kF32) are decoded (kernels/kv_rows.h) in chunks of kChunk values into a
// stack buffer and go through the same dot / axpy loops in the same order, so the result is the
// f32 result on the decoded rows. A ring maps position p to row p % ring_rows.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/kv_rows.h"

namespace mote::kernels {
namespace {

// Same loops as the reference table's dot and axpy (kernels/reference.cpp).
float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

constexpr int64_t kChunk = 256;  // a multiple of the q8_0 block

// s + sum_i a[i] * piece[first + i] for i < n, in index order (the same float operations as
// dot() on the decoded values).
float dot_typed(float s, const float* a, KvType type, const uint8_t* piece, int64_t first, int64_t n) {
  float buf[kChunk];
  for (int64_t c = 0; c < n; c += kChunk) {
    const int64_t len = std::min(kChunk, n - c);
    load_kv_piece(type, piece, first + c, len, buf);
    for (int64_t i = 0; i < len; ++i) s += a[c + i] * buf[i];
  }
  return s;
}

void axpy_typed(float alpha, KvType type, const uint8_t* piece, float* y, int64_t n) {
  float buf[kChunk];
  for (int64_t c = 0; c < n; c += kChunk) {
    const int64_t len = std::min(kChunk, n - c);
    load_kv_piece(type, piece, c, len, buf);
    axpy(alpha, buf, y + c, len);
  }
}

struct Head {
  const float* q;   // dims [0, dk_a)
  const float* q2;  // dims [dk_a, dk), or null
  int64_t dk_a;
  const float* k;   // f32: key of row 0 for this kv head
  const float* v;   // f32: value of row 0 for this kv head
  const uint8_t* kb;  // typed: key piece of row 0 for this kv head
  const uint8_t* vb;  // typed: value piece of row 0
};

int64_t row_of(const AttentionArgs& a, int64_t p) { return a.ring_rows > 0 ? p % a.ring_rows : p; }

float score(const AttentionArgs& a, const Head& h, int64_t p) {
  const int64_t row = row_of(a, p);
  if (a.kv_type != KvType::kF32) {
    const uint8_t* key = h.kb + row * a.k_row_bytes;
    float s = dot_typed(0.0f, h.q, a.kv_type, key, 0, h.dk_a);
    if (h.q2 != nullptr) s += dot_typed(0.0f, h.q2, a.kv_type, key, h.dk_a, a.dk - h.dk_a);
    return s * a.scale;
  }
  const float* key = h.k + row * a.k_row_stride;
  float s = dot(h.q, key, h.dk_a);
  if (h.q2 != nullptr) s += dot(h.q2, key + h.dk_a, a.dk - h.dk_a);
  return s * a.scale;
}

// out += alpha * V[p].
void add_value(const AttentionArgs& a, const Head& h, int64_t p, float alpha, float* out) {
  const int64_t row = row_of(a, p);
  if (a.kv_type != KvType::kF32)
    axpy_typed(alpha, a.kv_type, h.vb + row * a.v_row_bytes, out, a.dv);
  else
    axpy(alpha, h.v + row * a.v_row_stride, out, a.dv);
}

}  // namespace

void attention_ref(const AttentionArgs& a) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int64_t pos = a.start + t;
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const int64_t g = h / group;
      Head hd;
      hd.q = a.q + t * a.q_token_stride + h * a.q_head_stride;
      hd.q2 = a.q2 != nullptr ? a.q2 + t * a.q2_token_stride + h * a.q2_head_stride : nullptr;
      hd.dk_a = a.q2 != nullptr ? a.dk_a : a.dk;
      const bool typed = a.kv_type != KvType::kF32;
      hd.k = typed ? nullptr : a.k + g * a.k_head_stride;
      hd.v = typed ? nullptr : a.v + g * a.v_head_stride;
      hd.kb = typed ? a.k_bytes + g * a.k_head_bytes : nullptr;
      hd.vb = typed ? a.v_bytes + g * a.v_head_bytes : nullptr;
      // scores[p - lo] (buffered) or recomputed: the same floats either way.
      float* scores = a.work != nullptr && a.work_floats >= pos - lo + 1 ? a.work : nullptr;
      auto s_at = [&](int64_t p) { return scores != nullptr ? scores[p - lo] : score(a, hd, p); };
      float max = -INFINITY;
      for (int64_t p = lo; p <= pos; ++p) {
        const float s = score(a, hd, p);
        if (scores != nullptr) scores[p - lo] = s;
        max = std::fmax(max, s);
      }
      if (a.sinks != nullptr) max = std::fmax(max, a.sinks[h]);
      float sum = a.sinks != nullptr ? std::exp(a.sinks[h] - max) : 0.0f;
      for (int64_t p = lo; p <= pos; ++p) sum += std::exp(s_at(p) - max);
      float* out = a.out + t * a.out_token_stride + h * a.out_head_stride;
      std::memset(out, 0, size_t(a.dv) * sizeof(float));
      for (int64_t p = lo; p <= pos; ++p) add_value(a, hd, p, std::exp(s_at(p) - max) / sum, out);
    }
  }
}

}  // namespace mote::kernels
