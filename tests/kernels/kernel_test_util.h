// Shared helpers of the fast-kernel tests: packed random weights, random activations, the fast
// tables and ISA ops this CPU can run, and exact (float64) oracles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "cpu/kernels/isa.h"
#include "kernels/kernels.h"

namespace mote::test {

// Weights [rows, cols] of `type` quantised from uniform(-1, 1) values; view points into bytes.
struct Packed {
  std::vector<uint8_t> bytes;
  WeightView view;
};
Packed pack_random(WeightType type, int64_t rows, int64_t cols, uint32_t seed);
// The same weights as pack_random(type, rows, cols, seed), stored in row groups (kernels/quant.h;
// type Q8_0, Q4_0 or Q2_1, rows a multiple of 16): view.row_group == 16.
Packed pack_random_grouped(WeightType type, int64_t rows, int64_t cols, uint32_t seed);
// pack_random_grouped when `grouped` (rows % 16 == 0), else pack_random.
inline Packed pack_random_layout(WeightType type, int64_t rows, int64_t cols, bool grouped, uint32_t seed) {
  return grouped ? pack_random_grouped(type, rows, cols, seed) : pack_random(type, rows, cols, seed);
}

// n values, uniform(-scale, scale) per 32-block with the scale varying by block over 1e-3..1e2,
// one block in five all zero, so quantisation sees tiny, huge and empty blocks.
std::vector<float> random_acts(int64_t n, uint32_t seed);
// n tokens of `cols` random_acts each, quantised by the reference: [n, ceil(cols / 32)] blocks.
std::vector<cpu::ActBlock> random_act_blocks(int64_t cols, int64_t n, uint32_t seed);

// Tables other than the reference that this CPU can run (empty on a CPU without SIMD support).
std::vector<const kernels::KernelTable*> fast_tables();
// The reference table, then fast_tables().
std::vector<const kernels::KernelTable*> all_tables();
// The ISA ops this CPU can run.
std::vector<const cpu::IsaOps*> fast_isas();
// True if table k quantises activations to int8 for `type`: Q8_0 and Q4_0 always; Q2_1 and MXFP4
// where the table's ISA has a loop for them (elsewhere that entry is the float reference kernel).
// `grouped`: the same for row-grouped views (the qdot_grouped_* entries; null ones run the reference).
bool int8_activations(const kernels::KernelTable& k, WeightType type, bool grouped = false);

// The oracles below accept row-major and row-grouped views alike.
// y[t * rows + r] in float64 of the dequantised weights times the quantised-then-dequantised
// activations (the exact value an int8 kernel approximates only by float rounding), and
// abs_sum[t * rows + r] = a float64 bound on the magnitude of every partial sum a kernel forms
// (sum of |terms|; for Q4_0, with the unsigned-nibble form), for a rounding tolerance.
void exact_int8_product(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                        std::vector<double>* y, std::vector<double>* abs_sum);

// The exact int8 product of rows [r0, r1) and weight blocks [b0, b0 + nb) with given quantised
// activations (acts[t * nb + j] = block b0 + j of token t, the QDotRowsFn contract of isa.h):
// y[t * (r1 - r0) + r - r0] and abs_sum as above. Any layout (row-major or row groups).
void exact_block_product(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                         const cpu::ActBlock* acts, int64_t n_tokens, std::vector<double>* y,
                         std::vector<double>* abs_sum);

// y[t * rows + r] in float64 from the dequantised weights and f32 activations; abs_sum as above;
// quant_err[t * rows + r] = sum_c |W[r, c]| * d_a(c) / 2, the most int8 activations can move it.
void exact_float_product(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                         std::vector<double>* y, std::vector<double>* abs_sum, std::vector<double>* quant_err);

std::string shape_name(const kernels::KernelTable& k, WeightType type, int64_t rows, int64_t cols, int64_t n);

}  // namespace mote::test
