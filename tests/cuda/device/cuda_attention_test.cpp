// Backend::attention on the CUDA backend against the CPU backend's scalar reference
// (attention_ref): GQA with windows, sinks and rings; MLA-shaped (one kv head, the query in two
// pieces, the value a prefix of the key); f32, f16 and q8_0 rows; decode (1 token, long cache:
// many key splits) and prefill batches. Relative max error <= 2e-5. Skips without a device.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/backend_test_util.h"
#include "kernels/attention.h"
#include "kernels/kv_rows.h"

namespace mote::test {
namespace {

struct Case {
  const char* name;
  int64_t T, start, window, H, KV, dk, dv, ring;
  bool sinks, mla;
  KvType kv;
};

// Host inputs of one case; args(b, d) places them on a backend and returns the arguments.
struct Inputs {
  Case c;
  int64_t rows, row_floats, dk_a, row_bytes = 0, kp = 0, vp = 0;
  std::vector<float> cache, q, q2, sinks;
  std::vector<uint8_t> typed;

  explicit Inputs(const Case& cs) : c(cs) {
    rows = c.ring > 0 ? c.ring : c.start + c.T;
    dk_a = c.mla ? c.dv : c.dk;
    row_floats = c.mla ? c.dk : c.KV * (c.dk + c.dv);
    cache = random_floats(size_t(rows * row_floats), 11);
    q = random_floats(size_t(c.T * c.H * dk_a), 12);
    q2 = random_floats(size_t(c.T * c.H * (c.dk - dk_a) + 1), 13);
    sinks = random_floats(size_t(c.H), 14, 2.0f);
    if (c.kv == KvType::kF32) return;
    kp = kv_piece_bytes(c.kv, c.dk), vp = kv_piece_bytes(c.kv, c.dv);
    row_bytes = c.mla ? kp : c.KV * (kp + vp);
    typed.resize(size_t(rows * row_bytes));
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = cache.data() + r * row_floats;
      uint8_t* dst = typed.data() + r * row_bytes;
      if (c.mla) {
        kernels::store_kv_piece(c.kv, src, c.dk, dst);
        continue;
      }
      for (int64_t g = 0; g < c.KV; ++g) {
        kernels::store_kv_piece(c.kv, src + g * c.dk, c.dk, dst + g * kp);
        kernels::store_kv_piece(c.kv, src + c.KV * c.dk + g * c.dv, c.dv, dst + c.KV * kp + g * vp);
      }
    }
  }

  kernels::AttentionArgs args(DeviceBuffers& d, float* out) const {
    kernels::AttentionArgs a;
    a.n_tokens = c.T, a.start = c.start, a.window = c.window, a.n_heads = c.H, a.n_kv_heads = c.KV;
    a.dk = c.dk, a.dv = c.dv, a.scale = 1.0f / std::sqrt(float(c.dk));
    a.q = d.put(q), a.q_token_stride = c.H * dk_a, a.q_head_stride = dk_a;
    const float* dc = d.put(cache);
    if (c.mla) {
      a.q2 = d.put(q2), a.dk_a = dk_a, a.q2_token_stride = c.H * (c.dk - dk_a), a.q2_head_stride = c.dk - dk_a;
      a.k = dc, a.k_row_stride = row_floats, a.k_head_stride = 0;
      a.v = dc, a.v_row_stride = row_floats, a.v_head_stride = 0;
    } else {
      a.k = dc, a.k_row_stride = row_floats, a.k_head_stride = c.dk;
      a.v = dc + c.KV * c.dk, a.v_row_stride = row_floats, a.v_head_stride = c.dv;
    }
    if (c.kv != KvType::kF32) {
      const uint8_t* dt = d.put(typed);
      a.kv_type = c.kv;
      a.k_bytes = dt, a.k_row_bytes = row_bytes, a.k_head_bytes = c.mla ? 0 : kp;
      a.v_bytes = c.mla ? dt : dt + c.KV * kp, a.v_row_bytes = row_bytes, a.v_head_bytes = c.mla ? 0 : vp;
    }
    a.ring_rows = c.ring;
    a.sinks = c.sinks ? d.put(sinks) : nullptr;
    a.out = out, a.out_token_stride = c.H * c.dv, a.out_head_stride = c.dv;
    return a;
  }
};

std::vector<float> run(backend::Backend& b, const Inputs& in) {
  DeviceBuffers d(b);
  float* out = d.zeros<float>(size_t(in.c.T * in.c.H * in.c.dv));
  b.attention(in.args(d, out));
  return d.get(out, size_t(in.c.T * in.c.H * in.c.dv));
}

std::unique_ptr<backend::Backend> make(backend::BackendKind kind) {
  backend::BackendOptions o;
  o.kind = kind;
  o.kernels = "reference";
  auto b = backend::create_backend(o);
  return b.is_ok() ? std::move(b).value() : nullptr;
}

TEST(CudaAttention, MatchesTheReferenceOnEveryLayout) {
  auto cuda = make(backend::BackendKind::kCuda);
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  auto cpu = make(backend::BackendKind::kCpu);
  const Case cases[] = {
      {"gqa decode long", 1, 3000, 0, 16, 4, 128, 128, 0, false, false, KvType::kF32},
      {"gqa prefill", 17, 5, 0, 6, 3, 33, 17, 0, false, false, KvType::kF32},
      {"gqa window sinks", 9, 300, 64, 8, 2, 64, 64, 0, true, false, KvType::kF32},
      {"gqa ring", 3, 500, 100, 4, 2, 64, 64, 102, true, false, KvType::kF32},
      {"gqa f16", 2, 200, 0, 4, 2, 96, 96, 0, false, false, KvType::kF16},
      {"gqa q8_0 ring", 3, 600, 100, 4, 2, 72, 72, 102, true, false, KvType::kQ8_0},
      {"mla decode", 1, 2000, 0, 16, 1, 512 + 64, 512, 0, false, true, KvType::kF32},
      {"mla prefill q8_0", 20, 40, 0, 16, 1, 512 + 64, 512, 0, false, true, KvType::kQ8_0},
      {"mla wide dv f16", 2, 30, 0, 2, 1, 1100 + 64, 1100, 0, false, true, KvType::kF16},
  };
  for (const Case& c : cases) {
    const Inputs in(c);
    const std::vector<float> want = run(*cpu, in), got = run(*cuda, in);
    double diff = 0, ref = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      diff = std::max(diff, std::fabs(double(got[i]) - want[i]));
      ref = std::max(ref, std::fabs(double(want[i])));
    }
    EXPECT_LE(diff / ref, 2e-5) << c.name;
  }
}

}  // namespace
}  // namespace mote::test
