// AArch64 NEON + dotprod inner loops for row-grouped Q8_0 / Q4_0 / Q2_1 weights (layout:
// kernels/quant.h "Row groups"; contract: QDotRowsFn in isa.h). Built like arm_neon.cpp: only
// code below the target pragma uses dotprod, and the dispatcher calls it after HWCAP_ASIMDDP.
//
// One 64-byte chunk of a group block is four q registers, register i holding rows 4i..4i+3 of
// the group, 4 bytes (4 consecutive columns) per row. vdotq_laneq_s32(acc[i], w[i], act, L)
// multiplies each row's 4 bytes with the 4 activation bytes of 32-bit lane L and adds them to
// that row's int32 lane: 16 rows take 4 sdot per chunk and no horizontal sums. Per group block
// and token: 32 sdot, then 4 x (scvtf, fmul by the row scales, fmla by the activation scale).
//
// Codes enter sdot as non-negative s8 values: Q4_0 nibbles 0..15 with the -8 folded into the
// accumulator's start value (-8 * ActBlock::sum), Q2_1 codes 0..3 with the minimum added in
// float as m * d_a * ActBlock::sum. Unpacking (and/shift) is done once per chunk and reused by
// the kT tokens of a register tile (kT = 2: 8 int32 + 8 f32 accumulators + 4 activation
// registers + 4-8 weight registers fit in the 32 vector registers without spills).
//
// Inner loop per group block (objdump of GCC 12 -O2/-O3, no spills), 1 token / 2 tokens:
// Q8_0 74 / 129 instructions, Q4_0 101 / 160, Q2_1 117 / 188. The row-major loops of
// arm_neon.cpp take about 240 (Q8_0), 200 (Q4_0) and 220 (Q2_1) per token for the same 16 rows
// x 32 columns (scripts/count-insn.sh counts both per weight byte against AVX2).
//
// i8mm (smmla, 2 rows x 8 columns times 8 columns x 2 tokens) is not used: this layout's lanes
// hold 4 columns of a row, so every weight register needs a zip1/zip2 with the next chunk's
// before smmla can take it. For a 2-token tile that is 32 smmla + 32 zips (+ 4 activation zips)
// per group block against 64 sdot: no fewer vector-pipe instructions. Amortising the zips over
// 4+ tokens needs 32 accumulator registers for 16 rows, more than the register file leaves.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod+fp16")
// GCC 12's first scheduling pass hoists the weight loads of all 8 chunks above the sdot that
// use them and spills 20-40 q registers per group block (measured with objdump at -O2 and -O3);
// without it the register tiles below compile to spill-free loops.
#if !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

