// The CUDA backend's __host__ __device__ arithmetic (platforms/cuda/arith.h), run on the CPU
// against the scalar reference (runtime/kernels, core/half.h). Built in every build, with or
// without MOTE_CUDA: the same functions run inside the kernels. Shapes are odd on purpose (1 row,
// 3 rows, row groups, 1 / 17 / 31 / 33 / 95 / 257 columns, 1..8 tokens, strides wider than rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "cuda/arith.h"
#include "kernels/kernels.h"
#include "backend/backend_test_util.h"
#include "kernels/kv_rows.h"
#include "kernels/quant.h"
#include "kernels/rope.h"

namespace mote::test {
namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

struct Shape {
  WeightType type;
  int64_t rows, cols;
  bool grouped;
};

std::vector<Shape> shapes() {
  std::vector<Shape> s;
  const WeightType all[] = {WeightType::F32,  WeightType::F16,   WeightType::BF16, WeightType::Q8_0,
                            WeightType::Q4_0, WeightType::MXFP4, WeightType::Q2_1};
  for (WeightType t : all)
    for (int64_t rows : {1, 3, 17})
      for (int64_t cols : {1, 17, 31, 32, 33, 95, 257}) s.push_back({t, rows, cols, false});
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1})
    for (int64_t rows : {16, 48})
      for (int64_t cols : {1, 31, 33, 95, 257}) s.push_back({t, rows, cols, true});
  return s;
}

std::string label(const Shape& s) {
  return std::string(weight_type_name(s.type)) + " " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
         (s.grouped ? " grouped" : "");
}

TEST(CudaArith, HalfBf16AndMxConversionsMatchCore) {
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_TRUE(same_bits(cuda::f16_to_f32(h), f16_to_f32(uint16_t(h)))) << h;
    ASSERT_TRUE(same_bits(cuda::bf16_to_f32(h), bf16_to_f32(uint16_t(h)))) << h;
  }
  std::vector<float> xs = random_floats(20000, 7, 70000.0f);
  for (float x : random_floats(20000, 8, 1e-4f)) xs.push_back(x);
  for (float x : {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, 1e-8f, 5.96e-8f, 2.98e-8f, INFINITY, -INFINITY, NAN})
    xs.push_back(x);
  for (float x : xs) ASSERT_EQ(cuda::f32_to_f16(x), f32_to_f16(x)) << x;
  for (uint32_t e = 0; e < 256; ++e) ASSERT_TRUE(same_bits(cuda::e8m0_to_f32(e), std::ldexp(1.0f, int(e) - 127))) << e;
  for (uint32_t c = 0; c < 16; ++c) ASSERT_TRUE(same_bits(cuda::e2m1_to_f32(c), kMxfp4Values[c])) << c;
}

// weight_value, decode_block_any and the aligned fast decoders give dequantize_view_piece's bits.
TEST(CudaArith, BlockDecodersMatchDequantize) {
  uint32_t seed = 1;
  for (const Shape& s : shapes()) {
    const HostWeight w = random_weight(s.type, s.rows, s.cols, s.grouped, seed++);
    std::vector<float> want(size_t(s.cols));
    for (int64_t r = 0; r < s.rows; ++r) {
      dequantize_view_piece(w.view, r, 0, s.cols, want.data());
      for (int64_t c = 0; c < s.cols; ++c)
        ASSERT_TRUE(same_bits(cuda::weight_value(w.view, r, c), want[size_t(c)])) << label(s) << " r" << r << " c" << c;
      for (int64_t b = 0; b < cuda::n_blocks(s.cols); ++b) {
        float got[32], fast[32];
        cuda::decode_block_any(w.view, r, b, got);
        const uint8_t* p = cuda::block_at(w.view, r, b);
        const bool quant = !cuda::plain_type(s.type);
        if (quant && s.grouped) {
          const int lane = int(r % 16);
          if (s.type == WeightType::Q8_0) cuda::decode_group_block_fast<WeightType::Q8_0>(p, lane, fast);
          if (s.type == WeightType::Q4_0) cuda::decode_group_block_fast<WeightType::Q4_0>(p, lane, fast);
          if (s.type == WeightType::Q2_1) cuda::decode_group_block_fast<WeightType::Q2_1>(p, lane, fast);
        } else if (quant) {
          if (s.type == WeightType::Q8_0) cuda::decode_row_block_fast<WeightType::Q8_0>(p, fast);
          if (s.type == WeightType::Q4_0) cuda::decode_row_block_fast<WeightType::Q4_0>(p, fast);
          if (s.type == WeightType::Q2_1) cuda::decode_row_block_fast<WeightType::Q2_1>(p, fast);
          if (s.type == WeightType::MXFP4) cuda::decode_row_block_fast<WeightType::MXFP4>(p, fast);
        }
        for (int j = 0; j < 32 && b * 32 + j < s.cols; ++j) {
          ASSERT_TRUE(same_bits(got[j], want[size_t(b * 32 + j)])) << label(s) << " r" << r << " b" << b << " j" << j;
          if (quant) {
            ASSERT_TRUE(same_bits(fast[j], want[size_t(b * 32 + j)])) << label(s) << " fast r" << r << " j" << j;
          }
        }
        for (int j = 0; j < 32 && b * 32 + j >= s.cols; ++j) EXPECT_EQ(got[j], 0.0f);
      }
    }
  }
}

