// Every Backend op of the CUDA backend on a GPU against the CPU backend with the scalar reference
// table (the oracle), on odd shapes: 1 / 3 / 8 / 9 / 17 / 70 tokens (the decode GEMV, its second
// pass, and the tiled GEMM), widths 33 / 100 / 257, strides wider than the rows, every weight
// type in both layouts. Inputs reach each backend by upload and results leave by download.
// fp32 results agree to a relative max error of 2e-5 (summation order differs); router ids and
// KV-row bytes exactly. Without a CUDA device every test skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "backend/backend_test_util.h"
#include "kernels/attention.h"
#include "kernels/kv_rows.h"
#include "kernels/router.h"

namespace mote::test {
namespace {

using backend::Backend;

std::unique_ptr<Backend> make(backend::BackendKind kind) {
  backend::BackendOptions o;
  o.kind = kind;
  o.kernels = "reference";
  o.n_threads = 1;
  auto b = backend::create_backend(o);
  return b.is_ok() ? std::move(b).value() : nullptr;
}

double rel_max_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(want[i])));
    ref = std::max(ref, std::fabs(double(want[i])));
  }
  return got.size() != want.size() ? 1e30 : diff / std::max(ref, 1e-30);
}

// Runs `op` on the CPU (reference) and the CUDA backend; it returns its output, downloaded.
using Op = std::function<std::vector<float>(Backend&, DeviceBuffers&)>;

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    cuda_ = make(backend::BackendKind::kCuda);
    if (cuda_ == nullptr) GTEST_SKIP() << "no CUDA device";
    cpu_ = make(backend::BackendKind::kCpu);
    ASSERT_NE(cpu_, nullptr);
  }
  void expect_close(const Op& op, const std::string& what, double tol = 2e-5) {
    std::vector<float> want, got;
    {
      DeviceBuffers d(*cpu_);
      want = op(*cpu_, d);
    }
    {
      DeviceBuffers d(*cuda_);
      got = op(*cuda_, d);
    }
    const double err = rel_max_error(got, want);
    EXPECT_LE(err, tol) << what;
  }
  std::unique_ptr<Backend> cuda_, cpu_;
};

struct WeightCase {
  WeightType type;
  int64_t rows, cols;
  bool grouped;
};
std::vector<WeightCase> weight_cases() {
  std::vector<WeightCase> c;
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0,
                       WeightType::MXFP4, WeightType::Q2_1}) {
    c.push_back({t, 33, 100, false});
    c.push_back({t, 1, 257, false});
    c.push_back({t, 100, 33, false});
  }
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q2_1}) {
    c.push_back({t, 48, 257, true});
    c.push_back({t, 272, 33, true});
  }
  return c;
}
std::string name(const WeightCase& c) {
  return std::string(weight_type_name(c.type)) + " " + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
         (c.grouped ? " grouped" : "");
}

TEST_F(CudaOps, MatmulEveryTypeLayoutAndBatch) {
  uint32_t seed = 1;
  for (const WeightCase& c : weight_cases()) {
    const HostWeight w = random_weight(c.type, c.rows, c.cols, c.grouped, seed++);
    for (int64_t T : {1, 3, 8, 9, 17, 70}) {
      const int64_t xs = c.cols + 3, ys = c.rows + 5;
      const std::vector<float> x = random_floats(size_t(T * xs), seed++);
      expect_close(
          [&](Backend& b, DeviceBuffers& d) {
            const WeightView dw = b.place_weight(w.view).value();
            float* y = d.zeros<float>(size_t(T * ys));
            b.matmul(dw, d.put(x), xs, T, y, ys);
            std::vector<float> out = d.get(y, size_t(T * ys));
            for (int64_t t = 0; t < T; ++t)  // the gaps between rows are not part of the result
              for (int64_t r = c.rows; r < ys; ++r) out[size_t(t * ys + r)] = 0.0f;
            return out;
          },
          "matmul " + name(c) + " T=" + std::to_string(T));
    }
    for (int64_t T : {1, 3, 17}) {
      const int64_t xs = c.rows + 2, ys = c.cols + 4;
      const std::vector<float> x = random_floats(size_t(T * xs), seed++);
      expect_close(
          [&](Backend& b, DeviceBuffers& d) {
            const WeightView dw = b.place_weight(w.view).value();
            float* y = d.zeros<float>(size_t(T * ys));
            b.matmul_t(dw, d.put(x), xs, T, y, ys);
            return d.get(y, size_t(T * ys));
          },
          "matmul_t " + name(c) + " T=" + std::to_string(T));
    }
    expect_close(
        [&](Backend& b, DeviceBuffers& d) {
          const WeightView dw = b.place_weight(w.view).value();
          const std::vector<int32_t> ids = {0, int32_t(c.rows - 1), int32_t(c.rows / 2), 0};
          float* out = d.zeros<float>(size_t(4 * c.cols));
          b.embed(dw, ids.data(), 4, out);
          return d.get(out, size_t(4 * c.cols));
        },
        "embed " + name(c), 0.0);
  }
}

