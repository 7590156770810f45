// Every operation of backend::Backend (backend/backend.h) on the CPU and the staging backend,
// each with the reference kernel table on 1 thread and the best table on 2, against a host
// computation: the table's own kernels called directly (kernels.h, attention.h) and, for the
// elementwise and gather steps, the scalar code the blocks ran before the seam existed (written
// out here with the same expressions). Results must be bit-identical. Shapes are odd on purpose
// (T = 1, 3, 17; widths 33, 100, 257; strides wider than the rows; row-grouped Q8_0/Q4_0).
// The staging backend keeps its device memory protected between ops, so every input reaches it
// by upload and every result leaves by download.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/backend_test_util.h"
#include "core/half.h"
#include "kernels/attention.h"
#include "kernels/router.h"

namespace mote::test {
namespace {

using backend::Backend;

class BackendOps : public ::testing::TestWithParam<BackendConfig> {
 protected:
  void SetUp() override {
    b_ = make_backend(GetParam());
    ASSERT_NE(b_, nullptr);
    table_ = &table_of(*b_);
  }
  std::unique_ptr<Backend> b_;
  const kernels::KernelTable* table_ = nullptr;
};

struct WeightCase {
  WeightType type;
  int64_t rows, cols;
  bool grouped;
};
const WeightCase kWeightCases[] = {
    {WeightType::F32, 33, 100, false},  {WeightType::F16, 100, 33, false},  {WeightType::BF16, 257, 33, false},
    {WeightType::Q8_0, 33, 257, false}, {WeightType::Q4_0, 100, 100, false}, {WeightType::Q8_0, 48, 257, true},
    {WeightType::Q4_0, 32, 100, true},  {WeightType::Q4_0, 272, 33, true},
};

TEST_P(BackendOps, BasicsAndTransfers) {
  EXPECT_TRUE(std::string(b_->name()) == "cpu" || std::string(b_->name()) == "staging");
  EXPECT_EQ(b_->unified_memory(), GetParam().kind == backend::BackendKind::kCpu);
  EXPECT_GE(b_->n_threads(), 1);  // the count asked for, capped to the cores this process may use
  EXPECT_LE(b_->n_threads(), GetParam().threads);
  if (std::string(GetParam().kernels) == "reference") {
    EXPECT_STREQ(b_->kernels_name(), "reference");
  }
  DeviceBuffers d(*b_);
  const std::vector<float> x = random_floats(257, 1);
  float* a = d.put(x);
  float* c = d.zeros<float>(257);
  EXPECT_EQ(bit_mismatches(d.get(c, 257), std::vector<float>(257, 0.0f)), 0);
  b_->copy(c, a, 257 * sizeof(float));
  EXPECT_EQ(bit_mismatches(d.get(c, 257), x), 0);
  EXPECT_EQ(uintptr_t(a) % 64, 0u);
}

TEST_P(BackendOps, MatmulAndMatmulTransposed) {
  for (const WeightCase& wc : kWeightCases) {
    const HostWeight w = random_weight(wc.type, wc.rows, wc.cols, wc.grouped, 7);
    auto placed = b_->place_weight(w.view);
    ASSERT_TRUE(placed.is_ok()) << placed.status().to_string();
    for (int64_t T : {1, 3, 17}) {
      SCOPED_TRACE(std::string(weight_type_name(wc.type)) + " " + std::to_string(wc.rows) + "x" +
                   std::to_string(wc.cols) + (wc.grouped ? " grouped" : "") + " T=" + std::to_string(T));
      DeviceBuffers d(*b_);
      // y = W x: x [T, cols + 3], y [T, rows + 5]; the gaps keep their sentinel.
      const int64_t xs = wc.cols + 3, ys = wc.rows + 5;
      const std::vector<float> x = random_floats(size_t(T * xs), 11);
      std::vector<float> want(size_t(T * ys), 7.0f);
      table_->matmul[int(wc.type)](w.view, x.data(), xs, T, want.data(), ys);
      float* y = d.put(std::vector<float>(size_t(T * ys), 7.0f));
      b_->matmul(*placed, d.put(x), xs, T, y, ys);
      EXPECT_EQ(bit_mismatches(d.get(y, want.size()), want), 0);
      if (wc.grouped) continue;  // matmul_t never meets row groups (kernels.h)
      // y = x W: x [T, rows + 2], y [T, cols + 1].
      const int64_t txs = wc.rows + 2, tys = wc.cols + 1;
      const std::vector<float> tx = random_floats(size_t(T * txs), 13);
      std::vector<float> twant(size_t(T * tys), 7.0f);
      table_->matmul_t[int(wc.type)](w.view, tx.data(), txs, T, twant.data(), tys);
      float* ty = d.put(std::vector<float>(size_t(T * tys), 7.0f));
      b_->matmul_t(*placed, d.put(tx), txs, T, ty, tys);
      EXPECT_EQ(bit_mismatches(d.get(ty, twant.size()), twant), 0);
    }
  }
}

TEST_P(BackendOps, EmbedRowsOfEveryType) {
  for (const WeightCase& wc : kWeightCases) {
    if (wc.grouped) continue;  // embeddings stay row-major (mote-convert --help)
    const HostWeight w = random_weight(wc.type, wc.rows, wc.cols, false, 5);
    auto placed = b_->place_weight(w.view);
    ASSERT_TRUE(placed.is_ok());
    const std::vector<int32_t> ids = {int32_t(wc.rows - 1), 0, 5, 5};
    std::vector<float> want(ids.size() * size_t(wc.cols));
    for (size_t i = 0; i < ids.size(); ++i) table_->get_row(w.view, ids[i], want.data() + i * size_t(wc.cols));
    DeviceBuffers d(*b_);
    float* out = d.zeros<float>(want.size());
    b_->embed(*placed, ids.data(), int64_t(ids.size()), out);
    EXPECT_EQ(bit_mismatches(d.get(out, want.size()), want), 0) << weight_type_name(wc.type);
  }
}

TEST_P(BackendOps, RmsNormRowsWithAndWithoutQuantisation) {
  for (int64_t n : {33, 100, 257})
    for (int64_t T : {1, 3, 17}) {
      const int64_t xs = n + 4, ys = n + 1;
      const std::vector<float> x = random_floats(size_t(T * xs), 21, 3.0f), w = random_floats(size_t(n), 22);
      const int64_t qb = kernels::quantized_row_bytes(n);
      std::vector<float> want(size_t(T * ys), 7.0f);
      std::vector<uint8_t> want_q(size_t(T * qb), 0);
      kernels::QuantizedRows hq{want_q.data(), n, false};
      table_->rms_norm_rows(x.data(), xs, T, w.data(), n, 1e-6f, want.data(), ys, &hq);
      DeviceBuffers d(*b_);
      auto placed_w = b_->place_floats(w.data(), n);
      ASSERT_TRUE(placed_w.is_ok());
      float* y = d.put(std::vector<float>(size_t(T * ys), 7.0f));
      kernels::QuantizedRows dq{d.put(std::vector<uint8_t>(size_t(T * qb), 0)), n, false};
      b_->rms_norm_rows(d.put(x), xs, T, *placed_w, n, 1e-6f, y, ys, &dq);
      EXPECT_EQ(bit_mismatches(d.get(y, want.size()), want), 0) << n << " T=" << T;
      EXPECT_EQ(dq.valid, hq.valid);
      if (hq.valid) {
        EXPECT_EQ(d.get(dq.data, want_q.size()), want_q) << n << " T=" << T;
      }
      // Without q, in place.
      std::vector<float> inplace = x;
      table_->rms_norm_rows(inplace.data(), xs, T, w.data(), n, 1e-6f, inplace.data(), xs, nullptr);
      float* xd = d.put(x);
      b_->rms_norm_rows(xd, xs, T, *placed_w, n, 1e-6f, xd, xs, nullptr);
      EXPECT_EQ(bit_mismatches(d.get(xd, inplace.size()), inplace), 0);
    }
}

TEST_P(BackendOps, RmsNormPiecesPerHead) {
  // 3 heads of 33 values, 40 apart, rows 130 apart (the q/k norms of a GQA layer).
  const int64_t heads = 3, n = 33, piece = 40, rs = 130, yrs = 125;
  for (int64_t T : {1, 3, 17}) {
    const std::vector<float> x = random_floats(size_t(T * rs), 31, 2.0f), w = random_floats(size_t(n), 32);
    std::vector<float> want(size_t(T * yrs), 7.0f), want_inplace = x;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < heads; ++h) {
        kernels::rms_norm_row(x.data() + t * rs + h * piece, w.data(), n, 1e-5f, want.data() + t * yrs + h * piece);
        kernels::rms_norm_row(want_inplace.data() + t * rs + h * piece, w.data(), n, 1e-5f,
                              want_inplace.data() + t * rs + h * piece);
      }
    DeviceBuffers d(*b_);
    auto placed_w = b_->place_floats(w.data(), n);
    ASSERT_TRUE(placed_w.is_ok());
    float* xd = d.put(x);
    float* y = d.put(std::vector<float>(size_t(T * yrs), 7.0f));
    b_->rms_norm_pieces(xd, rs, T, heads, piece, *placed_w, n, 1e-5f, y, yrs);
    EXPECT_EQ(bit_mismatches(d.get(y, want.size()), want), 0) << "T=" << T;
    b_->rms_norm_pieces(xd, rs, T, heads, piece, *placed_w, n, 1e-5f, xd, rs);
    EXPECT_EQ(bit_mismatches(d.get(xd, want_inplace.size()), want_inplace), 0) << "in place, T=" << T;
  }
}

TEST_P(BackendOps, SwigluAndExpertFfns) {
  for (const WeightCase& wc : kWeightCases) {
    const HostWeight gate = random_weight(wc.type, wc.rows, wc.cols, wc.grouped, 41);
    const HostWeight up = random_weight(wc.type, wc.rows, wc.cols, wc.grouped, 42);
    const HostWeight down = random_weight(wc.type == WeightType::BF16 ? WeightType::F16 : wc.type, wc.cols, wc.rows,
                                          false, 43);
    auto g = b_->place_weight(gate.view);
    auto u = b_->place_weight(up.view);
    auto dn = b_->place_weight(down.view);
    ASSERT_TRUE(g.is_ok() && u.is_ok() && dn.is_ok());
    const int64_t I = wc.rows, H = wc.cols;
    for (int64_t T : {1, 3, 17}) {
      SCOPED_TRACE(std::string(weight_type_name(wc.type)) + (wc.grouped ? " grouped" : "") + " T=" + std::to_string(T));
      DeviceBuffers d(*b_);
      const int64_t xs = H + 2, os = I + 3;
      const std::vector<float> x = random_floats(size_t(T * xs), 44);
      std::vector<float> want(size_t(T * os), 7.0f), scratch(size_t(T * I));
      table_->swiglu(gate.view, up.view, x.data(), xs, T, nullptr, want.data(), os, scratch.data());
      float* out = d.put(std::vector<float>(size_t(T * os), 7.0f));
      b_->swiglu(*g, *u, d.put(x), xs, T, nullptr, out, os, d.zeros<float>(size_t(T * I)));
      EXPECT_EQ(bit_mismatches(d.get(out, want.size()), want), 0);

      // Three experts sharing the weights, on 1, T and 2 tokens of dense x.
      const int64_t counts[3] = {1, T, 2};
      std::vector<std::vector<float>> hx(3), hhidden(3), hscratch(3), hout(3);
      kernels::ExpertJob host_jobs[3], dev_jobs[3];
      for (int j = 0; j < 3; ++j) {
        const int64_t n = counts[j];
        hx[size_t(j)] = random_floats(size_t(n * H), 50 + uint32_t(j));
        hhidden[size_t(j)].assign(size_t(n * I), 0.0f);
        hscratch[size_t(j)].assign(size_t(n * I), 0.0f);
        hout[size_t(j)].assign(size_t(n * H), 0.0f);
        host_jobs[j] = {gate.view, up.view, down.view, hx[size_t(j)].data(), nullptr, n,
                        hhidden[size_t(j)].data(), hscratch[size_t(j)].data(), hout[size_t(j)].data()};
        dev_jobs[j] = {*g, *u, *dn, d.put(hx[size_t(j)]), nullptr, n, d.zeros<float>(size_t(n * I)),
                       d.zeros<float>(size_t(n * I)), d.zeros<float>(size_t(n * H))};
      }
      table_->expert_ffns(host_jobs, 3);
      b_->expert_ffns(dev_jobs, 3);
      for (int j = 0; j < 3; ++j)
        EXPECT_EQ(bit_mismatches(d.get(dev_jobs[j].out, hout[size_t(j)].size()), hout[size_t(j)]), 0) << "job " << j;
    }
  }
}

TEST_P(BackendOps, AttentionGqaWindowSinks) {
  kernels::AttentionFn fn = kernels::find_attention(table_->name);
  if (fn == nullptr) fn = kernels::attention_ref;
  // 4 query heads over 2 kv heads of 33 floats; cache rows [K heads | V heads] + 3 floats pad.
  const int64_t nh = 4, nkv = 2, dk = 33, dv = 33, row = 2 * nkv * dk + 3;
  for (int64_t T : {1, 3, 17})
    for (int64_t window : {int64_t(0), int64_t(4)})
      for (bool sinks : {false, true}) {
        const int64_t start = 5, n_pos = start + T;
        const std::vector<float> q = random_floats(size_t(T * nh * dk), 61), cache = random_floats(size_t(n_pos * row), 62);
        const std::vector<float> sink = random_floats(size_t(nh), 63);
        kernels::AttentionArgs a;
        a.n_tokens = T, a.start = start, a.window = window, a.n_heads = nh, a.n_kv_heads = nkv, a.dk = dk, a.dv = dv;
        a.scale = 0.17f;
        a.q_token_stride = nh * dk, a.q_head_stride = dk;
        a.k_row_stride = row, a.k_head_stride = dk, a.v_row_stride = row, a.v_head_stride = dk;
        a.out_token_stride = nh * dv + 1, a.out_head_stride = dv;
        std::vector<float> want(size_t(T * a.out_token_stride), 7.0f);
        kernels::AttentionArgs h = a;
        h.q = q.data(), h.k = cache.data(), h.v = cache.data() + nkv * dk, h.sinks = sinks ? sink.data() : nullptr;
        h.out = want.data();
        fn(h);
        DeviceBuffers d(*b_);
        kernels::AttentionArgs dev = a;
        const float* dcache = d.put(cache);
        dev.q = d.put(q), dev.k = dcache, dev.v = dcache + nkv * dk;
        dev.sinks = sinks ? d.put(sink) : nullptr;
        dev.out = d.put(std::vector<float>(want.size(), 7.0f));
        dev.work_floats = kernels::attention_workspace_floats(T, nh, dv);
        dev.work = d.zeros<float>(size_t(dev.work_floats));
        b_->attention(dev);
        EXPECT_EQ(bit_mismatches(d.get(dev.out, want.size()), want), 0)
            << "T=" << T << " window=" << window << " sinks=" << sinks;
      }
}

TEST_P(BackendOps, ElementwiseSteps) {
  for (int64_t n : {33, 100, 257})
    for (int64_t T : {1, 3, 17}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " T=" + std::to_string(T));
      DeviceBuffers d(*b_);
      const int64_t stride = n + 3;
      const std::vector<float> rows = random_floats(size_t(T * stride), 71), bias = random_floats(size_t(n), 72);
      // add_bias
      std::vector<float> want = rows;
      for (int64_t r = 0; r < T; ++r)
        for (int64_t i = 0; i < n; ++i) want[size_t(r * stride + i)] += bias[size_t(i)];
      float* dr = d.put(rows);
      b_->add_bias(dr, T, stride, d.put(bias), n);
      EXPECT_EQ(bit_mismatches(d.get(dr, want.size()), want), 0) << "add_bias";
      // add (the residual), over T * n floats
      const std::vector<float> h = random_floats(size_t(T * n), 73), other = random_floats(size_t(T * n), 74);
      want = h;
      for (size_t i = 0; i < want.size(); ++i) want[i] += other[i];
      float* dh = d.put(h);
      b_->add(dh, d.put(other), T * n);
      EXPECT_EQ(bit_mismatches(d.get(dh, want.size()), want), 0) << "add";
      // clamped_swiglu_combine (gpt-oss: alpha 1.702, limit 7), inputs beyond the limit included
      const std::vector<float> gate = random_floats(size_t(T * n), 75, 10.0f), up = random_floats(size_t(T * n), 76, 10.0f);
      want = gate;
      for (size_t i = 0; i < want.size(); ++i) {
        const float g = std::fmin(gate[i], 7.0f);
        const float u = std::clamp(up[i], -7.0f, 7.0f);
        want[i] = (u + 1.0f) * (g / (1.0f + std::exp(-1.702f * g)));
      }
      float* dg = d.put(gate);
      b_->clamped_swiglu_combine(dg, d.put(up), T * n, 1.702f, 7.0f);
      EXPECT_EQ(bit_mismatches(d.get(dg, want.size()), want), 0) << "clamped_swiglu_combine";
      // add_sigmoid_gated (Qwen2-MoE's gated shared expert): the table's axpy per token
      const std::vector<float> logit = random_floats(size_t(T), 77, 4.0f), shared = random_floats(size_t(T * n), 78);
      want = h;
      for (int64_t t = 0; t < T; ++t)
        table_->axpy(1.0f / (1.0f + std::exp(-logit[size_t(t)])), shared.data() + t * n, want.data() + t * n, n);
      float* dout = d.put(h);
      b_->add_sigmoid_gated(dout, d.put(shared), d.put(logit), T, n);
      EXPECT_EQ(bit_mismatches(d.get(dout, want.size()), want), 0) << "add_sigmoid_gated";
      // copy_rows: T rows of n floats, strided on both sides
      std::vector<float> dst(size_t(T * (n + 1)), 7.0f);
      want = dst;
      for (int64_t r = 0; r < T; ++r)
        std::memcpy(want.data() + r * (n + 1), rows.data() + r * stride, size_t(n) * sizeof(float));
      float* ddst = d.put(dst);
      b_->copy_rows(d.put(rows), stride, T, n, ddst, n + 1);
      EXPECT_EQ(bit_mismatches(d.get(ddst, want.size()), want), 0) << "copy_rows";
    }
}