template <WeightType kType, bool kGrouped>
void gemv_sim(const WeightView& w, const float* x, int64_t xs, int nt, bool x_vec, float* y, int64_t ys) {
  float acc[32][cuda::kGemvTokens];
  if (kGrouped) {
    for (int64_t g = 0; g < w.rows / 16; ++g) {
      for (int lane = 0; lane < 32; ++lane)
        cuda::gemv_lane_partial<kType, true>(w, g, lane, 32, x, xs, nt, x_vec, acc[lane]);
      for (int i = 0; i < 16; ++i)
        for (int t = 0; t < nt; ++t) y[t * ys + 16 * g + i] = acc[i][t] + acc[i + 16][t];
    }
    return;
  }
  for (int64_t r = 0; r < w.rows; ++r) {
    for (int lane = 0; lane < 32; ++lane)
      cuda::gemv_lane_partial<kType, false>(w, r, lane, 32, x, xs, nt, x_vec, acc[lane]);
    for (int t = 0; t < nt; ++t) {
      float s = 0.0f;
      for (int lane = 0; lane < 32; ++lane) s += acc[lane][t];
      y[t * ys + r] = s;
    }
  }
}

void gemv_dispatch(const WeightView& w, const float* x, int64_t xs, int nt, bool v, float* y, int64_t ys) {
  switch (w.type) {
    case WeightType::F32: gemv_sim<WeightType::F32, false>(w, x, xs, nt, v, y, ys); break;
    case WeightType::F16: gemv_sim<WeightType::F16, false>(w, x, xs, nt, v, y, ys); break;
    case WeightType::BF16: gemv_sim<WeightType::BF16, false>(w, x, xs, nt, v, y, ys); break;
    case WeightType::MXFP4: gemv_sim<WeightType::MXFP4, false>(w, x, xs, nt, v, y, ys); break;
    case WeightType::Q8_0:
      w.row_group > 1 ? gemv_sim<WeightType::Q8_0, true>(w, x, xs, nt, v, y, ys)
                      : gemv_sim<WeightType::Q8_0, false>(w, x, xs, nt, v, y, ys);
      break;
    case WeightType::Q4_0:
      w.row_group > 1 ? gemv_sim<WeightType::Q4_0, true>(w, x, xs, nt, v, y, ys)
                      : gemv_sim<WeightType::Q4_0, false>(w, x, xs, nt, v, y, ys);
      break;
    case WeightType::Q2_1:
      w.row_group > 1 ? gemv_sim<WeightType::Q2_1, true>(w, x, xs, nt, v, y, ys)
                      : gemv_sim<WeightType::Q2_1, false>(w, x, xs, nt, v, y, ys);
      break;
  }
}

// The decode GEMV's lanes, summed as the warp sums them, against the reference matmul.
TEST(CudaArith, GemvLanePartialsMatchReferenceMatmul) {
  uint32_t seed = 100;
  for (const Shape& s : shapes()) {
    const HostWeight w = random_weight(s.type, s.rows, s.cols, s.grouped, seed++);
    for (int nt : {1, 3, 8}) {
      const bool x_vec = nt != 3;  // the 4-float loads of x (a stride that is a multiple of 4)
      const int64_t xs = x_vec ? (s.cols + 7) / 4 * 4 : s.cols + 5, ys = s.rows + 3;
      const std::vector<float> x = random_floats(size_t(nt * xs), seed++);
      std::vector<float> want(size_t(nt * ys), 0.0f), got(size_t(nt * ys), 0.0f);
      kernels::reference_kernels().matmul[int(s.type)](w.view, x.data(), xs, nt, want.data(), ys);
      gemv_dispatch(w.view, x.data(), xs, nt, x_vec, got.data(), ys);
      for (int t = 0; t < nt; ++t)
        for (int64_t r = 0; r < s.rows; ++r) {
          const float a = got[size_t(t * ys + r)], b = want[size_t(t * ys + r)];
          ASSERT_NEAR(a, b, 1e-5f * (1.0f + std::fabs(b)) * std::sqrt(float(s.cols))) << label(s) << " t" << t << " r" << r;
        }
    }
  }
}

