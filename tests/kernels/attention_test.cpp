// The attention kernels (kernels/attention.h): the scalar reference against a float64 oracle, and
// every fast implementation this CPU can run against the reference on odd shapes (dk / dv not
// multiples of 16, MLA's split query and shared K/V rows, group sizes 1 to 128, 1 to 5000 keys,
// sliding windows, sinks, batches with causal offsets). The fast result must not depend on the
// thread count, on the workspace (key ranges split over threads or not) or on the batch a token
// is in, and a call must not allocate.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/alloc_counter.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace mote {
namespace {

struct Case {
  int64_t T, start, window, nh, nkv, dk, dv;
  bool mla;    // query in two pieces (dk_a = dk - 8), V = the first dv floats of the K row
  bool sinks;
};

const Case kCases[] = {
    {1, 0, 0, 4, 4, 37, 19, false, false},     {1, 1, 0, 4, 1, 37, 19, true, false},
    {1, 62, 0, 7, 1, 37, 19, false, true},     {1, 999, 0, 8, 2, 64, 64, false, false},
    {1, 4099, 0, 16, 1, 576, 512, true, false}, {5, 60, 17, 8, 2, 37, 19, false, false},
    {3, 4097, 0, 7, 1, 128, 128, false, true}, {9, 0, 4, 4, 4, 16, 16, false, true},
    {2, 1500, 0, 128, 1, 40, 32, true, false}, {1, 5000, 4096, 32, 4, 64, 64, false, true},
    {4, 300, 0, 28, 4, 45, 45, false, false},  {1, 130, 0, 1, 1, 3, 5, false, false},
    {1, 2000, 0, 96, 1, 40, 32, true, true},   // 3 head blocks of 32
};

std::string name_of(const Case& c) {
  return "T" + std::to_string(c.T) + " start" + std::to_string(c.start) + " w" + std::to_string(c.window) + " nh" +
         std::to_string(c.nh) + " nkv" + std::to_string(c.nkv) + " dk" + std::to_string(c.dk) + " dv" +
         std::to_string(c.dv) + (c.mla ? " mla" : "") + (c.sinks ? " sinks" : "");
}

// Buffers of one case, with padded strides so that no kernel can assume dense rows.
struct Data {
  Case c;
  std::vector<float> q, q2, kv, sinks, work;
  int64_t qts, qhs, q2ts, q2hs, row, khs, vhs, v_off;

  Data(const Case& cs, uint32_t seed) : c(cs) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t n_pos = c.start + c.T, dk_a = c.mla ? c.dk - 8 : c.dk;
    qhs = dk_a + 3;
    qts = c.nh * qhs + 5;
    q2hs = 8 + 1;
    q2ts = c.nh * q2hs + 2;
    if (c.mla) {  // one shared row [K (dk) | pad]; V = its first dv floats
      khs = vhs = 0;
      v_off = 0;
      row = c.dk + 3;
    } else {  // row [K heads | V heads], each head padded
      khs = c.dk + 1;
      vhs = c.dv + 2;
      v_off = c.nkv * khs;
      row = v_off + c.nkv * vhs + 1;
    }
    q.resize(size_t(c.T * qts));
    q2.resize(size_t(c.T * q2ts));
    kv.resize(size_t(n_pos * row));
    // Scores of a few units: peaked enough to test the max tracking, flat enough to mix keys.
    for (float& x : q) x = 3.0f * u(rng);
    for (float& x : q2) x = 3.0f * u(rng);
    for (float& x : kv) x = u(rng);
    sinks.resize(size_t(c.nh));
    for (int64_t h = 0; h < c.nh; ++h) sinks[size_t(h)] = h % 3 == 0 ? 40.0f : 2.0f * u(rng);  // 40: above every score
    work.resize(size_t(kernels::attention_workspace_floats(c.T, c.nh, c.dv)));
  }

  kernels::AttentionArgs args(float* out, bool with_work) {
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
    if (c.mla) {
      a.q2 = q2.data();
      a.dk_a = c.dk - 8;
      a.q2_token_stride = q2ts;
      a.q2_head_stride = q2hs;
    }
    a.k = kv.data();
    a.k_row_stride = row;
    a.k_head_stride = khs;
    a.v = kv.data() + v_off;
    a.v_row_stride = row;
    a.v_head_stride = vhs;
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

// float64 attention of token t, head h: out[dv].
std::vector<double> oracle(Data& d, int64_t t, int64_t h) {
  const Case& c = d.c;
  std::vector<float> dummy(d.out_size());
  const kernels::AttentionArgs a = d.args(dummy.data(), false);
  const int64_t pos = c.start + t, lo = c.window > 0 ? std::max<int64_t>(0, pos - c.window + 1) : 0;
  const int64_t g = h / (c.nh / c.nkv), dk_a = c.mla ? a.dk_a : c.dk;
  std::vector<double> s;
  double mx = c.sinks ? double(d.sinks[size_t(h)]) : -INFINITY;
  for (int64_t p = lo; p <= pos; ++p) {
    const float* key = a.k + p * a.k_row_stride + g * a.k_head_stride;
    double acc = 0;
    for (int64_t i = 0; i < c.dk; ++i) {
      const float qi = i < dk_a ? a.q[t * a.q_token_stride + h * a.q_head_stride + i]
                                : a.q2[t * a.q2_token_stride + h * a.q2_head_stride + i - dk_a];
      acc += double(qi) * key[i];
    }
    s.push_back(acc * a.scale);
    mx = std::max(mx, s.back());
  }
  double sum = c.sinks ? std::exp(double(d.sinks[size_t(h)]) - mx) : 0.0;
  for (double& x : s) sum += (x = std::exp(x - mx));
  std::vector<double> out(size_t(c.dv), 0.0);
  for (int64_t p = lo; p <= pos; ++p)
    for (int64_t i = 0; i < c.dv; ++i)
      out[size_t(i)] += s[size_t(p - lo)] / sum * a.v[p * a.v_row_stride + g * a.v_head_stride + i];
  return out;
}

std::vector<const char*> fast_names() {
  std::vector<const char*> names;
  for (const char* n : {"avx2", "avx512", "neon"})
    if (kernels::find_attention(n) != nullptr) names.push_back(n);
  return names;
}

class Attention : public ::testing::Test {
 protected:
  void TearDown() override { kernels::set_num_threads(0); }
};

TEST_F(Attention, ReferenceMatchesFloat64Oracle) {
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    Data d(c, seed++);
    std::vector<float> out(d.out_size()), buffered(d.out_size());
    kernels::attention_ref(d.args(out.data(), false));
    kernels::attention_ref(d.args(buffered.data(), true));  // scores kept in the workspace
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], buffered[i]) << name_of(c) << " at " << i;
    for (int64_t t = 0; t < c.T; ++t)
      for (int64_t h = 0; h < c.nh; h += std::max<int64_t>(1, c.nh / 8)) {
        const std::vector<double> want = oracle(d, t, h);
        for (int64_t i = 0; i < c.dv; ++i)
          ASSERT_NEAR(out[d.at(t, h, i)], want[size_t(i)], 2e-5) << name_of(c) << " t" << t << " h" << h << " i" << i;
      }
  }
}