TEST_F(CudaOps, SwigluAndExpertFfns) {
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::MXFP4, WeightType::F16}) {
    const bool g = t == WeightType::Q8_0 || t == WeightType::Q4_0;
    const int64_t I = 48, H = 100;
    const HostWeight gate = random_weight(t, I, H, g, 5), up = random_weight(t, I, H, g, 6);
    const HostWeight down = random_weight(t, H, I, false, 7);
    for (int64_t T : {1, 5, 40}) {
      const std::vector<float> x = random_floats(size_t(T * H), 8);
      expect_close(
          [&](Backend& b, DeviceBuffers& d) {
            const WeightView dg = b.place_weight(gate.view).value(), du = b.place_weight(up.view).value();
            const WeightView dd = b.place_weight(down.view).value();
            float* out = d.zeros<float>(size_t(T * I));
            float* scratch = d.zeros<float>(size_t(T * I));
            const float* dx = d.put(x);
            b.swiglu(dg, du, dx, H, T, nullptr, out, I, scratch);
            std::vector<float> r = d.get(out, size_t(T * I));
            kernels::ExpertJob jobs[2];
            for (int j = 0; j < 2; ++j) {
              jobs[j].gate = dg, jobs[j].up = du, jobs[j].down = dd, jobs[j].x = dx, jobs[j].n_tokens = T - j * (T / 2);
              jobs[j].hidden = d.zeros<float>(size_t(T * I));
              jobs[j].scratch = d.zeros<float>(size_t(T * I));
              jobs[j].out = d.zeros<float>(size_t(T * H));
            }
            b.expert_ffns(jobs, 2);
            for (int j = 0; j < 2; ++j) {
              const std::vector<float> o = d.get(jobs[j].out, size_t(jobs[j].n_tokens * H));
              r.insert(r.end(), o.begin(), o.end());
            }
            return r;
          },
          std::string("swiglu/expert_ffns ") + weight_type_name(t) + " T=" + std::to_string(T), 5e-5);
    }
  }
}

TEST_F(CudaOps, NormsElementwiseGatherScatter) {
  for (int64_t n : {33, 257, 2048}) {
    const std::vector<float> x = random_floats(size_t(3 * (n + 7)), 1), w = random_floats(size_t(n), 2);
    expect_close(
        [&](Backend& b, DeviceBuffers& d) {
          float* y = d.zeros<float>(size_t(3 * (n + 7)));
          kernels::QuantizedRows q;
          b.rms_norm_rows(d.put(x), n + 7, 3, d.put(w), n, 1e-6f, y, n + 7, &q);
          float* z = d.put(x);
          b.rms_norm_pieces(z, n + 7, 3, 1, 0, d.put(w), n, 1e-5f, z, n + 7);  // in place
          std::vector<float> r = d.get(y, size_t(3 * (n + 7))), r2 = d.get(z, size_t(3 * (n + 7)));
          r.insert(r.end(), r2.begin(), r2.end());
          return r;
        },
        "rms norms n=" + std::to_string(n));
  }
  expect_close(
      [&](Backend& b, DeviceBuffers& d) {
        const std::vector<float> rows = random_floats(17 * 40, 3), bias = random_floats(33, 4), up = random_floats(17 * 40, 5);
        const std::vector<float> logit = random_floats(17, 6);
        float* r = d.put(rows);
        b.add_bias(r, 17, 40, d.put(bias), 33);
        b.add(r, d.put(up), 17 * 40);
        float* g = d.put(rows);
        b.clamped_swiglu_combine(g, d.put(up), 17 * 40, 1.702f, 0.5f);
        b.add_sigmoid_gated(r, g, d.put(logit), 17, 40);
        float* c = d.zeros<float>(17 * 50);
        b.copy_rows(r, 40, 17, 33, c, 50);
        const std::vector<int32_t> tokens = {3, 0, 16, 3, 7};
        const std::vector<float> weights = {0.5f, -1.0f, 2.0f, 0.25f, 1.0f};
        float* gathered = d.zeros<float>(5 * 40);
        b.gather_rows(r, 40 * 4, tokens.data(), 5, gathered);
        uint8_t* bytes = static_cast<uint8_t*>(d.raw(5 * 13));
        b.gather_rows(d.put(std::vector<uint8_t>(17 * 13, 7)), 13, tokens.data(), 5, bytes);  // odd row bytes
        b.scatter_add_scaled(gathered, tokens.data(), weights.data(), 5, 40, r);
        std::vector<float> out = d.get(r, 17 * 40), o2 = d.get(c, 17 * 50), o3 = d.get(g, 17 * 40);
        out.insert(out.end(), o2.begin(), o2.end());
        out.insert(out.end(), o3.begin(), o3.end());
        for (uint8_t v : d.get(bytes, 5 * 13)) out.push_back(float(v));
        return out;
      },
      "elementwise, gather, scatter");
}

