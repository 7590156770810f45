// The attention range kernel written once over a small vector interface V, instantiated by each
// ISA file (attention_avx2.cpp, attention_avx512.cpp, attention_neon.cpp) inside its target
// region and anonymous namespace, after attention_isa.h and a struct V:
//   V::T (vector of V::W floats), zero, set1, load, store (unaligned), add, mul, max,
//   fma(a, b, c) = a * b + c, hsum, hmax, round (to nearest integer), pow2i(n) = 2^n for
//   integer-valued n in [-127, 127] (2^-127 gives 0), load_f16(p) (W IEEE halves at byte
//   pointer p, widened exactly), load_i8(p) (W int8 at p, converted to float).
// It uses no std templates (they would be instantiated with this region's target flags and
// could be shared, as COMDATs, with generic code), only builtins.
//
// Work of one call: token t, heads [h0, h0 + nh) of one kv head, keys [k0, k1). Per segment of
// kAttnSeg keys: scores for every head (register tiles of 2 heads x 4 keys: each key row is
// loaded once per 2 heads and stays in L1 for the rest of the block), the segment max, one
// rescale of each head's accumulator when the max grows, then acc += p V (tiles of 2 heads x 4
// keys: each value row is read once per 2 heads). Each head's arithmetic is the same whatever
// the block, so head blocking does not change the result.
//
// Ring buffers (a.ring_rows > 0) only change which row a position's key and value are read from.
// Typed rows (a.kv_type != kF32, attn_range_typed) are decoded exactly (f16 widened, q8_0
// d * float(q): the same floats as kv_value) and then go through the f32 kernel's arithmetic, so
// the result equals the f32 kernel's on the decoded rows bit for bit (tested). Two strategies:
//   - blocks of one head (GQA group 1, e.g. OLMoE): rows are decoded in registers inside the
//     tiles (score_tile_l / pv_tile_l; q8_0 with one scale load per block and key);
//   - larger blocks (GQA groups, MLA's up to 32 heads per block): per tile of 4 keys, the keys are
//     decoded once into a stack buffer and scored by the same score_tile for every head pair;
//     likewise values for pv_tile. So decoding is paid once per head block, not per head pair.
// (Register decoding with 2-head tiles gave results a few ulp off the f32 kernel's: the compiler
// contracts the scalar tails differently; hence the 1-head limit, kTypedDirectHeads.)
// Measured (samples/bench/attention_bench.cpp, 16-core Xeon, avx512, all threads, 4096 keys):
// OLMoE widths f32 684 us, f16 469 us, q8_0 420 us; DeepSeek-V3 MLA (128 heads) f32 2.38 ms,
// f16 1.69 ms, q8_0 1.65 ms.

// exp(x) for x <= 88: Cephes-style range reduction x = n ln2 + r, |r| <= ln2 / 2, a degree-7
// polynomial (about 1 ulp), times 2^n. x < -87.7 (and -inf) gives 0.
template <class V>
inline typename V::T vexp(typename V::T x) {
  using T = typename V::T;
  x = V::max(x, V::set1(-88.0f));
  const T n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  T r = V::fma(n, V::set1(-0.693359375f), x);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  T p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  return V::mul(p, V::pow2i(n));
}

template <class V>
inline float sexp(float x) {
  float out[V::W];
  V::store(out, vexp<V>(V::set1(x)));
  return out[0];
}

