// The CUDA backend's per-element and per-block arithmetic, as __host__ __device__ functions
// (MOTE_HD): fp16 / bf16 / E8M0 / E2M1 conversions, decoding of one 32-value block of every
// weight type in both layouts (row-major and row groups of 16, kernels/quant.h has the bytes),
// the per-lane partial dot products of the decode GEMV, KV-row quantisation (kernels/kv_rows.h)
// and the RoPE rotation of one pair. The kernels (platforms/cuda/*.cu) call exactly these; the
// CPU tests (tests/cuda/arith_test.cpp) check them against the scalar reference (runtime/kernels).
//
// Alignment (the *_fast decoders and gemv_lane_partial): every device weight starts on a
// cudaMalloc boundary (256 bytes) and views are cut at whole rows or row groups, so a block of
// Q8_0 / Q4_0 / F16 / BF16 is 2-byte aligned and one of Q2_1 / F32 and every row-group block is
// 4-byte aligned (block sizes 34, 18, 2, 12, 4 and 16 x those). MXFP4 (17-byte blocks) is read
// byte by byte. CudaBackend::matmul checks this and takes the byte-load path otherwise.
#pragma once

#include <math.h>

#include <cmath>
#include <cstdint>

#include "core/tensor.h"
#include "cuda/mote_hd.h"

