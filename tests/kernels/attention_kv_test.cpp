// Attention over typed rows (f16, q8_0) and ring buffers (kernels/attention.h), and the row
// conversions it reads (kernels/kv_rows.h). Shapes: odd widths, GQA groups, the demo model's MLA
// split query (dk 80 = kv_lora 64 + dr 16, dv 64), DeepSeek-V3's real widths (kv_lora 512 + dr
// 64) and OLMoE's (16 heads of 128), gpt-oss's (64 heads, 8 kv heads of 64, window 128, sinks);
// T = 1, 3, 5, 17; windows; rings whose positions cross the wrap.
//   - typed reference == f32 reference on the decoded rows, bit for bit (it decodes then does the
//     f32 arithmetic), and likewise every fast table (it decodes tiles, then runs the f32 tiles);
//   - every fast table vs the reference on typed rows (3e-5, as the f32 tests), independent of
//     the thread count and of the key split;
//   - a ring gives the f32 (and typed) result of the unwrapped cache bit for bit;
//   - typed vs f32 attention on the original rows within the stated per-type tolerance;
//   - no allocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/alloc_counter.h"
#include "core/half.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/kv_rows.h"

namespace mote {
namespace {

struct Case {
  int64_t T, start, window, ring, nh, nkv, dk, dv;
  int64_t dr;  // > 0: MLA (one kv head, key = the whole latent piece, value its first dv; query split at dk - dr)
  bool sinks;
};

const Case kCases[] = {
    {1, 0, 0, 0, 4, 4, 37, 19, 0, false},
    {3, 40, 0, 0, 8, 2, 128, 128, 0, false},
    {17, 300, 0, 0, 16, 16, 128, 128, 0, false},  // OLMoE widths, a prefill batch
    {1, 130, 0, 0, 16, 1, 80, 64, 16, false},     // the demo model's MLA
    {3, 77, 0, 0, 16, 1, 80, 64, 16, true},
    {1, 1500, 0, 0, 16, 1, 576, 512, 64, false},  // DeepSeek-V3 MLA widths (16 of its 128 heads)
    {2, 2100, 0, 0, 7, 1, 45, 37, 8, false},      // query split at 37: not a vector or block boundary
    {3, 90, 0, 0, 2, 1, 76, 64, 40, true},        // 2 heads (rows read in registers), split at 36
    {1, 100, 32, 32, 8, 2, 64, 64, 0, true},      // ring = window + T - 1, wrapped three times
    {3, 200, 17, 19, 8, 4, 45, 45, 0, true},      // the smallest ring for T = 3
    {17, 250, 64, 90, 4, 1, 64, 64, 0, false},
    {5, 61, 8, 12, 16, 1, 80, 64, 16, false},     // MLA with a window and a ring
    {1, 5000, 128, 128, 64, 8, 64, 64, 0, true},  // gpt-oss widths
    {9, 4000, 128, 136, 64, 8, 64, 64, 0, true},
    {1, 3000, 0, 0, 32, 1, 576, 512, 64, false},  // long MLA decode: the key split over threads
};

const KvType kTypes[] = {KvType::kF32, KvType::kF16, KvType::kQ8_0};

std::string name_of(const Case& c, KvType type) {
  return std::string(kv_type_name(type)) + " T" + std::to_string(c.T) + " start" + std::to_string(c.start) + " w" +
         std::to_string(c.window) + " ring" + std::to_string(c.ring) + " nh" + std::to_string(c.nh) + " nkv" +
         std::to_string(c.nkv) + " dk" + std::to_string(c.dk) + " dv" + std::to_string(c.dv) +
         (c.dr > 0 ? " mla" : "") + (c.sinks ? " sinks" : "");
}

// One case's buffers. `rows` = the f32 cache the kernels read (ring: position p in row
// p % ring, written in position order so the ring holds the last `ring` positions); `flat` = the
// same positions unwrapped (row = position); `bytes` = `rows` stored as `type`; `decoded` =
// `bytes` decoded back to f32 in the f32 layout. Strides are padded so no kernel can assume
// dense rows or pieces.
struct Data {
  Case c;
  KvType type;
  std::vector<float> q, q2, rows, flat, decoded, sinks, work;
  std::vector<uint8_t> bytes;
  int64_t qts, qhs, q2ts, q2hs, row, khs, vhs, v_off;       // f32 layout (floats)
  int64_t row_b, khb, vhb, v_off_b;                         // typed layout (bytes)
  int64_t n_rows;

