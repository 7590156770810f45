// The CUDA backend's router (kernels/router.h) and attention (kernels/attention.h) bodies,
// written once over a "lanes" policy so that the same code runs as one warp of 32 lanes in the
// kernels (WarpLanes, platforms/cuda/kernels_misc.cu) and as a single lane on the CPU
// (HostLanes below), where tests/cuda checks it against kernels::route and attention_ref.
//
// A Lanes policy has: lane() (0 .. kN-1), sum(x) / max(x) over all lanes (every lane gets the
// result), argmax(value, index) merging every lane's candidate by better() below, and sync()
// (the lanes' shared-memory writes become visible to each other). Loops stride by kN; a value
// that one lane must write (lane 0) is followed by sync().
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda/arith.h"
#include "kernels/attention.h"
#include "kernels/router.h"

namespace mote::cuda {

// One lane that is every lane (the CPU).
struct HostLanes {
  static constexpr int kN = 1;
  int lane() const { return 0; }
  float sum(float x) const { return x; }
  float max(float x) const { return x; }
  void argmax(float&, int&) const {}
  void sync() const {}
};

// Whether candidate (bv, bi) beats (av, ai) in the router's top-k: bi < 0 means none; the larger
// value wins, the lower index on ties (values are never NaN: NaN marks a taken entry).
MOTE_HD bool better(float av, int ai, float bv, int bi) {
  if (bi < 0) return false;
  if (ai < 0) return true;
  return bv > av || (bv == av && bi < ai);
}

// The largest value of v[0..n) not taken (NaN), lowest index on ties; index -1 if none.
template <class Lanes>
MOTE_HD void argmax_untaken(const Lanes& l, const float* v, int n, float* best_v, int* best_i) {
  float bv = 0.0f;
  int bi = -1;
  for (int i = l.lane(); i < n; i += Lanes::kN) {
    const float x = v[i];
    if (x != x) continue;
    if (better(bv, bi, x, i)) {
      bv = x;
      bi = i;
    }
  }
  l.argmax(bv, bi);
  *best_v = bv;
  *best_i = bi;
}

// Serial softmax of n values in place (router.cpp softmax_scores, same order).
MOTE_HD void softmax_serial(float* v, int n) {
  float max = v[0];
  for (int i = 1; i < n; ++i) max = fmaxf(max, v[i]);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    v[i] = expf(v[i] - max);
    sum += v[i];
  }
  for (int i = 0; i < n; ++i) v[i] /= sum;
}

