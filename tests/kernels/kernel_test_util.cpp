#include "kernels/kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/half.h"

#include "kernels/quant.h"

namespace mote::test {

Packed pack_random(WeightType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(size_t(std::max<int64_t>(cols, 1)));
  Packed p;
  const uint64_t stride = weight_row_bytes(type, cols);
  p.bytes.resize(size_t(rows) * stride);  // exact size: a kernel reading past the last row trips ASan
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(gen);
    quantize_row(type, row.data(), cols, p.bytes.data() + r * stride);
  }
  p.view = {type, rows, cols, stride, p.bytes.data()};
  return p;
}

Packed pack_random_grouped(WeightType type, int64_t rows, int64_t cols, uint32_t seed) {
  const Packed rm = pack_random(type, rows, cols, seed);
  Packed p;
  p.bytes.resize(rm.bytes.size());
  interleave_matrix(type, rm.bytes.data(), rows, cols, p.bytes.data());
  p.view = rm.view;
  p.view.data = p.bytes.data();
  p.view.row_group = kRowGroup;
  return p;
}

std::vector<float> random_acts(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-3.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t b = 0; b * 32 < n; ++b) {
    const float scale = (b % 5 == 3) ? 0.0f : std::pow(10.0f, log_scale(gen));
    for (int64_t j = b * 32; j < std::min(n, b * 32 + 32); ++j) v[size_t(j)] = scale * dist(gen);
  }
  return v;
}

std::vector<cpu::ActBlock> random_act_blocks(int64_t cols, int64_t n, uint32_t seed) {
  const int64_t nb = (cols + 31) / 32;
  const std::vector<float> x = random_acts(n * cols, seed);
  std::vector<cpu::ActBlock> acts(size_t(n * nb));
  for (int64_t t = 0; t < n; ++t) cpu::quantize_acts_ref(x.data() + t * cols, cols, acts.data() + t * nb);
  return acts;
}

std::vector<const kernels::KernelTable*> fast_tables() {
  const kernels::KernelTable* all[8];
  const int n = kernels::available_kernels(all, 8);
  std::vector<const kernels::KernelTable*> out;
  for (int i = 0; i < n; ++i)
    if (all[i] != &kernels::reference_kernels()) out.push_back(all[i]);
  return out;
}

std::vector<const kernels::KernelTable*> all_tables() {
  std::vector<const kernels::KernelTable*> tables{&kernels::reference_kernels()};
  for (const auto* t : fast_tables()) tables.push_back(t);
  return tables;
}

std::vector<const cpu::IsaOps*> fast_isas() {
  std::vector<const cpu::IsaOps*> out;
  for (const char* name : {"avx2", "avx512", "avx512-amx", "neon"})
    if (const cpu::IsaOps* ops = cpu::isa_ops(name)) out.push_back(ops);
  return out;
}

bool int8_activations(const kernels::KernelTable& k, WeightType type, bool grouped) {
  const cpu::IsaOps* ops = cpu::isa_ops(k.name);
  if (ops == nullptr) return false;
  switch (type) {
    case WeightType::Q8_0: return (grouped ? ops->qdot_grouped_q8_0 : ops->qdot_q8_0) != nullptr;
    case WeightType::Q4_0: return (grouped ? ops->qdot_grouped_q4_0 : ops->qdot_q4_0) != nullptr;
    case WeightType::Q2_1: return (grouped ? ops->qdot_grouped_q2_1 : ops->qdot_q2_1) != nullptr;
    case WeightType::MXFP4: return !grouped && ops->qdot_mxfp4 != nullptr;
    default: return false;
  }
}

namespace {

// The f16 scale (and Q2_1 minimum) of row r's block b, row-major or grouped.
void block_header(const WeightView& w, int64_t r, int64_t b, float* d, float* m) {
  const int64_t bb = weight_block_bytes(w.type);
  uint16_t d16 = 0, m16 = 0;
  if (w.grouped()) {
    const uint8_t* gb = w.group(r / w.row_group) + b * w.row_group * bb;
    const int64_t lane = r % w.row_group;
    std::memcpy(&d16, gb + 2 * lane, 2);
    if (w.type == WeightType::Q2_1) std::memcpy(&m16, gb + 2 * w.row_group + 2 * lane, 2);
  } else {
    std::memcpy(&d16, w.row(r) + b * bb, 2);
    if (w.type == WeightType::Q2_1) std::memcpy(&m16, w.row(r) + b * bb + 2, 2);
  }
  *d = f16_to_f32(d16);
  *m = f16_to_f32(m16);
}

// Extra magnitude per |q_a| that a kernel's partial sums may carry beyond |W| (see below).
double kernel_extra(const WeightView& w, int64_t r, int64_t b) {
  float d = 0, m = 0;
  if (w.type != WeightType::Q4_0 && w.type != WeightType::Q2_1) return 0.0;
  block_header(w, r, b, &d, &m);
  // Q4_0 kernels sum unsigned nibbles (0..15) and subtract 8 * sum(q_a): their partial sums are
  // bounded by 16 * |d_w| * |q_a| per element, not by |W| * |q_a|. Q2_1 kernels sum d * q
  // (q in 0..3) and m separately: bounded by (3|d| + |m|) * |q_a|.
  if (w.type == WeightType::Q4_0) return 16.0 * std::fabs(double(d));
  return 3.0 * std::fabs(double(d)) + std::fabs(double(m));
}

}  // namespace