TEST_P(BackendOps, GatherAndScatterOfRoutedTokens) {
  for (int64_t hidden : {33, 100, 257}) {
    const int64_t T = 17;
    DeviceBuffers d(*b_);
    const std::vector<float> x = random_floats(size_t(T * hidden), 81);
    // Slots in routing order: tokens repeat and come out of order, as after grouping by expert.
    const std::vector<int32_t> tokens = {16, 0, 3, 3, 9, 1, 16, 2};
    const std::vector<float> weights = random_floats(tokens.size(), 82);
    const int64_t n = int64_t(tokens.size());
    std::vector<float> want(size_t(n * hidden));
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(want.data() + j * hidden, x.data() + int64_t(tokens[size_t(j)]) * hidden, size_t(hidden) * 4);
    float* gathered = d.zeros<float>(want.size());
    b_->gather_rows(d.put(x), hidden * int64_t(sizeof(float)), tokens.data(), n, gathered);
    EXPECT_EQ(bit_mismatches(d.get(gathered, want.size()), want), 0) << "gather_rows " << hidden;
    // Byte rows too (the quantised activations: quantized_row_bytes per row).
    const int64_t qb = kernels::quantized_row_bytes(hidden);
    std::vector<uint8_t> q(size_t(T * qb));
    for (size_t i = 0; i < q.size(); ++i) q[i] = uint8_t(i * 37 + 11);
    std::vector<uint8_t> want_q(size_t(n * qb));
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(want_q.data() + j * qb, q.data() + int64_t(tokens[size_t(j)]) * qb, size_t(qb));
    uint8_t* gq = d.zeros<uint8_t>(want_q.size());
    b_->gather_rows(d.put(q), qb, tokens.data(), n, gq);
    EXPECT_EQ(d.get(gq, want_q.size()), want_q) << "gather_rows bytes " << hidden;
    // scatter_add_scaled: out row tokens[j] += weights[j] * rows j, in j order, the table's axpy.
    const std::vector<float> rows = random_floats(size_t(n * hidden), 83), out0 = random_floats(size_t(T * hidden), 84);
    std::vector<float> want_out = out0;
    for (int64_t j = 0; j < n; ++j)
      table_->axpy(weights[size_t(j)], rows.data() + j * hidden, want_out.data() + int64_t(tokens[size_t(j)]) * hidden,
                   hidden);
    float* out = d.put(out0);
    b_->scatter_add_scaled(d.put(rows), tokens.data(), weights.data(), n, hidden, out);
    EXPECT_EQ(bit_mismatches(d.get(out, want_out.size()), want_out), 0) << "scatter_add_scaled " << hidden;
  }
}