  Data(const Case& cs, KvType ty, uint32_t seed) : c(cs), type(ty) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t n_pos = c.start + c.T, dk_a = c.dr > 0 ? c.dk - c.dr : c.dk;
    n_rows = c.ring > 0 ? c.ring : n_pos;
    qhs = dk_a + 3;
    qts = c.nh * qhs + 5;
    q2hs = c.dr + 1;
    q2ts = c.nh * q2hs + 2;
    if (c.dr > 0) {
      khs = vhs = v_off = 0;
      row = c.dk + 3;
      khb = vhb = v_off_b = 0;
      row_b = kv_piece_bytes(type, c.dk) + 5;
    } else {
      khs = c.dk + 1;
      vhs = c.dv + 2;
      v_off = c.nkv * khs;
      row = v_off + c.nkv * vhs + 1;
      khb = kv_piece_bytes(type, c.dk) + 3;
      vhb = kv_piece_bytes(type, c.dv) + 1;
      v_off_b = c.nkv * khb;
      row_b = v_off_b + c.nkv * vhb + 7;
    }
    q.resize(size_t(c.T * qts));
    q2.resize(size_t(c.T * q2ts));
    for (float& x : q) x = 3.0f * u(rng);
    for (float& x : q2) x = 3.0f * u(rng);
    flat.assign(size_t(n_pos * row), 0.0f);
    for (float& x : flat) x = u(rng);
    rows.assign(size_t(n_rows * row), 0.0f);
    for (int64_t p = 0; p < n_pos; ++p)
      std::copy_n(flat.begin() + p * row, row, rows.begin() + (p % n_rows) * row);
    // Typed rows: each piece stored with store_kv_rows (all rows of one piece column at once).
    bytes.assign(size_t(n_rows * row_b), 0xee);
    if (c.dr > 0) {
      kernels::store_kv_rows(type, rows.data(), row, n_rows, c.dk, bytes.data(), row_b);
    } else {
      for (int64_t g = 0; g < c.nkv; ++g) {
        kernels::store_kv_rows(type, rows.data() + g * khs, row, n_rows, c.dk, bytes.data() + g * khb, row_b);
        kernels::store_kv_rows(type, rows.data() + v_off + g * vhs, row, n_rows, c.dv,
                               bytes.data() + v_off_b + g * vhb, row_b);
      }
    }
    decoded = rows;
    for (int64_t r = 0; r < n_rows; ++r) {
      const uint8_t* rb = bytes.data() + r * row_b;
      float* rf = decoded.data() + r * row;
      if (c.dr > 0) {
        kernels::load_kv_piece(type, rb, 0, c.dk, rf);
      } else {
        for (int64_t g = 0; g < c.nkv; ++g) {
          kernels::load_kv_piece(type, rb + g * khb, 0, c.dk, rf + g * khs);
          kernels::load_kv_piece(type, rb + v_off_b + g * vhb, 0, c.dv, rf + v_off + g * vhs);
        }
      }
    }
    sinks.resize(size_t(c.nh));
    for (int64_t h = 0; h < c.nh; ++h) sinks[size_t(h)] = h % 3 == 0 ? 40.0f : 2.0f * u(rng);
    work.resize(size_t(kernels::attention_workspace_floats(c.T, c.nh, c.dv)));
  }

  enum class Rows { kTyped, kRing, kFlat, kDecoded };