void exact_block_product(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                         const cpu::ActBlock* acts, int64_t n_tokens, std::vector<double>* y,
                         std::vector<double>* abs_sum) {
  const int64_t nr = r1 - r0;
  y->assign(size_t(n_tokens * nr), 0.0);
  abs_sum->assign(size_t(n_tokens * nr), 0.0);
  const int64_t c0 = b0 * 32, nc = std::min(w.cols - c0, nb * 32);
  std::vector<float> row(size_t(nb * 32), 0.0f);
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(row.begin(), row.end(), 0.0f);
    if (nc > 0) dequantize_view_piece(w, r, c0, nc, row.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0, a = 0;
      for (int64_t j = 0; j < nb; ++j) {
        const cpu::ActBlock& ab = acts[t * nb + j];
        const double extra = kernel_extra(w, r, b0 + j);
        double dot = 0, abs_dot = 0;
        for (int64_t i = 0; i < 32; ++i) {
          const double qa = ab.q[i], wv = row[size_t(j * 32 + i)];
          dot += wv * qa;
          abs_dot += (std::fabs(wv) + extra) * std::fabs(qa);
        }
        s += dot * ab.d;
        a += abs_dot * ab.d;
      }
      (*y)[size_t(t * nr + r - r0)] = s;
      (*abs_sum)[size_t(t * nr + r - r0)] = a;
    }
  }
}

void exact_int8_product(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                        std::vector<double>* y, std::vector<double>* abs_sum) {
  const int64_t nb = (w.cols + 31) / 32;
  std::vector<cpu::ActBlock> acts(size_t(std::max<int64_t>(nb * n_tokens, 1)));
  for (int64_t t = 0; t < n_tokens; ++t) cpu::quantize_acts_ref(x + t * x_stride, w.cols, acts.data() + t * nb);
  exact_block_product(w, 0, w.rows, 0, nb, acts.data(), n_tokens, y, abs_sum);
}

void exact_float_product(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                         std::vector<double>* y, std::vector<double>* abs_sum, std::vector<double>* quant_err) {
  const int64_t nb = (w.cols + 31) / 32;
  y->assign(size_t(n_tokens * w.rows), 0.0);
  abs_sum->assign(size_t(n_tokens * w.rows), 0.0);
  quant_err->assign(size_t(n_tokens * w.rows), 0.0);
  std::vector<cpu::ActBlock> acts(size_t(std::max<int64_t>(nb, 1)));
  std::vector<float> row(size_t(std::max<int64_t>(w.cols, 1)));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * x_stride;
    cpu::quantize_acts_ref(xt, w.cols, acts.data());
    for (int64_t r = 0; r < w.rows; ++r) {
      dequantize_view_piece(w, r, 0, w.cols, row.data());
      double s = 0, a = 0, q = 0;
      for (int64_t c = 0; c < w.cols; ++c) {
        s += double(row[size_t(c)]) * xt[c];
        a += std::fabs(double(row[size_t(c)]) * xt[c]);
        q += std::fabs(double(row[size_t(c)])) * acts[size_t(c / 32)].d * 0.5;
      }
      (*y)[size_t(t * w.rows + r)] = s;
      (*abs_sum)[size_t(t * w.rows + r)] = a;
      (*quant_err)[size_t(t * w.rows + r)] = q;
    }
  }
}

std::string shape_name(const kernels::KernelTable& k, WeightType type, int64_t rows, int64_t cols, int64_t n) {
  return std::string(k.name) + " " + weight_type_name(type) + " " + std::to_string(rows) + "x" +
         std::to_string(cols) + " tokens=" + std::to_string(n);
}

}  // namespace mote::test