namespace mote::cpu {
namespace {

#define MOTE_INLINE inline __attribute__((always_inline))

template <WeightType kType>
constexpr int64_t group_block_bytes() {
  if constexpr (kType == WeightType::Q8_0) return int64_t(kRowGroup) * kQ8_0BlockBytes;  // 544
  else if constexpr (kType == WeightType::Q4_0) return int64_t(kRowGroup) * kQ4_0BlockBytes;  // 288
  else return int64_t(kRowGroup) * kQ2_1BlockBytes;  // 192
}

// Bytes before the first chunk: d[16] (and m[16] for Q2_1), f16.
template <WeightType kType>
constexpr int64_t group_header_bytes() { return kType == WeightType::Q2_1 ? 64 : 32; }

// acc[t][i] += row-lanes of w[i] . lane kLane of a[t], for the kT tokens of the tile.
template <int kLane, int kT>
MOTE_INLINE void sdot_lane(int32x4_t (&acc)[kT][4], const int8x16_t (&w)[4], const int8x16_t (&a)[kT]) {
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[t][i] = vdotq_laneq_s32(acc[t][i], w[i], a[t], kLane);
}

// Q8_0 chunk k (0..7): columns 4k..4k+3, i.e. lane k % 4 of the activations' half k / 4.
template <int kChunk, int kT>
MOTE_INLINE void q8_chunk(const uint8_t* q, const int8x16_t (&a)[kT], int32x4_t (&acc)[kT][4]) {
  // One ld1 of 4 registers (Q4_0 / Q2_1 use 4 single loads: the unpack temporaries leave the
  // register allocator no room for ld1's 4 consecutive registers without extra moves).
  const int8x16x4_t raw = vld1q_s8_x4(reinterpret_cast<const int8_t*>(q + 64 * kChunk));
  const int8x16_t w[4] = {raw.val[0], raw.val[1], raw.val[2], raw.val[3]};
  sdot_lane<kChunk % 4>(acc, w, a);
}

// Q4_0 chunk j (0..3): low nibbles are columns 4j..4j+3 (lane j of the first half of the
// activations), high nibbles columns 16+4j.. (lane j of the second half).
template <int kJ, int kT>
MOTE_INLINE void q4_chunk(const uint8_t* q, const int8x16_t (&a0)[kT], const int8x16_t (&a1)[kT],
                          int32x4_t (&acc)[kT][4]) {
  const uint8x16_t raw[4] = {vld1q_u8(q + 64 * kJ), vld1q_u8(q + 64 * kJ + 16), vld1q_u8(q + 64 * kJ + 32),
                             vld1q_u8(q + 64 * kJ + 48)};
  const uint8x16_t mask = vdupq_n_u8(0x0f);
  int8x16_t w[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(raw[i], mask));
  sdot_lane<kJ>(acc, w, a0);
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vshrq_n_u8(raw[i], 4));
  sdot_lane<kJ>(acc, w, a1);
}

// Q2_1 chunk j (0..1): bits 2s..2s+1 of a lane's byte i are column 16j + 4s + i, i.e. lane s
// of the activations' half j.
template <int kJ, int kT>
MOTE_INLINE void q2_chunk(const uint8_t* q, const int8x16_t (&a)[kT], int32x4_t (&acc)[kT][4]) {
  const uint8x16_t raw[4] = {vld1q_u8(q + 64 * kJ), vld1q_u8(q + 64 * kJ + 16), vld1q_u8(q + 64 * kJ + 32),
                             vld1q_u8(q + 64 * kJ + 48)};
  const uint8x16_t three = vdupq_n_u8(3);
  int8x16_t w[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(raw[i], three));
  sdot_lane<0>(acc, w, a);
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw[i], 2), three));
  sdot_lane<1>(acc, w, a);
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw[i], 4), three));
  sdot_lane<2>(acc, w, a);
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vshrq_n_u8(raw[i], 6));
  sdot_lane<3>(acc, w, a);
}

// Q2_1, one token (decode), both chunks: the same sums with masks in place of shifts. Codes of
// field s are taken as (byte & (3 << 2s)) = 4^s * code for s = 1, 2 and the accumulator is scaled
// back instead: start from 16 * (field 2 terms), shift right by 2 (exact: every term is a
// multiple of 4), add 4 * (field 1 terms), shift by 2 again, then add fields 0 and 3 (and with 3,
// shift by 6). 4 unpack instructions per weight register instead of 6, for 2 accumulator shifts
// per 4 rows: 40 instead of 48 per group block. With two tokens the shifts double and the 8 raw
// registers that must stay live no longer fit, so q2_chunk serves that case. Integer sums are
// exact either way, so both give bit-identical results.
MOTE_INLINE void q2_block_one_token(const uint8_t* q, int8x16_t a0, int8x16_t a1, int32x4_t (&acc)[1][4]) {
  uint8x16_t raw[2][4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    raw[0][i] = vld1q_u8(q + 16 * i);
    raw[1][i] = vld1q_u8(q + 64 + 16 * i);
  }
  const int8x16_t a[2][1] = {{a0}, {a1}};
  int8x16_t w[4];
  const uint8x16_t m2 = vdupq_n_u8(0x30), m1 = vdupq_n_u8(0x0c), m0 = vdupq_n_u8(0x03);
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(raw[j][i], m2));
    sdot_lane<2>(acc, w, a[j]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) acc[0][i] = vshrq_n_s32(acc[0][i], 2);
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(raw[j][i], m1));
    sdot_lane<1>(acc, w, a[j]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) acc[0][i] = vshrq_n_s32(acc[0][i], 2);
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vandq_u8(raw[j][i], m0));
    sdot_lane<0>(acc, w, a[j]);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) w[i] = vreinterpretq_s8_u8(vshrq_n_u8(raw[j][i], 6));
    sdot_lane<3>(acc, w, a[j]);
  }
}