// s[qi * s_stride + kj] = scale * (q[qi] . key[kj]) for NQ queries and NK keys; the query is in
// two pieces (qa: dims [0, na), qb: dims [na, na + nb), qb ignored when nb = 0).
template <class V, int NQ, int NK>
inline void score_tile(const float* const* qa, const float* const* qb, int64_t na, int64_t nb, const float* const* key,
                       float scale, float* s, int64_t s_stride) {
  using T = typename V::T;
  constexpr int W = V::W;
  T acc[NQ][NK];
  float tail[NQ][NK];
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) {
      acc[i][j] = V::zero();
      tail[i][j] = 0.0f;
    }
  for (int piece = 0; piece < 2; ++piece) {
    const int64_t n = piece == 0 ? na : nb, off = piece == 0 ? 0 : na;
    const float* const* q = piece == 0 ? qa : qb;
    int64_t d = 0;
    for (; d + W <= n; d += W) {
      T kv[NK];
      for (int j = 0; j < NK; ++j) kv[j] = V::load(key[j] + off + d);
      for (int i = 0; i < NQ; ++i) {
        const T qv = V::load(q[i] + d);
        for (int j = 0; j < NK; ++j) acc[i][j] = V::fma(qv, kv[j], acc[i][j]);
      }
    }
    for (; d < n; ++d)
      for (int i = 0; i < NQ; ++i)
        for (int j = 0; j < NK; ++j) tail[i][j] += q[i][d] * key[j][off + d];
  }
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) s[i * s_stride + j] = (V::hsum(acc[i][j]) + tail[i][j]) * scale;
}

// acc[i] += sum_j p[i * p_stride + j] * val[j] (dv floats) for NQ heads and NK value rows, in
// key order.
template <class V, int NQ, int NK>
inline void pv_tile(const float* p, int64_t p_stride, const float* const* val, int64_t dv, float* const* acc) {
  using T = typename V::T;
  constexpr int W = V::W;
  T w[NQ][NK];
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) w[i][j] = V::set1(p[i * p_stride + j]);
  int64_t d = 0;
  for (; d + W <= dv; d += W) {
    T vv[NK];
    for (int j = 0; j < NK; ++j) vv[j] = V::load(val[j] + d);
    for (int i = 0; i < NQ; ++i) {
      T a = V::load(acc[i] + d);
      for (int j = 0; j < NK; ++j) a = V::fma(w[i][j], vv[j], a);
      V::store(acc[i] + d, a);
    }
  }
  for (; d < dv; ++d)
    for (int i = 0; i < NQ; ++i) {
      float a = acc[i][d];
      for (int j = 0; j < NK; ++j) a += p[i * p_stride + j] * val[j][d];
      acc[i][d] = a;
    }
}

// The row holding position p.
inline int64_t kv_row(const kernels::AttentionArgs& a, int64_t p) { return a.ring_rows > 0 ? p % a.ring_rows : p; }

// Scores of keys [s0, s0 + n) for NQ heads into s [NQ, kAttnSeg].
template <class V, int NQ>
inline void score_rows(const kernels::AttentionArgs& a, const float* const* qa, const float* const* qb, int64_t na,
                       int64_t nb, const float* kbase, int64_t s0, int64_t n, float* s) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* key[4];
    for (int x = 0; x < 4; ++x) key[x] = kbase + kv_row(a, s0 + j + x) * a.k_row_stride;
    score_tile<V, NQ, 4>(qa, qb, na, nb, key, a.scale, s + j, kAttnSeg);
  }
  for (; j < n; ++j) {
    const float* key[1] = {kbase + kv_row(a, s0 + j) * a.k_row_stride};
    score_tile<V, NQ, 1>(qa, qb, na, nb, key, a.scale, s + j, kAttnSeg);
  }
}

// acc[i] += p[i] V for the values of keys [s0, s0 + n) and NQ heads (p: [NQ, kAttnSeg]).
template <class V, int NQ>
inline void pv_rows(const kernels::AttentionArgs& a, const float* vbase, int64_t s0, int64_t n, const float* p,
                    float* const* acc) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* val[4];
    for (int x = 0; x < 4; ++x) val[x] = vbase + kv_row(a, s0 + j + x) * a.v_row_stride;
    pv_tile<V, NQ, 4>(p + j, kAttnSeg, val, a.dv, acc);
  }
  for (; j < n; ++j) {
    const float* val[1] = {vbase + kv_row(a, s0 + j) * a.v_row_stride};
    pv_tile<V, NQ, 1>(p + j, kAttnSeg, val, a.dv, acc);
  }
}

