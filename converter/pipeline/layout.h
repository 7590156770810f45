// Which converted tensors are stored in row groups (kernels/quant.h "Row groups", format 2).
//
// Row groups are the compute layout of the SIMD matmul kernels (one 64-byte load feeds 16 rows),
// so the converter writes them for every Q8_0/Q4_0/Q2_1 matrix with rows % 16 == 0 that the
// runtime only multiplies with kernels::matmul / matmul_strided: routed, shared and dense FFN
// matrices, the attention projections except MLA's kv_b, lm_head and MTP's eh_proj / head, and
// the router if it is ever quantised. Row-major stays wherever rows are read one at a time or
// sliced: embeddings (a row per token; an lm_head tied to them is an alias of the same bytes and
// keeps their layout) and AttnKvB (runtime/blocks/mla.cpp cuts it per head at offsets that are not
// multiples of 16 and multiplies it transposed).
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "mote/mote_generated.h"

namespace mote::convert {

// True for the roles the runtime uses only through kernels::matmul (row groups allowed).
bool matmul_only_role(fb::TensorRole role);

// The row_group to store a tensor with: kRowGroup (16) when row_major is false, the role is
// matmul-only, the type has row groups and shape is [rows % 16 == 0, cols]; else 1.
int row_group_for(fb::TensorRole role, WeightType type, const std::vector<uint64_t>& shape, bool row_major);

}  // namespace mote::convert