// 16 f16 values (row r at index r) -> 4 x float32x4 (rows 4i..4i+3 in v[i]).
MOTE_INLINE void load_f16x16(const uint8_t* p, float32x4_t (&v)[4]) {
  const float16x8_t h0 = vld1q_f16(reinterpret_cast<const float16_t*>(p));
  const float16x8_t h1 = vld1q_f16(reinterpret_cast<const float16_t*>(p + 16));
  v[0] = vcvt_f32_f16(vget_low_f16(h0));
  v[1] = vcvt_high_f32_f16(h0);
  v[2] = vcvt_f32_f16(vget_low_f16(h1));
  v[3] = vcvt_high_f32_f16(h1);
}

// The 16 rows of one group times kT tokens over nb group blocks starting at `g` (group block
// b0 of the group): out[t][i] = rows 4i..4i+3 for token t, whose blocks are a[t][0..nb).
// Every token sees the same float operations in the same order whatever kT is (the int32 block
// sums are exact however they are formed), so a token's result does not depend on its batch.
template <WeightType kType, int kT>
MOTE_INLINE void group_tile(const uint8_t* g, int64_t nb, const ActBlock* const (&a)[kT],
                            float32x4_t (&out)[kT][4]) {
  constexpr int64_t kGB = group_block_bytes<kType>();
  float32x4_t acc[kT][4];
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0.0f);
  for (int64_t j = 0; j < nb; ++j) {
    const uint8_t* blk = g + j * kGB;
    const uint8_t* q = blk + group_header_bytes<kType>();
    int8x16_t a0[kT], a1[kT];
    int32x4_t isum[kT][4];
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const ActBlock& ab = a[t][j];
      a0[t] = vld1q_s8(ab.q);
      a1[t] = vld1q_s8(ab.q + 16);
      // Q4_0: sum (n - 8) q = sum n q - 8 sum q, the correction as the accumulators' start.
      const int32x4_t start = vdupq_n_s32(kType == WeightType::Q4_0 ? -8 * ab.sum : 0);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) isum[t][i] = start;
    }
    if constexpr (kType == WeightType::Q8_0) {
      q8_chunk<0>(q, a0, isum);
      q8_chunk<1>(q, a0, isum);
      q8_chunk<2>(q, a0, isum);
      q8_chunk<3>(q, a0, isum);
      q8_chunk<4>(q, a1, isum);
      q8_chunk<5>(q, a1, isum);
      q8_chunk<6>(q, a1, isum);
      q8_chunk<7>(q, a1, isum);
    } else if constexpr (kType == WeightType::Q4_0) {
      q4_chunk<0>(q, a0, a1, isum);
      q4_chunk<1>(q, a0, a1, isum);
      q4_chunk<2>(q, a0, a1, isum);
      q4_chunk<3>(q, a0, a1, isum);
    } else {
      if constexpr (kT == 1) {
        q2_block_one_token(q, a0[0], a1[0], isum);
      } else {
        q2_chunk<0>(q, a0, isum);
        q2_chunk<1>(q, a1, isum);
      }
    }
    float32x4_t dw[4];
    load_f16x16(blk, dw);
    if constexpr (kType == WeightType::Q2_1) {
      float32x4_t mw[4];
      load_f16x16(blk + 32, mw);
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) {
        const float da = a[t][j].d, ms = da * float(a[t][j].sum);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          acc[t][i] = vfmaq_n_f32(acc[t][i], vmulq_f32(vcvtq_f32_s32(isum[t][i]), dw[i]), da);
          acc[t][i] = vfmaq_n_f32(acc[t][i], mw[i], ms);
        }
      }
    } else {
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) {
        const float da = a[t][j].d;
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
          acc[t][i] = vfmaq_n_f32(acc[t][i], vmulq_f32(vcvtq_f32_s32(isum[t][i]), dw[i]), da);
      }
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) out[t][i] = acc[t][i];
}