// Turns row s [n valid scores; padded here with -inf to a multiple of W] into exp(s - m_new)
// and updates (m, l, acc row [dv]) of one head.
template <class V>
inline void softmax_update(float* s, int64_t n, float* m, float* l, float* acc, int64_t dv) {
  using T = typename V::T;
  constexpr int W = V::W;
  const int64_t padded = (n + W - 1) / W * W;
  for (int64_t j = n; j < padded; ++j) s[j] = -__builtin_inff();
  T mx = V::set1(-__builtin_inff());
  for (int64_t j = 0; j < padded; j += W) mx = V::max(mx, V::load(s + j));
  const float seg_max = V::hmax(mx);
  const float m_new = *m > seg_max ? *m : seg_max;
  const T neg_m = V::set1(-m_new);
  T sum = V::zero();
  for (int64_t j = 0; j < padded; j += W) {
    const T p = vexp<V>(V::add(V::load(s + j), neg_m));
    V::store(s + j, p);
    sum = V::add(sum, p);
  }
  // The first segment: m = -inf, c = exp(-inf) = 0 and acc is still zero.
  const float c = sexp<V>(*m - m_new);
  if (c != 1.0f) {
    const T cv = V::set1(c);
    int64_t d = 0;
    for (; d + W <= dv; d += W) V::store(acc + d, V::mul(V::load(acc + d), cv));
    for (; d < dv; ++d) acc[d] *= c;
  }
  *l = *l * c + V::hsum(sum);
  *m = m_new;
}

template <class V>
void attn_range_impl(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                     float* acc, int64_t acc_stride, float* m, float* l) {
  alignas(64) float s[kAttnScoreFloats];  // [nh, kAttnSeg]
  const int64_t g = h0 / (a.n_heads / a.n_kv_heads);
  const float* kbase = a.k + g * a.k_head_stride;
  const float* vbase = a.v + g * a.v_head_stride;
  const int64_t na = a.q2 != nullptr ? a.dk_a : a.dk, nb = a.dk - na;
  for (int64_t i = 0; i < nh; ++i) {
    m[i] = -__builtin_inff();
    l[i] = 0.0f;
    for (int64_t d = 0; d < a.dv; ++d) acc[i * acc_stride + d] = 0.0f;
  }
  for (int64_t s0 = k0; s0 < k1; s0 += kAttnSeg) {
    const int64_t n = k1 - s0 < kAttnSeg ? k1 - s0 : kAttnSeg;
    for (int64_t i = 0; i < nh; i += 2) {
      const int nq = nh - i >= 2 ? 2 : 1;
      const float* qa[2] = {nullptr, nullptr};
      const float* qb[2] = {nullptr, nullptr};
      for (int x = 0; x < nq; ++x) {
        const int64_t h = h0 + i + x;
        qa[x] = a.q + t * a.q_token_stride + h * a.q_head_stride;
        qb[x] = a.q2 != nullptr ? a.q2 + t * a.q2_token_stride + h * a.q2_head_stride : nullptr;
      }
      if (nq == 2)
        score_rows<V, 2>(a, qa, qb, na, nb, kbase, s0, n, s + i * kAttnSeg);
      else
        score_rows<V, 1>(a, qa, qb, na, nb, kbase, s0, n, s + i * kAttnSeg);
    }
    for (int64_t i = 0; i < nh; ++i)
      softmax_update<V>(s + i * kAttnSeg, n, m + i, l + i, acc + i * acc_stride, a.dv);
    for (int64_t i = 0; i < nh; i += 2) {
      float* rows[2] = {acc + i * acc_stride, acc + (i + 1) * acc_stride};
      if (nh - i >= 2)
        pv_rows<V, 2>(a, vbase, s0, n, s + i * kAttnSeg, rows);
      else
        pv_rows<V, 1>(a, vbase, s0, n, s + i * kAttnSeg, rows);
    }
  }
}


// ---- typed rows ----

// Floats per decoded row in the typed buffers: kAttentionMaxTypedWidth plus room for the last
// vector (decoding writes whole vectors).
constexpr int64_t kTypedRowFloats = kernels::kAttentionMaxTypedWidth + 16;