namespace mote::cuda {

constexpr int kBlock = 32;     // values per quantised block (and per "block" of a plain type)
constexpr int kGroupRows = 16;  // rows per row group

// ---- conversions (exactly core/half.h's) ----

MOTE_HD float f16_to_f32(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = float(mant) * 5.9604644775390625e-8f;  // mant * 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest even, overflow to inf, NaN stays NaN (core/half.h f32_to_f16).
MOTE_HD uint32_t f32_to_f16(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;
  if (abs >= 0x477ff000u) return sign | 0x7c00u;
  if (abs < 0x38800000u) return sign | uint32_t(rintf(mul_rn(bits_f32(abs), 16777216.0f)));
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return sign | (((rounded >> 13) - (112u << 10)) & 0x7fffu);
}

MOTE_HD float bf16_to_f32(uint32_t h) { return bits_f32(h << 16); }

// E8M0 scale byte -> 2^(e - 127) (e = 255 gives inf, as std::ldexp(1, 128) does).
MOTE_HD float e8m0_to_f32(uint32_t e) {
  if (e == 0) return bits_f32(0x00400000u);  // 2^-127, subnormal
  return bits_f32(e << 23);
}

// E2M1 code (sign bit 3) -> value: kMxfp4Values of kernels/quant.h.
MOTE_HD float e2m1_to_f32(uint32_t code) {
  const uint32_t mag = code & 7u;
  // 0, 0.5, 1, 1.5 (step 0.5), then 2, 3 (step 1), then 4, 6 (step 2).
  const float v = mag < 4 ? 0.5f * float(mag) : mag < 6 ? float(mag - 2) : 4.0f + 2.0f * float(mag - 6);
  return (code & 8u) ? -v : v;
}

// ---- weight layout ----

MOTE_HD int block_bytes(WeightType t) {
  switch (t) {
    case WeightType::F32: return 4 * kBlock;
    case WeightType::F16:
    case WeightType::BF16: return 2 * kBlock;
    case WeightType::Q8_0: return 34;
    case WeightType::Q4_0: return 18;
    case WeightType::MXFP4: return 17;
    case WeightType::Q2_1: return 12;
  }
  return 0;
}
MOTE_HD bool plain_type(WeightType t) { return t == WeightType::F32 || t == WeightType::F16 || t == WeightType::BF16; }
MOTE_HD int64_t n_blocks(int64_t cols) { return (cols + kBlock - 1) / kBlock; }

// Start of block b of row r: row-major, the block itself (a plain type: element 32b of the row);
// grouped, the group block of r's group (decode with lane r % 16).
MOTE_HD const uint8_t* block_at(const WeightView& w, int64_t r, int64_t b) {
  if (w.row_group > 1)
    return w.data + uint64_t(r / w.row_group) * uint64_t(w.row_group) * w.row_stride +
           uint64_t(b) * uint64_t(w.row_group) * uint64_t(block_bytes(w.type));
  return w.data + uint64_t(r) * w.row_stride + uint64_t(b) * uint64_t(block_bytes(w.type));
}

// ---- one quantised block, row-major ----
// Value j (< 32) of a row-major block at p, any alignment.
MOTE_HD float quant_value(WeightType t, const uint8_t* p, int j) {
  switch (t) {
    case WeightType::Q8_0: return mul_rn(f16_to_f32(ld_u16(p)), float(int8_t(p[2 + j])));
    case WeightType::Q4_0: {
      const uint32_t byte = p[2 + (j & 15)];
      return mul_rn(f16_to_f32(ld_u16(p)), float(int((j < 16 ? byte : byte >> 4) & 0xfu) - 8));
    }
    case WeightType::MXFP4: {
      const uint32_t byte = p[1 + j / 2];
      return mul_rn(e2m1_to_f32((j & 1) ? byte >> 4 : byte & 0xfu), e8m0_to_f32(p[0]));
    }
    case WeightType::Q2_1: {
      const uint32_t q = (uint32_t(p[4 + j / 4]) >> (2 * (j % 4))) & 3u;
      return add_rn(mul_rn(f16_to_f32(ld_u16(p)), float(q)), f16_to_f32(ld_u16(p + 2)));
    }
    default: return 0.0f;
  }
}

// Value j of lane `lane`'s row in a group block at gb (any alignment).
MOTE_HD float group_value(WeightType t, const uint8_t* gb, int lane, int j) {
  const float d = f16_to_f32(ld_u16(gb + 2 * lane));
  switch (t) {
    case WeightType::Q8_0: return mul_rn(d, float(int8_t(gb[32 + 64 * (j / 4) + 4 * lane + j % 4])));
    case WeightType::Q4_0: {
      const int jj = j & 15;
      const uint32_t byte = gb[32 + 64 * (jj / 4) + 4 * lane + jj % 4];
      return mul_rn(d, float(int((j < 16 ? byte : byte >> 4) & 0xfu) - 8));
    }
    case WeightType::Q2_1: {
      const int half = j / 16, s = (j % 16) / 4, i = j % 4;
      const uint32_t q = (uint32_t(gb[64 + 64 * half + 4 * lane + i]) >> (2 * s)) & 3u;
      return add_rn(mul_rn(d, float(q)), f16_to_f32(ld_u16(gb + 32 + 2 * lane)));
    }
    default: return 0.0f;
  }
}

// W[r, c] of any view (byte loads): embed, matmul_t and the tests.
MOTE_HD float weight_value(const WeightView& w, int64_t r, int64_t c) {
  const int64_t b = c / kBlock;
  const int j = int(c % kBlock);
  if (plain_type(w.type)) {
    const uint8_t* row = w.data + uint64_t(r) * w.row_stride;
    if (w.type == WeightType::F32) return ld_f32(row + 4 * c);
    const uint32_t h = ld_u16(row + 2 * c);
    return w.type == WeightType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
  const uint8_t* p = block_at(w, r, b);
  if (w.row_group > 1) return group_value(w.type, p, int(r % w.row_group), j);
  return quant_value(w.type, p, j);
}

// Block b (columns 32b .. 32b + 31) of row r, any view, byte loads; columns >= cols give 0.
MOTE_HD void decode_block_any(const WeightView& w, int64_t r, int64_t b, float* out) {
  const int64_t c0 = b * kBlock;
  for (int j = 0; j < kBlock; ++j) out[j] = c0 + j < w.cols ? weight_value(w, r, c0 + j) : 0.0f;
}

// ---- the decode GEMV's fast decoders (aligned loads; see the file comment) ----

// Row-major quantised block at p -> out[32]. kType: Q8_0, Q4_0, MXFP4 or Q2_1.
template <WeightType kType>
MOTE_HD void decode_row_block_fast(const uint8_t* p, float* out) {
  if constexpr (kType == WeightType::Q8_0) {
    const float d = f16_to_f32(ld_a16(p));
    MOTE_UNROLL
    for (int k = 0; k < 16; ++k) {
      const uint32_t v = ld_a16(p + 2 + 2 * k);
      out[2 * k] = mul_rn(d, float(int8_t(v & 0xffu)));
      out[2 * k + 1] = mul_rn(d, float(int8_t(v >> 8)));
    }
  } else if constexpr (kType == WeightType::Q4_0) {
    const float d = f16_to_f32(ld_a16(p));
    MOTE_UNROLL
    for (int k = 0; k < 8; ++k) {
      const uint32_t v = ld_a16(p + 2 + 2 * k);
      out[2 * k] = mul_rn(d, float(int(v & 0xfu) - 8));
      out[2 * k + 16] = mul_rn(d, float(int((v >> 4) & 0xfu) - 8));
      out[2 * k + 1] = mul_rn(d, float(int((v >> 8) & 0xfu) - 8));
      out[2 * k + 17] = mul_rn(d, float(int((v >> 12) & 0xfu) - 8));
    }
  } else if constexpr (kType == WeightType::Q2_1) {
    const uint32_t dm = ld_a32(p);
    const float d = f16_to_f32(dm & 0xffffu), m = f16_to_f32(dm >> 16);
    MOTE_UNROLL
    for (int k = 0; k < 2; ++k) {
      const uint32_t v = ld_a32(p + 4 + 4 * k);
      MOTE_UNROLL
      for (int e = 0; e < 16; ++e) out[16 * k + e] = add_rn(mul_rn(d, float((v >> (2 * e)) & 3u)), m);
    }
  } else {  // MXFP4
    const float s = e8m0_to_f32(p[0]);
    MOTE_UNROLL
    for (int k = 0; k < 16; ++k) {
      const uint32_t v = p[1 + k];
      out[2 * k] = mul_rn(e2m1_to_f32(v & 0xfu), s);
      out[2 * k + 1] = mul_rn(e2m1_to_f32(v >> 4), s);
    }
  }
}

// Row `lane` (0..15) of a group block at gb (4-byte aligned) -> out[32]. Q8_0, Q4_0, Q2_1.
template <WeightType kType>
MOTE_HD void decode_group_block_fast(const uint8_t* gb, int lane, float* out) {
  const float d = f16_to_f32(ld_a16(gb + 2 * lane));
  if constexpr (kType == WeightType::Q8_0) {
    MOTE_UNROLL
    for (int k = 0; k < 8; ++k) {
      const uint32_t v = ld_a32(gb + 32 + 64 * k + 4 * lane);
      MOTE_UNROLL
      for (int i = 0; i < 4; ++i) out[4 * k + i] = mul_rn(d, float(int8_t((v >> (8 * i)) & 0xffu)));
    }
  } else if constexpr (kType == WeightType::Q4_0) {
    MOTE_UNROLL
    for (int k = 0; k < 4; ++k) {
      const uint32_t v = ld_a32(gb + 32 + 64 * k + 4 * lane);
      MOTE_UNROLL
      for (int i = 0; i < 4; ++i) {
        out[4 * k + i] = mul_rn(d, float(int((v >> (8 * i)) & 0xfu) - 8));
        out[16 + 4 * k + i] = mul_rn(d, float(int((v >> (8 * i + 4)) & 0xfu) - 8));
      }
    }
  } else {  // Q2_1
    const float m = f16_to_f32(ld_a16(gb + 32 + 2 * lane));
    MOTE_UNROLL
    for (int half = 0; half < 2; ++half) {
      const uint32_t v = ld_a32(gb + 64 + 64 * half + 4 * lane);
      MOTE_UNROLL
      for (int i = 0; i < 4; ++i)
        MOTE_UNROLL
        for (int s = 0; s < 4; ++s)
          out[16 * half + 4 * s + i] = add_rn(mul_rn(d, float((v >> (8 * i + 2 * s)) & 3u)), m);
    }
  }
}

// Plain-type element c of a row (aligned: F32 4 bytes, F16/BF16 2 bytes).
template <WeightType kType>
MOTE_HD float plain_value_fast(const uint8_t* row, int64_t c) {
  if constexpr (kType == WeightType::F32) return bits_f32(ld_a32(row + 4 * c));
  else if constexpr (kType == WeightType::F16) return f16_to_f32(ld_a16(row + 2 * c));
  else return bf16_to_f32(ld_a16(row + 2 * c));
}

// Maximum tokens one GEMV pass computes (accumulators per lane).
constexpr int kGemvTokens = 8;

// One lane's partial sums of the decode GEMV, acc[t] for t < nt (<= kGemvTokens), fp32:
//   row-major (kGrouped false): unit = row r; lane l of n_lanes takes the blocks (plain types:
//     the elements) l, l + n_lanes, ...; the row's result is the sum over all lanes.
//   grouped: unit = row group g, 32 lanes: lane l takes row 16g + l % 16 and the block columns
//     b = l / 16, l / 16 + 2, ...; row 16g + i is the sum of lanes i and i + 16.
// x: token t's activations at x + t * x_stride (cols floats, read only below cols). x_vec: x is
// 16-byte aligned and x_stride a multiple of 4, so whole blocks of x load as 8 x 4 floats.
template <WeightType kType, bool kGrouped>
MOTE_HD void gemv_lane_partial(const WeightView& w, int64_t unit, int lane, int n_lanes, const float* x,
                               int64_t x_stride, int nt, bool x_vec, float* acc) {
  for (int t = 0; t < kGemvTokens; ++t) acc[t] = 0.0f;
  const int64_t cols = w.cols;
  if constexpr (kType == WeightType::F32 || kType == WeightType::F16 || kType == WeightType::BF16) {
    const uint8_t* row = w.data + uint64_t(unit) * w.row_stride;
    for (int64_t c = lane; c < cols; c += n_lanes) {
      const float v = plain_value_fast<kType>(row, c);
      MOTE_UNROLL
      for (int t = 0; t < kGemvTokens; ++t)
        if (t < nt) acc[t] += v * x[t * x_stride + c];
    }
  } else {
    const int64_t nb = n_blocks(cols);
    const int64_t bb = block_bytes(kType);
    const uint8_t* base;
    int row_lane = 0;
    int64_t b0, step;
    if constexpr (kGrouped) {
      base = w.data + uint64_t(unit) * kGroupRows * w.row_stride;
      row_lane = lane % kGroupRows;
      b0 = lane / kGroupRows;
      step = n_lanes / kGroupRows;
    } else {
      base = w.data + uint64_t(unit) * w.row_stride;
      b0 = lane;
      step = n_lanes;
    }
    float v[kBlock];
    for (int64_t b = b0; b < nb; b += step) {
      if constexpr (kGrouped) decode_group_block_fast<kType>(base + b * kGroupRows * bb, row_lane, v);
      else decode_row_block_fast<kType>(base + b * bb, v);
      const int64_t c0 = b * kBlock;
      const int n = cols - c0 < kBlock ? int(cols - c0) : kBlock;
      MOTE_UNROLL
      for (int t = 0; t < kGemvTokens; ++t) {
        if (t >= nt) break;
        const float* xt = x + t * x_stride + c0;
        float s = 0.0f;
        // Fully unrolled with constant indices so that v stays in registers.
        if (n == kBlock && x_vec) {
          MOTE_UNROLL
          for (int q = 0; q < kBlock / 4; ++q) {
            const F4 x4 = ld_f4(xt + 4 * q);
            MOTE_UNROLL
            for (int i = 0; i < 4; ++i) s += v[4 * q + i] * x4.v[i];
          }
        } else if (n == kBlock) {
          MOTE_UNROLL
          for (int j = 0; j < kBlock; ++j) s += v[j] * xt[j];
        } else {
          MOTE_UNROLL
          for (int j = 0; j < kBlock; ++j)
            if (j < n) s += v[j] * xt[j];
        }
        acc[t] += s;
      }
    }
  }
}

// ---- elementwise ----

MOTE_HD float silu_times(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// gpt-oss: (clamp(u, -limit, limit) + 1) * g * sigmoid(alpha * g), g = min(gate, limit).
MOTE_HD float clamped_swiglu(float gate, float up, float alpha, float limit) {
  const float g = fminf(gate, limit);
  const float u = fminf(fmaxf(up, -limit), limit);
  return (u + 1.0f) * (g / (1.0f + expf(-alpha * g)));
}

// RoPE on one pair (a, b) with table entries (c, s): a' = a c - b s, b' = a s + b c (both
// layouts; kernels/rope.h), each product rounded once as on the CPU.
MOTE_HD void rope_pair(float& a, float& b, float c, float s) {
  const float na = add_rn(mul_rn(a, c), -mul_rn(b, s));
  const float nb = add_rn(mul_rn(a, s), mul_rn(b, c));
  a = na;
  b = nb;
}

// ---- KV rows (core/kv_type.h, kernels/kv_rows.h) ----

// Value i of a piece stored as kv type `type` (0 f32, 1 f16, 2 q8_0), byte loads.
MOTE_HD float kv_value(int type, const uint8_t* piece, int64_t i) {
  if (type == 0) return ld_f32(piece + 4 * i);
  if (type == 1) return f16_to_f32(ld_u16(piece + 2 * i));
  const uint8_t* block = piece + (i / 32) * 36;
  return mul_rn(ld_f32(block), float(int8_t(block[4 + i % 32])));
}

// q8_0 code of x with inverse scale inv (kv_rows.h: round to nearest even of x * inv, clamped
// to [-127, 127], NaN -> 0).
MOTE_HD int8_t kv_q8_code(float x, float inv) {
  const float r = rintf(mul_rn(x, inv));
  if (r != r) return 0;
  return int8_t(fminf(fmaxf(r, -127.0f), 127.0f));
}
// Scale of a q8_0 block from its amax (NaN skipped by the caller's fmaxf): d = amax / 127.
MOTE_HD float kv_q8_scale(float amax) { return amax / 127.0f; }
MOTE_HD float kv_q8_inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

}  // namespace mote::cuda
