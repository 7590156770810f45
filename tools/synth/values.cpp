#include "values.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mote::synth {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr float kSqrt3 = 1.7320508f;
constexpr uint64_t kFp8Block = 128;

// Uniform in [-1, 1) from 24 high bits of the hash.
inline float unit(uint64_t h) { return float(h >> 40) * (2.0f / 16777216.0f) - 1.0f; }

inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);  // round to nearest even (values are finite)
  return uint16_t(u >> 16);
}

inline uint16_t to_f16(float f) {
#if defined(__aarch64__)
  __fp16 h = __fp16(f);  // g++ 12 has no C++ _Float16 on aarch64; __fp16 is IEEE binary16 there (RNE)
#else
  _Float16 h = _Float16(f);
#endif
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}

// f32 -> F8_E4M3 (bias 7, no infinities, max 448), round to nearest.
uint8_t to_e4m3(float f) {
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7E;
  if (a < 0.015625f) {  // subnormal: m * 2^-9
    const int m = int(std::lround(a * 512.0f));
    return sign | uint8_t(m);  // m == 8 is exactly the smallest normal's code
  }
  int e;
  const float fr = std::frexp(a, &e);  // a = fr * 2^e, fr in [0.5, 1)
  int m = int(std::lround((fr * 2.0f - 1.0f) * 8.0f));
  int be = e - 1 + 7;
  if (m == 8) { m = 0; ++be; }
  if (be > 15 || (be == 15 && m > 6)) return sign | 0x7E;
  return sign | uint8_t((be << 3) | m);
}

// The constant channel and router bias of --route-skew (values.h Skew), or NaN where the plain
// value applies.
float skew_value(const ValueSpec& v, uint64_t i) {
  const uint64_t col = i % v.cols;
  switch (v.skew) {
    case Skew::ConstCol0: return col == 0 ? std::sqrt(float(v.cols)) : NAN;
    case Skew::ZeroRow0: return i < v.cols ? 0.0f : NAN;
    case Skew::ZeroCol0: return col == 0 ? 0.0f : NAN;
    case Skew::EhProj:
      if (i < v.cols) return col == 0 ? std::sqrt(2.0f) : 0.0f;
      return col == 0 || col == v.cols / 2 ? 0.0f : NAN;
    case Skew::RouterCol0: {
      if (col != 0) return NAN;
      const uint64_t rank = route_rank(v.key, i / v.cols, v.rows);
      return -v.skew_s * std::log(1.0f + float(rank)) / std::sqrt(float(v.cols) * 0.5f);
    }
    default: return NAN;
  }
}

inline float real_value(const ValueSpec& v, uint64_t i) {
  if (v.skew != Skew::None) {
    const float x = skew_value(v, i);
    if (!std::isnan(x)) return x;
  }
  if (i / v.cols < v.zero_rows) return 0.0f;
  const float u = unit(splitmix64(v.key + (i + 1) * kGolden));
  if (i % v.cols < v.gain_cols) return v.gain * v.std * kSqrt3 * u;  // Linear
  switch (v.init) {
    case Init::Norm: return 1.0f + 0.1f * u;
    case Init::Bias: return 0.01f * u;
    case Init::Fp8Scale:
      return fp8_block_scale(v.key, v.std, i / v.scale_cols, i % v.scale_cols, v.scale_cols);
    default: return v.std * kSqrt3 * u;  // Linear, Embedding, Fp8Weight: uniform with std v.std
  }
}

}  // namespace

size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::F32: return 4;
    case Dtype::F8_E4M3:
    case Dtype::U8: return 1;
    default: return 2;
  }
}

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F32: return "F32";
    case Dtype::F16: return "F16";
    case Dtype::F8_E4M3: return "F8_E4M3";
    case Dtype::U8: return "U8";
    default: return "BF16";
  }
}

uint64_t splitmix64(uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t tensor_key(uint64_t seed, std::string_view name) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  return splitmix64(splitmix64(seed) ^ h);
}

uint64_t route_rank(uint64_t key, uint64_t e, uint64_t n) {
  if (n <= 1) return 0;
  uint64_t a = splitmix64(key ^ 0x5157u) % n;
  const auto gcd = [](uint64_t x, uint64_t y) { while (y) { const uint64_t t = x % y; x = y; y = t; } return x; };
  while (a == 0 || gcd(a, n) != 1) a = (a + 1) % n;  // a unit mod n: e -> a*e + b is a bijection
  const uint64_t b = splitmix64(key ^ 0xB1A5u) % n;
  return (a * (e % n) + b) % n;
}

float fp8_block_scale(uint64_t key, float std, uint64_t br, uint64_t bc, uint64_t scale_cols) {
  const float u = unit(splitmix64(~key + (br * scale_cols + bc + 1) * kGolden));
  return std / 64.0f * (1.0f + 0.25f * u);  // codes then span about +-150 of the +-448 range
}

// The per-element loop, instantiated per output type so the inner loop has no dtype switch.
template <typename Store>
void fill_loop(const ValueSpec& v, uint64_t begin, uint64_t count, Store store) {
  for (uint64_t k = 0; k < count; ++k) store(k, real_value(v, begin + k));
}

void fill_values(const ValueSpec& v, Dtype dtype, uint64_t begin, uint64_t count, uint8_t* out) {
  switch (dtype) {
    case Dtype::F32:
      return fill_loop(v, begin, count, [out](uint64_t k, float x) { std::memcpy(out + 4 * k, &x, 4); });
    case Dtype::BF16:
      return fill_loop(v, begin, count, [out](uint64_t k, float x) {
        const uint16_t b = to_bf16(x);
        std::memcpy(out + 2 * k, &b, 2);
      });
    case Dtype::F16:
      return fill_loop(v, begin, count, [out](uint64_t k, float x) {
        const uint16_t b = to_f16(x);
        std::memcpy(out + 2 * k, &b, 2);
      });
    case Dtype::U8: {  // MXFP4 bytes: codes, or scales whose 2^(e-127) is about std / 3
      const int e = 127 + int(std::lround(std::log2(double(v.std) / 3.0)));
      for (uint64_t k = 0; k < count; ++k) {
        const uint64_t h = splitmix64(v.key + (begin + k + 1) * kGolden);
        out[k] = v.init == Init::Mxfp4Scale ? uint8_t(std::clamp<int>(e + int(h % 3) - 1, 1, 254)) : uint8_t(h & 0xff);
      }
      return;
    }
    case Dtype::F8_E4M3:
      return fill_loop(v, begin, count, [&v, out, begin](uint64_t k, float x) {
        const uint64_t i = begin + k, row = i / v.cols, col = i % v.cols;
        const float s = fp8_block_scale(v.key, v.std, row / kFp8Block, col / kFp8Block, v.scale_cols);
        out[k] = to_e4m3(x / s);
      });
  }
}

}  // namespace mote::synth