// dst[0, n) = values [0, n) of a piece stored as `type` (kF16 or kQ8_0); dst has room for n
// rounded up to W. Scalar-free: the f16 tail goes through a zero-padded copy, and q8_0 blocks
// are 32 values (a multiple of W) with zero padding, so whole vectors stay inside the piece.
template <class V>
inline void decode_piece(KvType type, const uint8_t* piece, int64_t n, float* dst) {
  constexpr int W = V::W;
  if (type == KvType::kF16) {
    int64_t i = 0;
    for (; i + W <= n; i += W) V::store(dst + i, V::load_f16(piece + 2 * i));
    if (i < n) {
      uint8_t tail[2 * W];
      for (int64_t b = 0; b < 2 * W; ++b) tail[b] = b < 2 * (n - i) ? piece[2 * i + b] : 0;
      V::store(dst + i, V::load_f16(tail));
    }
    return;
  }
  for (int64_t b = 0; b * kKvQ8Block < n; ++b) {
    const uint8_t* block = piece + b * kKvQ8BlockBytes;
    float d;
    __builtin_memcpy(&d, block, 4);
    const typename V::T dv = V::set1(d);
    const int64_t first = b * kKvQ8Block, len = n - first < kKvQ8Block ? n - first : kKvQ8Block;
    for (int64_t i = 0; i < len; i += W) V::store(dst + first + i, V::mul(V::load_i8(block + 4 + i), dv));
  }
}

// ---- typed rows read in registers (few heads per kv head: nothing to share a decoded tile with) ----

// IEEE half bits to float, exact (subnormals normalised). Local (internal linkage) so that no
// inline function of a generic header is compiled with this region's target flags.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0 && mant == 0) {
    bits = sign;
  } else if (exp == 0) {
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400u) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// Value loaders of a piece (byte pointer p): load(p, i) = values [i, i + W), at(p, i) = value i.
template <class V>
struct LoadF16 {
  static constexpr bool kQ8 = false;
  static typename V::T load(const uint8_t* p, int64_t i) { return V::load_f16(p + 2 * i); }
  static float at(const uint8_t* p, int64_t i) {
    uint16_t h;
    __builtin_memcpy(&h, p + 2 * i, 2);
    return half_to_float(h);
  }
};

template <class V>
struct LoadQ8 {
  static constexpr bool kQ8 = true;
  static float at(const uint8_t* p, int64_t i) {
    const uint8_t* block = p + (i >> 5) * kKvQ8BlockBytes;
    float d;
    __builtin_memcpy(&d, block, 4);
    return d * float(int8_t(block[4 + (i & 31)]));
  }
  static typename V::T load(const uint8_t* p, int64_t i) {
    const int64_t r = i & 31;
    if (r + V::W > kKvQ8Block) {  // crosses a block (a query piece starting off the vector grid)
      alignas(64) float tmp[V::W];
      for (int x = 0; x < V::W; ++x) tmp[x] = at(p, i + x);
      return V::load(tmp);
    }
    const uint8_t* block = p + (i >> 5) * kKvQ8BlockBytes;
    float d;
    __builtin_memcpy(&d, block, 4);
    return V::mul(V::load_i8(block + 4 + r), V::set1(d));
  }
};