  kernels::AttentionArgs args(Rows which, float* out, bool with_work) {
    kernels::AttentionArgs a;
    a.n_tokens = c.T;
    a.start = c.start;
    a.window = c.window;
    a.n_heads = c.nh;
    a.n_kv_heads = c.nkv;
    a.dk = c.dk;
    a.dv = c.dv;
    a.scale = 1.0f / std::sqrt(float(c.dk));
    a.q = q.data();
    a.q_token_stride = qts;
    a.q_head_stride = qhs;
    if (c.dr > 0) {
      a.q2 = q2.data();
      a.dk_a = c.dk - c.dr;
      a.q2_token_stride = q2ts;
      a.q2_head_stride = q2hs;
    }
    const float* f = which == Rows::kFlat ? flat.data() : which == Rows::kDecoded ? decoded.data() : rows.data();
    a.k = f;
    a.k_row_stride = row;
    a.k_head_stride = khs;
    a.v = f + v_off;
    a.v_row_stride = row;
    a.v_head_stride = vhs;
    if (which == Rows::kTyped && type != KvType::kF32) {  // f32 "typed" rows: the f32 pointers
      a.kv_type = type;
      a.k = a.v = nullptr;
      a.k_bytes = bytes.data();
      a.k_row_bytes = row_b;
      a.k_head_bytes = khb;
      a.v_bytes = bytes.data() + v_off_b;
      a.v_row_bytes = row_b;
      a.v_head_bytes = vhb;
    }
    if (which != Rows::kFlat) a.ring_rows = c.ring;
    a.sinks = c.sinks ? sinks.data() : nullptr;
    a.out = out;
    a.out_token_stride = c.nh * (c.dv + 1);
    a.out_head_stride = c.dv + 1;
    if (with_work) {
      a.work = work.data();
      a.work_floats = int64_t(work.size());
    }
    return a;
  }
  size_t out_size() const { return size_t(c.T * c.nh * (c.dv + 1)); }
  size_t at(int64_t t, int64_t h, int64_t i) const { return size_t(t * c.nh * (c.dv + 1) + h * (c.dv + 1) + i); }
};

std::vector<kernels::AttentionFn> all_tables(std::vector<std::string>* names) {
  std::vector<kernels::AttentionFn> fns = {kernels::attention_ref};
  names->push_back("reference");
  for (const char* n : {"avx2", "avx512", "neon"})
    if (kernels::find_attention(n) != nullptr) {
      fns.push_back(kernels::find_attention(n));
      names->push_back(n);
    }
  return fns;
}

// Outputs equal at every (t, h, i < dv) (the padding column is not written).
void expect_same(const Data& d, const std::vector<float>& x, const std::vector<float>& y, const std::string& what) {
  for (int64_t t = 0; t < d.c.T; ++t)
    for (int64_t h = 0; h < d.c.nh; ++h)
      for (int64_t i = 0; i < d.c.dv; ++i)
        ASSERT_EQ(x[d.at(t, h, i)], y[d.at(t, h, i)]) << what << " t" << t << " h" << h << " i" << i;
}

class AttentionKv : public ::testing::Test {
 protected:
  void TearDown() override { kernels::set_num_threads(0); }
};

// Typed rows give exactly the f32 result on the decoded rows (every table), and a ring gives
// exactly the result of the unwrapped cache.
TEST_F(AttentionKv, TypedEqualsF32OnDecodedRowsAndRingEqualsFlat) {
  std::vector<std::string> names;
  const std::vector<kernels::AttentionFn> fns = all_tables(&names);
  uint32_t seed = 1;
  for (const Case& c : kCases)
    for (KvType type : kTypes) {
      Data d(c, type, seed++);
      for (size_t f = 0; f < fns.size(); ++f) {
        const std::string what = names[f] + " " + name_of(c, type);
        std::vector<float> typed(d.out_size()), decoded(d.out_size()), ring(d.out_size()), flat(d.out_size());
        fns[f](d.args(Data::Rows::kTyped, typed.data(), true));
        fns[f](d.args(Data::Rows::kDecoded, decoded.data(), true));
        expect_same(d, typed, decoded, what + " typed vs decoded f32");
        if (type == KvType::kF32 && c.ring > 0) {
          fns[f](d.args(Data::Rows::kRing, ring.data(), true));
          fns[f](d.args(Data::Rows::kFlat, flat.data(), true));
          expect_same(d, ring, flat, what + " ring vs flat");
        }
      }
    }
}

// The fast tables against the reference on typed rows; their result does not depend on the
// thread count or the key split.
TEST_F(AttentionKv, FastMatchesReferenceOnTypedRows) {
  std::vector<std::string> names;
  const std::vector<kernels::AttentionFn> fns = all_tables(&names);
  if (fns.size() == 1) GTEST_SKIP() << "no fast attention on this CPU";
  uint32_t seed = 100;
  for (const Case& c : kCases)
    for (KvType type : kTypes) {
      Data d(c, type, seed++);
      std::vector<float> ref(d.out_size());
      kernels::attention_ref(d.args(Data::Rows::kTyped, ref.data(), false));
      for (size_t f = 1; f < fns.size(); ++f) {
        const std::string what = names[f] + " " + name_of(c, type);
        std::vector<float> one(d.out_size()), many(d.out_size()), split(d.out_size());
        kernels::set_num_threads(1);
        fns[f](d.args(Data::Rows::kTyped, one.data(), false));
        kernels::set_num_threads(0);
        fns[f](d.args(Data::Rows::kTyped, many.data(), false));
        fns[f](d.args(Data::Rows::kTyped, split.data(), true));
        for (int64_t t = 0; t < c.T; ++t)
          for (int64_t h = 0; h < c.nh; ++h)
            for (int64_t i = 0; i < c.dv; ++i)
              ASSERT_NEAR(one[d.at(t, h, i)], ref[d.at(t, h, i)], 3e-5) << what << " t" << t << " h" << h << " i" << i;
        expect_same(d, one, many, what + " (thread count)");
        expect_same(d, one, split, what + " (key split)");
      }
    }
}

// The precision cost: typed attention vs f32 attention on the original rows (reference). The
// values are uniform in [-1, 1]; outputs are convex mixtures of them. Stated bounds: f16 1e-3,
// q8_0 1e-2 (absolute); also the error must not be zero for the lossy types (the test would
// otherwise be reading the f32 rows).
TEST_F(AttentionKv, TypedStaysCloseToF32) {
  uint32_t seed = 300;
  for (const Case& c : kCases)
    for (KvType type : {KvType::kF16, KvType::kQ8_0}) {
      Data d(c, type, seed++);
      std::vector<float> typed(d.out_size()), exact(d.out_size());
      kernels::attention_ref(d.args(Data::Rows::kTyped, typed.data(), true));
      kernels::attention_ref(d.args(Data::Rows::kRing, exact.data(), true));
      const float tol = type == KvType::kF16 ? 1e-3f : 1e-2f;
      float worst = 0.0f;
      for (int64_t t = 0; t < c.T; ++t)
        for (int64_t h = 0; h < c.nh; ++h)
          for (int64_t i = 0; i < c.dv; ++i)
            worst = std::max(worst, std::fabs(typed[d.at(t, h, i)] - exact[d.at(t, h, i)]));
      EXPECT_LE(worst, tol) << name_of(c, type);
      EXPECT_GT(worst, 0.0f) << name_of(c, type);
      RecordProperty(name_of(c, type), std::to_string(worst));
    }
}

// Wider than the typed decode buffers: the fast tables hand the call to the reference.
TEST_F(AttentionKv, WideTypedRowsFallBackToTheReference) {
  std::vector<std::string> names;
  const std::vector<kernels::AttentionFn> fns = all_tables(&names);
  const Case c{2, 40, 0, 0, 4, 1, kernels::kAttentionMaxTypedWidth + 70, kernels::kAttentionMaxTypedWidth + 6, 70,
               false};
  Data d(c, KvType::kQ8_0, 500);
  std::vector<float> ref(d.out_size());
  kernels::attention_ref(d.args(Data::Rows::kTyped, ref.data(), true));
  for (size_t f = 1; f < fns.size(); ++f) {
    std::vector<float> out(d.out_size());
    fns[f](d.args(Data::Rows::kTyped, out.data(), true));
    expect_same(d, out, ref, names[f]);
  }
}

TEST_F(AttentionKv, NoAllocation) {
  std::vector<std::string> names;
  const std::vector<kernels::AttentionFn> fns = all_tables(&names);
  for (KvType type : kTypes) {
    Data d(kCases[14], type, 600);  // MLA decode at 3001 keys: the key split with threads
    Data b(kCases[13], type, 601);  // a ring batch
    std::vector<float> out(std::max(d.out_size(), b.out_size()));
    for (kernels::AttentionFn fn : fns) {
      fn(d.args(Data::Rows::kTyped, out.data(), true));  // warm-up: the thread pool starts once
      test::CountAllocations count;
      fn(d.args(Data::Rows::kTyped, out.data(), true));
      fn(b.args(Data::Rows::kTyped, out.data(), false));
      EXPECT_EQ(count.count(), 0) << kv_type_name(type);
    }
  }
}

// ---- kv_rows ----

TEST(KvRows, PieceBytes) {
  EXPECT_EQ(kv_piece_bytes(KvType::kF32, 576), 2304);
  EXPECT_EQ(kv_piece_bytes(KvType::kF16, 576), 1152);
  EXPECT_EQ(kv_piece_bytes(KvType::kQ8_0, 576), 18 * 36);
  EXPECT_EQ(kv_piece_bytes(KvType::kQ8_0, 80), 3 * 36);  // the demo's latent row: 2.5 blocks
  EXPECT_EQ(kv_piece_bytes(KvType::kQ8_0, 1), 36);
}

TEST(KvRows, F16RoundTripIsNearestEven) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> src(75);
  for (float& x : src) x = u(rng);
  src[0] = 1.0f + 1.0f / 2048.0f;       // a tie: rounds to even (1.0)
  src[1] = 1.0f + 3.0f / 2048.0f;       // a tie: rounds to even (1 + 2^-9)
  src[2] = 70000.0f;                    // overflow: inf
  src[3] = 1e-7f;                       // subnormal half
  std::vector<uint8_t> piece(size_t(kv_piece_bytes(KvType::kF16, 75)));
  kernels::store_kv_piece(KvType::kF16, src.data(), 75, piece.data());
  std::vector<float> back(75);
  kernels::load_kv_piece(KvType::kF16, piece.data(), 0, 75, back.data());
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f + 2.0f / 1024.0f);
  EXPECT_TRUE(std::isinf(back[2]));
  EXPECT_EQ(back[3], f16_to_f32(f32_to_f16(1e-7f)));
  EXPECT_GT(back[3], 0.0f);
  for (int64_t i = 4; i < 75; ++i) {
    EXPECT_EQ(back[size_t(i)], f16_to_f32(f32_to_f16(src[size_t(i)])));
    EXPECT_LE(std::fabs(back[size_t(i)] - src[size_t(i)]), std::fabs(src[size_t(i)]) * (1.0f / 2048.0f));
    EXPECT_EQ(kernels::kv_value(KvType::kF16, piece.data(), i), back[size_t(i)]);
  }
  // load from an offset
  std::vector<float> part(10);
  kernels::load_kv_piece(KvType::kF16, piece.data(), 33, 10, part.data());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(part[size_t(i)], back[size_t(33 + i)]);
}