TEST_F(CudaOps, RopeTablesAndBothLayouts) {
  RopeParams rope;
  rope.dim = 64;
  for (int j = 0; j < 32; ++j) rope.inv_freq.push_back(std::pow(10000.0f, -2.0f * float(j) / 64.0f));
  rope.attention_factor = 1.25f;
  const std::vector<float> x = random_floats(5 * 3 * 70, 9);
  expect_close(
      [&](Backend& b, DeviceBuffers& d) {
        float* cs = d.zeros<float>(5 * 32);
        float* sn = d.zeros<float>(5 * 32);
        b.rope_tables(rope, 4090, 5, cs, sn);
        float* a = d.put(x);
        float* h = d.put(x);
        b.rope(backend::RopeLayout::kInterleaved, a, 210, 5, 3, 70, 64, cs, sn);
        b.rope(backend::RopeLayout::kHalf, h, 210, 5, 3, 70, 64, cs, sn);
        std::vector<float> r = d.get(cs, 5 * 32), r2 = d.get(a, x.size()), r3 = d.get(h, x.size());
        r.insert(r.end(), r2.begin(), r2.end());
        r.insert(r.end(), r3.begin(), r3.end());
        return r;
      },
      "rope", 1e-6);
}

TEST_F(CudaOps, RouteEveryScoringAndMethod) {
  struct Case { ScoringFunc s; TopkMethod m; int64_t E, G, TG, K; bool norm, bias; };
  const Case cases[] = {{ScoringFunc::kSoftmax, TopkMethod::kGreedy, 64, 1, 1, 8, false, false},
                        {ScoringFunc::kSoftmax, TopkMethod::kGroupLimitedGreedy, 64, 8, 3, 6, false, false},
                        {ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 256, 8, 4, 8, true, true},
                        {ScoringFunc::kSoftmaxTopk, TopkMethod::kGreedy, 32, 1, 1, 4, false, true},
                        {ScoringFunc::kSoftmax, TopkMethod::kGreedy, 60, 1, 1, 4, true, false}};
  for (const Case& c : cases) {
    kernels::RouterParams p;
    p.scoring = c.s, p.method = c.m, p.n_experts = c.E, p.n_group = c.G, p.topk_group = c.TG, p.top_k = c.K;
    p.norm_topk_prob = c.norm, p.routed_scaling_factor = c.norm ? 2.5f : 1.0f;
    const int64_t T = 9;
    const std::vector<float> logits = random_floats(size_t(T * c.E), uint32_t(c.E), 4.0f), bias = random_floats(size_t(c.E), 3, 0.05f);
    std::vector<int32_t> ids[2];
    std::vector<float> weights[2];
    Backend* both[2] = {cpu_.get(), cuda_.get()};
    for (int i = 0; i < 2; ++i) {
      DeviceBuffers d(*both[i]);
      int32_t* idx = static_cast<int32_t*>(d.raw(uint64_t(T * c.K) * 4));
      float* w = d.zeros<float>(size_t(T * c.K));
      both[i]->route(p, d.put(logits), c.bias ? d.put(bias) : nullptr, d.zeros<float>(size_t(p.scratch_size())), T, idx, w);
      ids[i] = d.get(idx, size_t(T * c.K));
      weights[i] = d.get(w, size_t(T * c.K));
    }
    EXPECT_EQ(ids[1], ids[0]) << "E=" << c.E;
    EXPECT_LE(rel_max_error(weights[1], weights[0]), 1e-5) << "E=" << c.E;
  }
}

TEST_F(CudaOps, StoreKvEveryTypeIsExact) {
  for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8_0})
    for (int64_t n : {1, 33, 576}) {
      std::vector<float> src = random_floats(size_t(3 * (n + 5)), uint32_t(n), 5.0f);
      const int64_t piece = kv_piece_bytes(type, n), stride = piece + 8;
      std::vector<uint8_t> want(size_t(3 * stride), 0);
      for (int r = 0; r < 3; ++r) kernels::store_kv_piece(type, src.data() + r * (n + 5), n, want.data() + r * stride);
      DeviceBuffers d(*cuda_);
      uint8_t* dst = d.put(std::vector<uint8_t>(size_t(3 * stride), 0));
      cuda_->store_kv(type, d.put(src), n + 5, 3, n, dst, stride);
      EXPECT_EQ(d.get(dst, size_t(3 * stride)), want) << kv_type_name(type) << " n=" << n;
    }
}

}  // namespace
}  // namespace mote::test