// score_tile and pv_tile on typed pieces: the same operations on the decoded values.
template <class V, class L, int NQ, int NK>
inline void score_tile_l(const float* const* qa, const float* const* qb, int64_t na, int64_t nb,
                         const uint8_t* const* key, float scale, float* s, int64_t s_stride) {
  using T = typename V::T;
  constexpr int W = V::W;
  T acc[NQ][NK];
  float tail[NQ][NK];
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) {
      acc[i][j] = V::zero();
      tail[i][j] = 0.0f;
    }
  for (int piece = 0; piece < 2; ++piece) {
    const int64_t n = piece == 0 ? na : nb, off = piece == 0 ? 0 : na;
    const float* const* q = piece == 0 ? qa : qb;
    int64_t d = 0;
    if constexpr (L::kQ8) {
      // Whole blocks: each key's scale loaded once per block (the same products as L::load).
      if (off % kKvQ8Block == 0)
        for (; d + kKvQ8Block <= n; d += kKvQ8Block) {
          T dk[NK];
          const uint8_t* kq[NK];
          for (int j = 0; j < NK; ++j) {
            const uint8_t* block = key[j] + (off + d) / kKvQ8Block * kKvQ8BlockBytes;
            float sc;
            __builtin_memcpy(&sc, block, 4);
            dk[j] = V::set1(sc);
            kq[j] = block + 4;
          }
          for (int r = 0; r < kKvQ8Block; r += W) {
            T kv[NK];
            for (int j = 0; j < NK; ++j) kv[j] = V::mul(V::load_i8(kq[j] + r), dk[j]);
            for (int i = 0; i < NQ; ++i) {
              const T qv = V::load(q[i] + d + r);
              for (int j = 0; j < NK; ++j) acc[i][j] = V::fma(qv, kv[j], acc[i][j]);
            }
          }
        }
    }
    for (; d + W <= n; d += W) {
      T kv[NK];
      for (int j = 0; j < NK; ++j) kv[j] = L::load(key[j], off + d);
      for (int i = 0; i < NQ; ++i) {
        const T qv = V::load(q[i] + d);
        for (int j = 0; j < NK; ++j) acc[i][j] = V::fma(qv, kv[j], acc[i][j]);
      }
    }
    for (; d < n; ++d)
      for (int i = 0; i < NQ; ++i)
        for (int j = 0; j < NK; ++j) tail[i][j] += q[i][d] * L::at(key[j], off + d);
  }
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) s[i * s_stride + j] = (V::hsum(acc[i][j]) + tail[i][j]) * scale;
}

template <class V, class L, int NQ, int NK>
inline void pv_tile_l(const float* p, int64_t p_stride, const uint8_t* const* val, int64_t dv, float* const* acc) {
  using T = typename V::T;
  constexpr int W = V::W;
  T w[NQ][NK];
  for (int i = 0; i < NQ; ++i)
    for (int j = 0; j < NK; ++j) w[i][j] = V::set1(p[i * p_stride + j]);
  int64_t d = 0;
  if constexpr (L::kQ8) {
    for (; d + kKvQ8Block <= dv; d += kKvQ8Block) {
      T dq[NK];
      const uint8_t* vq[NK];
      for (int j = 0; j < NK; ++j) {
        const uint8_t* block = val[j] + d / kKvQ8Block * kKvQ8BlockBytes;
        float sc;
        __builtin_memcpy(&sc, block, 4);
        dq[j] = V::set1(sc);
        vq[j] = block + 4;
      }
      for (int r = 0; r < kKvQ8Block; r += W) {
        T vv[NK];
        for (int j = 0; j < NK; ++j) vv[j] = V::mul(V::load_i8(vq[j] + r), dq[j]);
        for (int i = 0; i < NQ; ++i) {
          T a = V::load(acc[i] + d + r);
          for (int j = 0; j < NK; ++j) a = V::fma(w[i][j], vv[j], a);
          V::store(acc[i] + d + r, a);
        }
      }
    }
  }
  for (; d + W <= dv; d += W) {
    T vv[NK];
    for (int j = 0; j < NK; ++j) vv[j] = L::load(val[j], d);
    for (int i = 0; i < NQ; ++i) {
      T a = V::load(acc[i] + d);
      for (int j = 0; j < NK; ++j) a = V::fma(w[i][j], vv[j], a);
      V::store(acc[i] + d, a);
    }
  }
  for (; d < dv; ++d)
    for (int i = 0; i < NQ; ++i) {
      float a = acc[i][d];
      for (int j = 0; j < NK; ++j) a += p[i * p_stride + j] * L::at(val[j], d);
      acc[i][d] = a;
    }
}