TEST(KvRows, Q8RoundTrip) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  const int64_t n = 80;  // 2.5 blocks, as the demo's latent row
  std::vector<float> src(static_cast<size_t>(n));
  for (float& x : src) x = u(rng);
  for (int64_t i = 32; i < 64; ++i) src[size_t(i)] = 0.0f;  // an all-zero block: d = 0
  src[70] = -5.0f;                                          // the third block's amax, negative
  std::vector<uint8_t> piece(size_t(kv_piece_bytes(KvType::kQ8_0, n)), 0xcc);
  kernels::store_kv_piece(KvType::kQ8_0, src.data(), n, piece.data());
  float d[3];
  for (int b = 0; b < 3; ++b) std::memcpy(&d[b], piece.data() + b * 36, 4);
  float amax0 = 0.0f;
  for (int i = 0; i < 32; ++i) amax0 = std::max(amax0, std::fabs(src[size_t(i)]));
  EXPECT_EQ(d[0], amax0 / 127.0f);
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_EQ(d[2], 5.0f / 127.0f);
  EXPECT_EQ(int8_t(piece[2 * 36 + 4 + 70 - 64]), -127);
  for (int i = 80 - 64; i < 32; ++i) EXPECT_EQ(piece[size_t(2 * 36 + 4 + i)], 0) << "padding " << i;
  std::vector<float> back(static_cast<size_t>(n));
  kernels::load_kv_piece(KvType::kQ8_0, piece.data(), 0, n, back.data());
  for (int64_t i = 0; i < n; ++i) {
    const float db = d[i / 32];
    EXPECT_LE(std::fabs(back[size_t(i)] - src[size_t(i)]), db * 0.5f * 1.0001f) << i;
    const float q = std::nearbyint(src[size_t(i)] / db);  // nearest even on ties
    if (db != 0.0f) {
      EXPECT_NEAR(float(int8_t(piece[size_t(i / 32 * 36 + 4 + i % 32)])), q, 1.0f) << i;
    }
    EXPECT_EQ(back[size_t(i)], db * float(int8_t(piece[size_t(i / 32 * 36 + 4 + i % 32)])));
  }
  // Ties round to even: 2.5 d -> 2, 3.5 d -> 4 (d = 127 / 127 = 1 with amax 127).
  std::vector<float> ties(32, 0.0f);
  ties[0] = 127.0f;
  ties[1] = 2.5f;
  ties[2] = 3.5f;
  ties[3] = -2.5f;
  std::vector<uint8_t> tp(36);
  kernels::store_kv_piece(KvType::kQ8_0, ties.data(), 32, tp.data());
  EXPECT_EQ(int8_t(tp[4 + 1]), 2);
  EXPECT_EQ(int8_t(tp[4 + 2]), 4);
  EXPECT_EQ(int8_t(tp[4 + 3]), -2);
}

TEST(KvRows, StoreRowsIsPiecewise) {
  // Three rows of the demo's latent width, strided on both sides.
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t n = 80, src_stride = 83;
  for (KvType type : kTypes) {
    const int64_t pb = kv_piece_bytes(type, n), dst_stride = pb + 9;
    std::vector<float> src(size_t(3 * src_stride));
    for (float& x : src) x = u(rng);
    std::vector<uint8_t> rows(size_t(3 * dst_stride), 0xab), one(static_cast<size_t>(pb));
    kernels::store_kv_rows(type, src.data(), src_stride, 3, n, rows.data(), dst_stride);
    for (int64_t r = 0; r < 3; ++r) {
      kernels::store_kv_piece(type, src.data() + r * src_stride, n, one.data());
      EXPECT_TRUE(std::equal(one.begin(), one.end(), rows.begin() + r * dst_stride)) << kv_type_name(type);
      for (int64_t b = pb; b < dst_stride; ++b) EXPECT_EQ(rows[size_t(r * dst_stride + b)], 0xab) << "gap written";
    }
  }
}

}  // namespace
}  // namespace mote