// One token's routing (kernels::route): scratch scores[E], choice[E], groups[n_group] shared by
// the lanes; idx[top_k], weights[top_k] written by lane 0. Sums over experts are lane-parallel
// (their order differs from the CPU's, so weights may differ in the last bits).
template <class Lanes>
MOTE_HD void route_token(const Lanes& l, const kernels::RouterParams& p, const float* logits, const float* bias,
                         float* scores, float* choice, float* groups, int32_t* idx, float* weights) {
  const int E = int(p.n_experts), K = int(p.top_k), G = int(p.n_group);
  const int lane = l.lane(), N = Lanes::kN;
  if (p.scoring == ScoringFunc::kSoftmaxTopk) {
    for (int e = lane; e < E; e += N) scores[e] = bias ? logits[e] + bias[e] : logits[e];
    l.sync();
    for (int k = 0; k < K; ++k) {
      float bv;
      int bi;
      argmax_untaken(l, scores, E, &bv, &bi);
      if (bi < 0) bi = 0;
      if (lane == 0) {
        idx[k] = bi;
        weights[k] = scores[bi];
        scores[bi] = NAN;
      }
      l.sync();
    }
    if (lane == 0) softmax_serial(weights, K);
    l.sync();
    return;
  }
  if (p.scoring == ScoringFunc::kSoftmax) {
    float m = -INFINITY;
    for (int e = lane; e < E; e += N) m = fmaxf(m, logits[e]);
    m = l.max(m);
    float s = 0.0f;
    for (int e = lane; e < E; e += N) {
      scores[e] = expf(logits[e] - m);
      s += scores[e];
    }
    s = l.sum(s);
    for (int e = lane; e < E; e += N) scores[e] /= s;
  } else {
    for (int e = lane; e < E; e += N) scores[e] = 1.0f / (1.0f + expf(-logits[e]));
  }
  for (int e = lane; e < E; e += N) choice[e] = bias ? scores[e] + bias[e] : scores[e];
  l.sync();
  if (p.method != TopkMethod::kGreedy && G > 1) {
    const int per = E / G;
    for (int g = lane; g < G; g += N) {
      const float* c = choice + g * per;
      if (p.method == TopkMethod::kNoauxTc) {
        float top1 = -INFINITY, top2 = -INFINITY;
        for (int i = 0; i < per; ++i) {
          if (c[i] > top1) {
            top2 = top1;
            top1 = c[i];
          } else if (c[i] > top2) {
            top2 = c[i];
          }
        }
        groups[g] = top1 + top2;
      } else {
        float m = c[0];
        for (int i = 1; i < per; ++i) m = fmaxf(m, c[i]);
        groups[g] = m;
      }
    }
    l.sync();
    if (lane == 0) {
      for (int k = 0; k < int(p.topk_group); ++k) {
        int bi = -1;
        for (int g = 0; g < G; ++g)
          if (groups[g] == groups[g] && (bi < 0 || groups[g] > groups[bi])) bi = g;
        if (bi >= 0) groups[bi] = NAN;
      }
    }
    l.sync();
    for (int e = lane; e < E; e += N)
      if (groups[e / per] == groups[e / per]) choice[e] = -INFINITY;
    l.sync();
  }
  float sum = 0.0f;
  for (int k = 0; k < K; ++k) {
    float bv;
    int bi;
    argmax_untaken(l, choice, E, &bv, &bi);
    if (bi < 0) bi = 0;
    sum += scores[bi];
    l.sync();  // every lane has read choice before lane 0 marks the winner
    if (lane == 0) {
      choice[bi] = NAN;
      idx[k] = bi;
      weights[k] = scores[bi];
    }
    l.sync();
  }
  if (lane == 0) {
    const float denominator = p.norm_topk_prob ? sum + 1e-20f : 1.0f;
    for (int k = 0; k < K; ++k) weights[k] = weights[k] / denominator * p.routed_scaling_factor;
  }
  l.sync();
}

// ---- attention ----

MOTE_HD int64_t attn_row(const kernels::AttentionArgs& a, int64_t p) { return a.ring_rows > 0 ? p % a.ring_rows : p; }

MOTE_HD float attn_key(const kernels::AttentionArgs& a, int64_t row, int64_t g, int64_t i) {
  if (a.kv_type == KvType::kF32) return a.k[row * a.k_row_stride + g * a.k_head_stride + i];
  return kv_value(int(a.kv_type), a.k_bytes + row * a.k_row_bytes + g * a.k_head_bytes, i);
}

MOTE_HD float attn_value(const kernels::AttentionArgs& a, int64_t row, int64_t g, int64_t i) {
  if (a.kv_type == KvType::kF32) return a.v[row * a.v_row_stride + g * a.v_head_stride + i];
  return kv_value(int(a.kv_type), a.v_bytes + row * a.v_row_bytes + g * a.v_head_bytes, i);
}

// Value dims each lane accumulates per pass over the keys (wider values take more passes).
constexpr int kAttnDvPerLane = 16;

// Floats of one partial result: max, exp sum, then dv accumulator floats.
MOTE_HD int64_t attn_part_floats(int64_t dv) { return dv + 2; }