// attn_range_impl over typed pieces read in registers.
template <class V, class L>
void attn_range_typed_direct(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0,
                             int64_t k1, float* acc, int64_t acc_stride, float* m, float* l) {
  alignas(64) float s[kAttnScoreFloats];  // [nh, kAttnSeg]
  const int64_t g = h0 / (a.n_heads / a.n_kv_heads);
  const uint8_t* kbase = a.k_bytes + g * a.k_head_bytes;
  const uint8_t* vbase = a.v_bytes + g * a.v_head_bytes;
  const int64_t na = a.q2 != nullptr ? a.dk_a : a.dk, nb = a.dk - na;
  for (int64_t i = 0; i < nh; ++i) {
    m[i] = -__builtin_inff();
    l[i] = 0.0f;
    for (int64_t d = 0; d < a.dv; ++d) acc[i * acc_stride + d] = 0.0f;
  }
  for (int64_t s0 = k0; s0 < k1; s0 += kAttnSeg) {
    const int64_t n = k1 - s0 < kAttnSeg ? k1 - s0 : kAttnSeg;
    for (int64_t i = 0; i < nh; i += 2) {
      const int nq = nh - i >= 2 ? 2 : 1;
      const float* qa[2] = {nullptr, nullptr};
      const float* qb[2] = {nullptr, nullptr};
      for (int x = 0; x < nq; ++x) {
        const int64_t h = h0 + i + x;
        qa[x] = a.q + t * a.q_token_stride + h * a.q_head_stride;
        qb[x] = a.q2 != nullptr ? a.q2 + t * a.q2_token_stride + h * a.q2_head_stride : nullptr;
      }
      float* si = s + i * kAttnSeg;
      int64_t j = 0;
      for (; j + 4 <= n; j += 4) {
        const uint8_t* key[4];
        for (int x = 0; x < 4; ++x) key[x] = kbase + kv_row(a, s0 + j + x) * a.k_row_bytes;
        nq == 2 ? score_tile_l<V, L, 2, 4>(qa, qb, na, nb, key, a.scale, si + j, kAttnSeg)
                : score_tile_l<V, L, 1, 4>(qa, qb, na, nb, key, a.scale, si + j, kAttnSeg);
      }
      for (; j < n; ++j) {
        const uint8_t* key[1] = {kbase + kv_row(a, s0 + j) * a.k_row_bytes};
        nq == 2 ? score_tile_l<V, L, 2, 1>(qa, qb, na, nb, key, a.scale, si + j, kAttnSeg)
                : score_tile_l<V, L, 1, 1>(qa, qb, na, nb, key, a.scale, si + j, kAttnSeg);
      }
    }
    for (int64_t i = 0; i < nh; ++i)
      softmax_update<V>(s + i * kAttnSeg, n, m + i, l + i, acc + i * acc_stride, a.dv);
    for (int64_t i = 0; i < nh; i += 2) {
      float* rows[2] = {acc + i * acc_stride, acc + (i + 1) * acc_stride};
      const bool two = nh - i >= 2;
      const float* p = s + i * kAttnSeg;
      int64_t j = 0;
      for (; j + 4 <= n; j += 4) {
        const uint8_t* val[4];
        for (int x = 0; x < 4; ++x) val[x] = vbase + kv_row(a, s0 + j + x) * a.v_row_bytes;
        two ? pv_tile_l<V, L, 2, 4>(p + j, kAttnSeg, val, a.dv, rows)
            : pv_tile_l<V, L, 1, 4>(p + j, kAttnSeg, val, a.dv, rows);
      }
      for (; j < n; ++j) {
        const uint8_t* val[1] = {vbase + kv_row(a, s0 + j) * a.v_row_bytes};
        two ? pv_tile_l<V, L, 2, 1>(p + j, kAttnSeg, val, a.dv, rows)
            : pv_tile_l<V, L, 1, 1>(p + j, kAttnSeg, val, a.dv, rows);
      }
    }
  }
}

// The typed range kernel: registers for blocks of up to kTypedDirectHeads heads, else decoded
// tiles shared by the block's heads (measured: samples/bench/attention_bench.cpp).
constexpr int64_t kTypedDirectHeads = 1;

template <class V>
void attn_range_typed_tiles(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0,
                            int64_t k1, float* acc, int64_t acc_stride, float* m, float* l);

template <class V>
void attn_range_typed(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                      float* acc, int64_t acc_stride, float* m, float* l) {
  if (nh > kTypedDirectHeads) return attn_range_typed_tiles<V>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
  if (a.kv_type == KvType::kF16)
    attn_range_typed_direct<V, LoadF16<V>>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
  else
    attn_range_typed_direct<V, LoadQ8<V>>(a, t, h0, nh, k0, k1, acc, acc_stride, m, l);
}