// q8_0 / f16 KV pieces from the helpers, composed as the store_kv kernel composes them
// (amax by fmaxf over the 32 values of a zero-padded block), equal store_kv_piece's bytes.
TEST(CudaArith, KvPiecesMatchStoreKvPiece) {
  for (int64_t n : {1, 31, 32, 33, 100, 576}) {
    std::vector<float> src = random_floats(size_t(n), uint32_t(n), 3.0f);
    if (n > 40) {
      src[3] = 0.0f;
      for (int i = 32; i < 64; ++i) src[size_t(i)] = 0.0f;  // an all-zero block
      src[70] = NAN;
      src[71] = INFINITY;
    }
    std::vector<uint8_t> want(size_t(kv_piece_bytes(KvType::kQ8_0, n))), got(want.size(), 0xee);
    kernels::store_kv_piece(KvType::kQ8_0, src.data(), n, want.data());
    for (int64_t b = 0; b * 32 < n; ++b) {
      float amax = 0.0f;
      for (int64_t i = 0; i < 32; ++i) amax = fmaxf(amax, b * 32 + i < n ? std::fabs(src[size_t(b * 32 + i)]) : 0.0f);
      const float d = cuda::kv_q8_scale(amax), inv = cuda::kv_q8_inverse(d);
      std::memcpy(&got[size_t(b * 36)], &d, 4);
      for (int64_t i = 0; i < 32; ++i)
        got[size_t(b * 36 + 4 + i)] = uint8_t(b * 32 + i < n ? cuda::kv_q8_code(src[size_t(b * 32 + i)], inv) : 0);
    }
    EXPECT_EQ(got, want) << n;
    for (int64_t i = 0; i < n; ++i)
      ASSERT_TRUE(same_bits(cuda::kv_value(2, got.data(), i), kernels::kv_value(KvType::kQ8_0, want.data(), i)));
    std::vector<uint8_t> f16(size_t(2 * n));
    kernels::store_kv_piece(KvType::kF16, src.data(), n, f16.data());
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, &f16[size_t(2 * i)], 2);
      ASSERT_EQ(cuda::f32_to_f16(src[size_t(i)]), h);
      ASSERT_TRUE(same_bits(cuda::kv_value(1, f16.data(), i), kernels::kv_value(KvType::kF16, f16.data(), i)));
    }
  }
}

// Equal but for FMA contraction: aarch64 g++ (and nvcc, --fmad=true) may fuse a * b + c in one
// of the two paths and not the other, which moves the last bits (seen under qemu in CI). The
// error is relative to the operands (about 1 here), not to a result that cancelled to near 0.
bool nearly_equal(float a, float b) { return std::fabs(a - b) <= 1e-6f * std::max(std::fabs(a), 1.0f); }

TEST(CudaArith, RopePairAndCombinesMatchTheCpu) {
  const std::vector<float> x = random_floats(64, 3), cs = random_floats(32, 4), sn = random_floats(32, 5);
  std::vector<float> a = x, b = x;
  kernels::rope_interleaved(a.data(), 64, cs.data(), sn.data());
  for (int j = 0; j < 32; ++j) cuda::rope_pair(b[size_t(2 * j)], b[size_t(2 * j + 1)], cs[size_t(j)], sn[size_t(j)]);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(nearly_equal(a[size_t(i)], b[size_t(i)])) << i << ": " << a[size_t(i)] << " vs " << b[size_t(i)];
  a = x, b = x;
  kernels::rope_half(a.data(), 64, cs.data(), sn.data());
  for (int j = 0; j < 32; ++j) cuda::rope_pair(b[size_t(j)], b[size_t(j + 32)], cs[size_t(j)], sn[size_t(j)]);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(nearly_equal(a[size_t(i)], b[size_t(i)])) << i << ": " << a[size_t(i)] << " vs " << b[size_t(i)];
  for (float g : random_floats(50, 6, 8.0f))
    for (float u : random_floats(5, 7, 8.0f)) {
      EXPECT_TRUE(nearly_equal(cuda::silu_times(g, u), kernels::silu_times(g, u)));
      const float gg = std::fmin(g, 7.0f), uu = std::clamp(u, -7.0f, 7.0f);
      EXPECT_TRUE(nearly_equal(cuda::clamped_swiglu(g, u, 1.702f, 7.0f),
                            (uu + 1.0f) * (gg / (1.0f + std::exp(-1.702f * gg)))));
    }
}

}  // namespace
}  // namespace mote::test