// Split `split` of n_splits of the keys lo .. pos of token t, query head h: an online softmax
// (streaming max m, sum l, accumulator acc = sum exp(s - m) V) written to part[0] = m,
// part[1] = l, part[2 + d] = acc[d]. An empty split writes m = -inf, l = 0, acc = 0.
// q_buf: dk floats shared by the lanes (the query is gathered there first).
template <class Lanes>
MOTE_HD void attention_partial(const Lanes& l, const kernels::AttentionArgs& a, int64_t t, int64_t h, int64_t split,
                               int64_t n_splits, float* q_buf, float* part) {
  const int lane = l.lane(), N = Lanes::kN;
  const int64_t pos = a.start + t;
  const int64_t lo = a.window > 0 ? (pos - a.window + 1 > 0 ? pos - a.window + 1 : 0) : 0;
  const int64_t n_keys = pos - lo + 1;
  const int64_t chunk = (n_keys + n_splits - 1) / n_splits;
  const int64_t p0 = lo + split * chunk;
  const int64_t p1 = p0 + chunk < pos + 1 ? p0 + chunk : pos + 1;
  const int64_t g = h / (a.n_heads / a.n_kv_heads);
  for (int64_t i = lane; i < a.dk; i += N) {
    const bool second = a.q2 != nullptr && i >= a.dk_a;
    q_buf[i] = second ? a.q2[t * a.q2_token_stride + h * a.q2_head_stride + i - a.dk_a]
                      : a.q[t * a.q_token_stride + h * a.q_head_stride + i];
  }
  l.sync();
  const int64_t width = int64_t(N) * kAttnDvPerLane;
  float m = -INFINITY, sum = 0.0f;
  for (int64_t d0 = 0; d0 < a.dv; d0 += width) {
    float acc[kAttnDvPerLane];
    for (int j = 0; j < kAttnDvPerLane; ++j) acc[j] = 0.0f;
    m = -INFINITY;
    sum = 0.0f;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t row = attn_row(a, p);
      float s = 0.0f;
      for (int64_t i = lane; i < a.dk; i += N) s += q_buf[i] * attn_key(a, row, g, i);
      s = l.sum(s) * a.scale;
      const float m_new = fmaxf(m, s);
      const float c = expf(m - m_new);  // 0 on the first key (m = -inf)
      const float e = expf(s - m_new);
      sum = sum * c + e;
      MOTE_UNROLL
      for (int j = 0; j < kAttnDvPerLane; ++j) {
        const int64_t d = d0 + lane + int64_t(N) * j;
        if (d < a.dv) acc[j] = acc[j] * c + e * attn_value(a, row, g, d);
      }
      m = m_new;
    }
    MOTE_UNROLL
    for (int j = 0; j < kAttnDvPerLane; ++j) {
      const int64_t d = d0 + lane + int64_t(N) * j;
      if (d < a.dv) part[2 + d] = acc[j];
    }
  }
  if (lane == 0) {
    part[0] = m;
    part[1] = sum;
  }
}

// Output dim d of token t, head h from the n_splits partial results parts[s * part_stride ..]:
// out = sum_s exp(m_s - M) acc_s[d] / (sum_s exp(m_s - M) l_s + exp(sink - M)), M = max(m_s, sink).
MOTE_HD float attention_merge(const float* parts, int64_t n_splits, int64_t part_stride, const float* sink, int64_t d) {
  float M = sink != nullptr ? *sink : -INFINITY;
  for (int64_t s = 0; s < n_splits; ++s) M = fmaxf(M, parts[s * part_stride]);
  float total = sink != nullptr ? expf(*sink - M) : 0.0f, acc = 0.0f;
  for (int64_t s = 0; s < n_splits; ++s) {
    const float* p = parts + s * part_stride;
    const float f = p[1] > 0.0f ? expf(p[0] - M) : 0.0f;  // an empty split has l = 0, m = -inf
    total += f * p[1];
    acc += f * p[2 + d];
  }
  return acc / total;
}

}  // namespace mote::cuda