template <class V>
void attn_range_typed_tiles(const kernels::AttentionArgs& a, int64_t t, int64_t h0, int64_t nh, int64_t k0, int64_t k1,
                      float* acc, int64_t acc_stride, float* m, float* l) {
  alignas(64) float s[kAttnScoreFloats];        // [nh, kAttnSeg]
  alignas(64) float buf[4 * kTypedRowFloats];  // 4 decoded keys or values
  const int64_t g = h0 / (a.n_heads / a.n_kv_heads);
  const uint8_t* kbase = a.k_bytes + g * a.k_head_bytes;
  const uint8_t* vbase = a.v_bytes + g * a.v_head_bytes;
  const int64_t na = a.q2 != nullptr ? a.dk_a : a.dk, nb = a.dk - na;
  const float* qa[kAttnScoreFloats / kAttnSeg];
  const float* qb[kAttnScoreFloats / kAttnSeg];
  for (int64_t i = 0; i < nh; ++i) {
    m[i] = -__builtin_inff();
    l[i] = 0.0f;
    for (int64_t d = 0; d < a.dv; ++d) acc[i * acc_stride + d] = 0.0f;
    qa[i] = a.q + t * a.q_token_stride + (h0 + i) * a.q_head_stride;
    qb[i] = a.q2 != nullptr ? a.q2 + t * a.q2_token_stride + (h0 + i) * a.q2_head_stride : nullptr;
  }
  const float* rows[4] = {buf, buf + kTypedRowFloats, buf + 2 * kTypedRowFloats, buf + 3 * kTypedRowFloats};
  for (int64_t s0 = k0; s0 < k1; s0 += kAttnSeg) {
    const int64_t n = k1 - s0 < kAttnSeg ? k1 - s0 : kAttnSeg;
    for (int64_t j = 0; j < n;) {
      const int nk = n - j >= 4 ? 4 : 1;
      for (int x = 0; x < nk; ++x)
        decode_piece<V>(a.kv_type, kbase + kv_row(a, s0 + j + x) * a.k_row_bytes, a.dk,
                        buf + x * kTypedRowFloats);
      for (int64_t i = 0; i < nh; i += 2) {
        float* si = s + i * kAttnSeg + j;
        if (nh - i >= 2)
          nk == 4 ? score_tile<V, 2, 4>(qa + i, qb + i, na, nb, rows, a.scale, si, kAttnSeg)
                  : score_tile<V, 2, 1>(qa + i, qb + i, na, nb, rows, a.scale, si, kAttnSeg);
        else
          nk == 4 ? score_tile<V, 1, 4>(qa + i, qb + i, na, nb, rows, a.scale, si, kAttnSeg)
                  : score_tile<V, 1, 1>(qa + i, qb + i, na, nb, rows, a.scale, si, kAttnSeg);
      }
      j += nk;
    }
    for (int64_t i = 0; i < nh; ++i)
      softmax_update<V>(s + i * kAttnSeg, n, m + i, l + i, acc + i * acc_stride, a.dv);
    for (int64_t j = 0; j < n;) {
      const int nk = n - j >= 4 ? 4 : 1;
      for (int x = 0; x < nk; ++x)
        decode_piece<V>(a.kv_type, vbase + kv_row(a, s0 + j + x) * a.v_row_bytes, a.dv,
                        buf + x * kTypedRowFloats);
      for (int64_t i = 0; i < nh; i += 2) {
        float* out[2] = {acc + i * acc_stride, acc + (i + 1) * acc_stride};
        const float* p = s + i * kAttnSeg + j;
        if (nh - i >= 2)
          nk == 4 ? pv_tile<V, 2, 4>(p, kAttnSeg, rows, a.dv, out) : pv_tile<V, 2, 1>(p, kAttnSeg, rows, a.dv, out);
        else
          nk == 4 ? pv_tile<V, 1, 4>(p, kAttnSeg, rows, a.dv, out) : pv_tile<V, 1, 1>(p, kAttnSeg, rows, a.dv, out);
      }
      j += nk;
    }
  }
}