TEST_F(Attention, FastMatchesReferenceAndIsDeterministic) {
  const std::vector<const char*> names = fast_names();
  if (names.empty()) GTEST_SKIP() << "no fast attention on this CPU";
  uint32_t seed = 100;
  for (const Case& c : kCases) {
    Data d(c, seed++);
    std::vector<float> ref(d.out_size());
    kernels::attention_ref(d.args(ref.data(), false));
    for (const char* name : names) {
      const kernels::AttentionFn fast = kernels::find_attention(name);
      const std::string what = std::string(name) + " " + name_of(c);
      std::vector<float> one(d.out_size()), many(d.out_size()), split(d.out_size());
      kernels::set_num_threads(1);
      fast(d.args(one.data(), false));
      kernels::set_num_threads(0);
      fast(d.args(many.data(), false));
      fast(d.args(split.data(), true));
      for (int64_t t = 0; t < c.T; ++t)
        for (int64_t h = 0; h < c.nh; ++h)
          for (int64_t i = 0; i < c.dv; ++i) {
            const size_t at = d.at(t, h, i);
            ASSERT_NEAR(one[at], ref[at], 3e-5) << what << " t" << t << " h" << h << " i" << i;
            ASSERT_EQ(one[at], many[at]) << what << " (thread count) t" << t << " h" << h << " i" << i;
            ASSERT_EQ(one[at], split[at]) << what << " (key split) t" << t << " h" << h << " i" << i;
          }
    }
  }
}

// A token gives the same floats in a batch (prefill) as alone (decode, with the key split).
TEST_F(Attention, FastBatchEqualsTokenByToken) {
  uint32_t seed = 200;
  for (const char* name : fast_names()) {
    const kernels::AttentionFn fast = kernels::find_attention(name);
    for (const Case& c : kCases) {
      if (c.T == 1) continue;
      Data d(c, seed++);
      std::vector<float> batch(d.out_size()), single(d.out_size());
      fast(d.args(batch.data(), false));
      for (int64_t t = 0; t < c.T; ++t) {
        kernels::AttentionArgs a = d.args(single.data() + t * c.nh * (c.dv + 1), true);
        a.n_tokens = 1;
        a.start = c.start + t;
        a.q += t * a.q_token_stride;
        if (a.q2 != nullptr) a.q2 += t * a.q2_token_stride;
        fast(a);
      }
      for (int64_t t = 0; t < c.T; ++t)
        for (int64_t h = 0; h < c.nh; ++h)
          for (int64_t i = 0; i < c.dv; ++i)
            ASSERT_EQ(batch[d.at(t, h, i)], single[d.at(t, h, i)]) << name << " " << name_of(c) << " t" << t;
    }
  }
}

TEST_F(Attention, DispatchFollowsTheActiveTable) {
  EXPECT_EQ(kernels::find_attention("reference"), &kernels::attention_ref);
  EXPECT_EQ(kernels::find_attention("no-such-isa"), nullptr);
  // attention() runs the active table's implementation: compare on one case.
  Data d(kCases[3], 300);
  std::vector<float> via(d.out_size()), direct(d.out_size());
  kernels::attention(d.args(via.data(), true));
  const kernels::AttentionFn fn = kernels::find_attention(kernels::active_kernels().name);
  (fn != nullptr ? fn : kernels::attention_ref)(d.args(direct.data(), true));
  for (size_t i = 0; i < via.size(); ++i) ASSERT_EQ(via[i], direct[i]) << i;
}

TEST_F(Attention, NoAllocation) {
  std::vector<kernels::AttentionFn> fns = {kernels::attention_ref};
  for (const char* name : fast_names()) fns.push_back(kernels::find_attention(name));
  Data d(kCases[4], 400);  // MLA decode at 4100 keys: the key-split path with threads
  Data b(kCases[6], 401);  // a batch
  std::vector<float> out(std::max(d.out_size(), b.out_size()));
  for (kernels::AttentionFn fn : fns) {
    fn(d.args(out.data(), true));  // warm-up: the thread pool starts once
    test::CountAllocations count;
    fn(d.args(out.data(), true));
    fn(b.args(out.data(), false));
    EXPECT_EQ(count.count(), 0);
  }
}

}  // namespace
}  // namespace mote