// Rows [r0, r1) of [base, base + 16) of yt from v (row base + 4i + k in lane k of v[i]). Outside
// the QDotRowsFn contract (r0, r1 multiples of 16); kept so that a misaligned range still writes
// only its own rows.
__attribute__((noinline, cold)) void store_partial(const float32x4_t (&v)[4], float* yt, int64_t base, int64_t r0,
                                                   int64_t r1, bool accumulate) {
  float tmp[kRowGroup];
  for (int i = 0; i < 4; ++i) vst1q_f32(tmp + 4 * i, v[i]);
  for (int64_t r = base < r0 ? r0 : base; r < base + kRowGroup && r < r1; ++r)
    yt[r] = accumulate ? yt[r] + tmp[r - base] : tmp[r - base];
}

// Rows [16g, 16g + 16) of token row `yt` (y + t * y_stride) from v, written or added.
MOTE_INLINE void store_group(const float32x4_t (&v)[4], float* yt, int64_t g, int64_t r0, int64_t r1,
                             bool accumulate) {
  const int64_t base = g * kRowGroup;
  if (base < r0 || base + kRowGroup > r1) {
    store_partial(v, yt, base, r0, r1, accumulate);
    return;
  }
  float* p = yt + base;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
    vst1q_f32(p + 4 * i, accumulate ? vaddq_f32(vld1q_f32(p + 4 * i), v[i]) : v[i]);
}

// Groups outer, token pairs inner: a group's nb blocks (at most a few hundred KiB) stay in
// L1/L2 while every token pair passes over them.
template <WeightType kType>
void qdot_grouped(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb, const ActBlock* acts,
                  int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  const uint64_t offset = uint64_t(b0) * uint64_t(group_block_bytes<kType>());
  for (int64_t g = r0 / kRowGroup; g * kRowGroup < r1; ++g) {
    const uint8_t* gp = w.group(g) + offset;
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
      const ActBlock* const a[2] = {acts + t * nb, acts + (t + 1) * nb};
      float32x4_t out[2][4];
      group_tile<kType, 2>(gp, nb, a, out);
      store_group(out[0], y + t * y_stride, g, r0, r1, accumulate);
      store_group(out[1], y + (t + 1) * y_stride, g, r0, r1, accumulate);
    }
    if (t < n_tokens) {
      const ActBlock* const a[1] = {acts + t * nb};
      float32x4_t out[1][4];
      group_tile<kType, 1>(gp, nb, a, out);
      store_group(out[0], y + t * y_stride, g, r0, r1, accumulate);
    }
  }
}

#undef MOTE_INLINE

}  // namespace

// Referenced from kNeonOps (arm_neon.cpp).
void qdot_grouped_q8_0_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q8_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q4_0_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q4_0>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}
void qdot_grouped_q2_1_neon(const WeightView& w, int64_t r0, int64_t r1, int64_t b0, int64_t nb,
                            const ActBlock* acts, int64_t n_tokens, float* y, int64_t y_stride, bool accumulate) {
  qdot_grouped<WeightType::Q2_1>(w, r0, r1, b0, nb, acts, n_tokens, y, y_stride, accumulate);
}

}  // namespace mote::cpu

#pragma GCC pop_options
#endif  // __aarch64__