TEST_P(BackendOps, RopeTablesAndBothLayouts) {
  RopeParams rope;
  rope.dim = 34;  // 17 pairs
  rope.attention_factor = 1.25f;
  for (int64_t j = 0; j < rope.dim / 2; ++j) rope.inv_freq.push_back(std::pow(10000.0f, -2.0f * float(j) / 34.0f));
  const int64_t heads = 3, piece = 40, rs = 127, half = rope.dim / 2;
  for (int64_t T : {1, 3, 17}) {
    const int64_t start = 1000;
    std::vector<float> cos(size_t(T * half)), sin(size_t(T * half));
    // The table at positions start .. start + T - 1, as blocks/rope.cpp forms it.
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < half; ++j) {
        const float angle = float(start + t) * rope.inv_freq[size_t(j)];
        cos[size_t(t * half + j)] = float(std::cos(double(angle))) * rope.attention_factor;
        sin[size_t(t * half + j)] = float(std::sin(double(angle))) * rope.attention_factor;
      }
    DeviceBuffers d(*b_);
    float* dcos = d.zeros<float>(cos.size());
    float* dsin = d.zeros<float>(sin.size());
    b_->rope_tables(rope, start, T, dcos, dsin);
    EXPECT_EQ(bit_mismatches(d.get(dcos, cos.size()), cos), 0) << "cos T=" << T;
    EXPECT_EQ(bit_mismatches(d.get(dsin, sin.size()), sin), 0) << "sin T=" << T;
    for (backend::RopeLayout layout : {backend::RopeLayout::kInterleaved, backend::RopeLayout::kHalf}) {
      const std::vector<float> x = random_floats(size_t(T * rs), 91);
      std::vector<float> want = x;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < heads; ++h) {
          float* p = want.data() + t * rs + h * piece;
          const float* c = cos.data() + t * half;
          const float* s = sin.data() + t * half;
          for (int64_t j = 0; j < half; ++j) {
            if (layout == backend::RopeLayout::kInterleaved) {
              const float a = p[2 * j], b = p[2 * j + 1];
              p[2 * j] = a * c[j] - b * s[j];
              p[2 * j + 1] = a * s[j] + b * c[j];
            } else {
              const float a = p[j], b = p[j + half];
              p[j] = a * c[j] - b * s[j];
              p[j + half] = b * c[j] + a * s[j];
            }
          }
        }
      float* dx = d.put(x);
      b_->rope(layout, dx, rs, T, heads, piece, rope.dim, dcos, dsin);
      EXPECT_EQ(bit_mismatches(d.get(dx, want.size()), want), 0)
          << (layout == backend::RopeLayout::kHalf ? "half" : "interleaved") << " T=" << T;
    }
  }
}

