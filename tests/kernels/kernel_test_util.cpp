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

std::vector<const kernels::KernelTable*> fast_tables() {
  const kernels::KernelTable* all[8];
  const int n = kernels::available_kernels(all, 8);
  std::vector<const kernels::KernelTable*> out;
  for (int i = 0; i < n; ++i)
    if (all[i] != &kernels::reference_kernels()) out.push_back(all[i]);
  return out;
}

std::vector<const cpu::IsaOps*> fast_isas() {
  std::vector<const cpu::IsaOps*> out;
  for (const char* name : {"avx2", "avx512", "neon"})
    if (const cpu::IsaOps* ops = cpu::isa_ops(name)) out.push_back(ops);
  return out;
}

bool int8_activations(const kernels::KernelTable& k, WeightType type) {
  if (type == WeightType::Q8_0 || type == WeightType::Q4_0) return true;
  if (type != WeightType::Q2_1) return false;
  const cpu::IsaOps* ops = cpu::isa_ops(k.name);
  return ops != nullptr && ops->qdot_q2_1 != nullptr;
}

void exact_int8_product(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                        std::vector<double>* y, std::vector<double>* abs_sum) {
  const int64_t nb = (w.cols + 31) / 32;
  y->assign(size_t(n_tokens * w.rows), 0.0);
  abs_sum->assign(size_t(n_tokens * w.rows), 0.0);
  std::vector<cpu::ActBlock> acts(size_t(std::max<int64_t>(nb, 1)));
  std::vector<float> row(size_t(nb * 32), 0.0f);
  for (int64_t t = 0; t < n_tokens; ++t) {
    cpu::quantize_acts_ref(x + t * x_stride, w.cols, acts.data());
    for (int64_t r = 0; r < w.rows; ++r) {
      dequantize_row(w.type, w.row(r), w.cols, row.data());
      double s = 0, a = 0;
      for (int64_t b = 0; b < nb; ++b) {
        // Integer codes times the two scales: dequantised weight = d_w * q_w exactly in float64.
        // Q4_0 kernels sum unsigned nibbles (0..15) and subtract 8 * sum(q_a): their partial
        // sums are bounded by 16 * |d_w| * |q_a| per element, not by |W| * |q_a|.
        // Q2_1 kernels sum d * q (q in 0..3) and m separately: bounded by (3|d| + |m|) * |q_a|.
        double q4_extra = 0;
        if (w.type == WeightType::Q4_0) {
          uint16_t d16;
          std::memcpy(&d16, w.row(r) + b * kQ4_0BlockBytes, 2);
          q4_extra = 16.0 * std::fabs(double(f16_to_f32(d16)));
        } else if (w.type == WeightType::Q2_1) {
          uint16_t d16, m16;
          std::memcpy(&d16, w.row(r) + b * kQ2_1BlockBytes, 2);
          std::memcpy(&m16, w.row(r) + b * kQ2_1BlockBytes + 2, 2);
          q4_extra = 3.0 * std::fabs(double(f16_to_f32(d16))) + std::fabs(double(f16_to_f32(m16)));
        }
        double dot = 0, abs_dot = 0;
        for (int64_t j = b * 32; j < std::min(w.cols, b * 32 + 32); ++j) {
          const double qa = acts[size_t(b)].q[j - b * 32];
          dot += double(row[size_t(j)]) * qa;
          abs_dot += (std::fabs(double(row[size_t(j)])) + q4_extra) * std::fabs(qa);
        }
        s += dot * acts[size_t(b)].d;
        a += abs_dot * acts[size_t(b)].d;
      }
      (*y)[size_t(t * w.rows + r)] = s;
      (*abs_sum)[size_t(t * w.rows + r)] = a;
    }
  }
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
      dequantize_row(w.type, w.row(r), w.cols, row.data());
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