TEST_P(BackendOps, RouteEveryScoringAndTopkMethod) {
  struct Case {
    const char* name;
    kernels::RouterParams p;
    bool bias;
  };
  std::vector<Case> cases(3);
  // DeepSeek-V3: sigmoid, biased selection in 4 groups, 2 kept, top 3, normalised and scaled.
  cases[0].name = "noaux_tc";
  cases[0].p.scoring = ScoringFunc::kSigmoid, cases[0].p.method = TopkMethod::kNoauxTc, cases[0].p.n_experts = 32;
  cases[0].p.n_group = 4, cases[0].p.topk_group = 2, cases[0].p.top_k = 3, cases[0].p.norm_topk_prob = true;
  cases[0].p.routed_scaling_factor = 2.5f, cases[0].bias = true;
  // Softmax, greedy top 2 of 33 (Mixtral / Qwen / OLMoE).
  cases[1].name = "greedy";
  cases[1].p.n_experts = 33, cases[1].p.top_k = 2, cases[1].bias = false;
  // gpt-oss: the router bias on the logits, softmax over the top 4.
  cases[2].name = "softmax_topk";
  cases[2].p.scoring = ScoringFunc::kSoftmaxTopk, cases[2].p.n_experts = 33, cases[2].p.top_k = 4;
  cases[2].bias = true;
  for (const Case& c : cases)
    for (int64_t T : {1, 3, 17}) {
      const int64_t E = c.p.n_experts, K = c.p.top_k;
      const std::vector<float> logits = random_floats(size_t(T * E), 111, 3.0f), bias = random_floats(size_t(E), 112, 0.1f);
      std::vector<int32_t> want_idx(size_t(T * K));
      std::vector<float> want_w(size_t(T * K)), scratch(size_t(c.p.scratch_size()));
      for (int64_t t = 0; t < T; ++t)
        kernels::route(c.p, logits.data() + t * E, c.bias ? bias.data() : nullptr, scratch.data(),
                       want_idx.data() + t * K, want_w.data() + t * K);
      DeviceBuffers d(*b_);
      int32_t* idx = d.zeros<int32_t>(want_idx.size());
      float* w = d.zeros<float>(want_w.size());
      b_->route(c.p, d.put(logits), c.bias ? d.put(bias) : nullptr, d.zeros<float>(scratch.size()), T, idx, w);
      EXPECT_EQ(d.get(idx, want_idx.size()), want_idx) << c.name << " T=" << T;
      EXPECT_EQ(bit_mismatches(d.get(w, want_w.size()), want_w), 0) << c.name << " T=" << T;
    }
}

TEST_P(BackendOps, StoreKvInEveryType) {
  for (int64_t n : {33, 100, 257})
    for (int64_t T : {1, 3, 17}) {
      const int64_t ss = n + 5;
      const std::vector<float> src = random_floats(size_t(T * ss), 101, 5.0f);
      for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) {
        SCOPED_TRACE(std::string(kv_type_name(type)) + " n=" + std::to_string(n) + " T=" + std::to_string(T));
        const int64_t piece = kv_piece_bytes(type, n), ds = piece + 8;
        DeviceBuffers d(*b_);
        uint8_t* dst = d.put(std::vector<uint8_t>(size_t(T * ds), 0xAB));
        b_->store_kv(type, d.put(src), ss, T, n, dst, ds);
        const std::vector<uint8_t> got = d.get(dst, size_t(T * ds));
        for (int64_t t = 0; t < T; ++t) {
          const float* x = src.data() + t * ss;
          const uint8_t* row = got.data() + t * ds;
          for (int64_t i = piece; i < ds; ++i) ASSERT_EQ(row[i], 0xAB) << "wrote past the piece";
          if (type == KvType::kF32) {
            ASSERT_EQ(std::memcmp(row, x, size_t(n) * 4), 0);
          } else if (type == KvType::kF16) {
            for (int64_t i = 0; i < n; ++i) {
              uint16_t h;
              std::memcpy(&h, row + 2 * i, 2);
              ASSERT_EQ(h, f32_to_f16(x[i])) << i;
            }
          } else {
            // Blocks of 32: f32 d = amax / 127, then 32 int8 (core/kv_type.h); value within d / 2.
            for (int64_t b = 0; b * 32 < n; ++b) {
              float amax = 0.0f;
              for (int64_t i = b * 32; i < std::min(n, b * 32 + 32); ++i) amax = std::max(amax, std::fabs(x[i]));
              float scale;
              std::memcpy(&scale, row + b * kKvQ8BlockBytes, 4);
              ASSERT_FLOAT_EQ(scale, amax / 127.0f) << "block " << b;
              const int8_t* q = reinterpret_cast<const int8_t*>(row + b * kKvQ8BlockBytes + 4);
              for (int64_t i = 0; i < 32; ++i) {
                const float v = b * 32 + i < n ? x[b * 32 + i] : 0.0f;
                ASSERT_LE(std::fabs(scale * float(q[i]) - v), scale * 0.5001f) << "value " << b * 32 + i;
              }
            }
          }
        }
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Configs, BackendOps, ::testing::ValuesIn(backend_configs()),
                         [](const ::testing::TestParamInfo<BackendConfig>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace mote::test
