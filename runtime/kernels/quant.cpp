#include "kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/half.h"

namespace mote {

const char* weight_type_name(WeightType type) {
  switch (type) {
    case WeightType::F32: return "f32";
    case WeightType::F16: return "f16";
    case WeightType::BF16: return "bf16";
    case WeightType::Q8_0: return "q8_0";
    case WeightType::Q4_0: return "q4_0";
    case WeightType::MXFP4: return "mxfp4";
    case WeightType::Q2_1: return "q2_1";
  }
  return "unknown";
}

bool parse_weight_type(const char* text, WeightType* out) {
  const std::string_view t(text);
  if (t == "f32") *out = WeightType::F32;
  else if (t == "f16") *out = WeightType::F16;
  else if (t == "bf16") *out = WeightType::BF16;
  else if (t == "q8_0" || t == "q8") *out = WeightType::Q8_0;
  else if (t == "q4_0" || t == "q4") *out = WeightType::Q4_0;
  else if (t == "q2_1" || t == "q2") *out = WeightType::Q2_1;
  else return false;
  return true;
}

int64_t weight_block_size(WeightType type) {
  return (type == WeightType::Q8_0 || type == WeightType::Q4_0 || type == WeightType::MXFP4 ||
          type == WeightType::Q2_1) ? kQuantBlock : 1;
}

int64_t weight_block_bytes(WeightType type) {
  switch (type) {
    case WeightType::F32: return 4;
    case WeightType::F16:
    case WeightType::BF16: return 2;
    case WeightType::Q8_0: return kQ8_0BlockBytes;
    case WeightType::Q4_0: return kQ4_0BlockBytes;
    case WeightType::MXFP4: return kMxfp4BlockBytes;
    case WeightType::Q2_1: return kQ2_1BlockBytes;
  }
  return 0;
}

uint64_t weight_row_bytes(WeightType type, int64_t cols) {
  const int64_t bs = weight_block_size(type);
  return uint64_t((cols + bs - 1) / bs) * uint64_t(weight_block_bytes(type));
}

namespace {

// Copies block b of src (zero-padded past cols) into out[32].
void load_block(const float* src, int64_t cols, int64_t b, float* out) {
  const int64_t start = b * kQuantBlock;
  const int64_t n = std::min<int64_t>(kQuantBlock, cols - start);
  std::memcpy(out, src + start, size_t(n) * sizeof(float));
  std::fill(out + n, out + kQuantBlock, 0.0f);
}

void quantize_q8_0(const float* src, int64_t cols, uint8_t* dst) {
  const int64_t nb = (cols + kQuantBlock - 1) / kQuantBlock;
  float v[kQuantBlock];
  for (int64_t b = 0; b < nb; ++b) {
    load_block(src, cols, b, v);
    float amax = 0.0f;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    const uint16_t d16 = f32_to_f16(amax / 127.0f);
    const float d = f16_to_f32(d16);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* block = dst + b * kQ8_0BlockBytes;
    std::memcpy(block, &d16, 2);
    auto* q = reinterpret_cast<int8_t*>(block + 2);
    for (int j = 0; j < kQuantBlock; ++j)
      q[j] = int8_t(std::clamp<long>(std::lround(v[j] * inv), -127, 127));
  }
}

// Squared error of quantising v with scale d to 4-bit codes q = clamp(round(x/d), -8, 7).
float q4_error(const float* v, float d) {
  if (d == 0.0f) {
    float e = 0;
    for (int j = 0; j < kQuantBlock; ++j) e += v[j] * v[j];
    return e;
  }
  const float inv = 1.0f / d;
  float err = 0.0f;
  for (int j = 0; j < kQuantBlock; ++j) {
    const float q = std::clamp(std::nearbyint(v[j] * inv), -8.0f, 7.0f);
    const float diff = v[j] - q * d;
    err += diff * diff;
  }
  return err;
}

// Q4_0 scale search: for each candidate divisor around the signed extreme (ggml maps it to -8),
// assign codes, refit d by least squares for those codes, round d to f16, and keep the d with
// the lowest squared error. 7 candidates x 2 fits per block: only the converter pays this.
uint16_t best_q4_scale(const float* v) {
  float extreme = 0.0f;
  for (int j = 0; j < kQuantBlock; ++j)
    if (std::fabs(v[j]) > std::fabs(extreme)) extreme = v[j];
  if (extreme == 0.0f) return 0;
  uint16_t best16 = f32_to_f16(extreme / -8.0f);
  float best_err = q4_error(v, f16_to_f32(best16));
  for (int step = 0; step <= 6; ++step) {
    const float divisor = -8.75f + 0.25f * float(step);  // -8.75 .. -7.25
    const float inv = divisor / extreme;
    float sum_xq = 0.0f, sum_qq = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) {
      const float q = std::clamp(std::nearbyint(v[j] * inv), -8.0f, 7.0f);
      sum_xq += v[j] * q;
      sum_qq += q * q;
    }
    if (sum_qq == 0.0f) continue;
    for (float d : {extreme / divisor, sum_xq / sum_qq}) {
      const uint16_t cand16 = f32_to_f16(d);
      const float err = q4_error(v, f16_to_f32(cand16));
      if (err < best_err) { best_err = err; best16 = cand16; }
    }
  }
  return best16;
}

void quantize_q4_0(const float* src, int64_t cols, uint8_t* dst) {
  const int64_t nb = (cols + kQuantBlock - 1) / kQuantBlock;
  float v[kQuantBlock];
  for (int64_t b = 0; b < nb; ++b) {
    load_block(src, cols, b, v);
    const uint16_t d16 = best_q4_scale(v);
    const float d = f16_to_f32(d16);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* block = dst + b * kQ4_0BlockBytes;
    std::memcpy(block, &d16, 2);
    uint8_t* qs = block + 2;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      const int lo = int(std::clamp(std::nearbyint(v[j] * inv), -8.0f, 7.0f)) + 8;
      const int hi = int(std::clamp(std::nearbyint(v[j + 16] * inv), -8.0f, 7.0f)) + 8;
      qs[j] = uint8_t(lo | (hi << 4));
    }
  }
}

// Nearest E2M1 code of v (ties to the even code, i.e. the smaller magnitude on .25/.75/1.25...).
uint8_t nearest_e2m1(float v) {
  int best = 0;
  for (int c = 1; c < 8; ++c)
    if (std::fabs(std::fabs(v) - kMxfp4Values[c]) < std::fabs(std::fabs(v) - kMxfp4Values[best])) best = c;
  return uint8_t(best | (v < 0.0f && best != 0 ? 8 : 0));
}

void quantize_mxfp4(const float* src, int64_t cols, uint8_t* dst) {
  const int64_t nb = (cols + kQuantBlock - 1) / kQuantBlock;
  float v[kQuantBlock];
  for (int64_t b = 0; b < nb; ++b) {
    load_block(src, cols, b, v);
    float amax = 0.0f;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    // OCP MX: shared exponent = floor(log2(amax)) - emax(E2M1) = ... - 2, clamped to E8M0's range.
    // An infinite amax takes the largest exponent (converting log2(inf) to int is undefined).
    const int e = !(amax > 0.0f)            ? -127
                  : !std::isfinite(amax)    ? 127
                                            : std::clamp(int(std::floor(std::log2(amax))) - 2, -127, 127);
    const float inv = std::ldexp(1.0f, -e);
    uint8_t* block = dst + b * kMxfp4BlockBytes;
    block[0] = uint8_t(e + 127);
    for (int j = 0; j < kQuantBlock / 2; ++j)
      block[1 + j] = uint8_t(nearest_e2m1(v[2 * j] * inv) | (nearest_e2m1(v[2 * j + 1] * inv) << 4));
  }
}

// Decodes cols values of MXFP4 blocks (see quant.h).
void dequantize_mxfp4(const uint8_t* src, int64_t cols, float* dst) {
  for (int64_t start = 0, b = 0; start < cols; start += kQuantBlock, ++b) {
    const uint8_t* block = src + b * kMxfp4BlockBytes;
    const float scale = std::ldexp(1.0f, int(block[0]) - 127);
    const int64_t n = std::min<int64_t>(kQuantBlock, cols - start);
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t byte = block[1 + j / 2];
      dst[start + j] = kMxfp4Values[(j & 1) ? (byte >> 4) : (byte & 0xf)] * scale;
    }
  }
}

// Codes of v for f16-rounded (d, m): q = round-half-up(clamp((x - m) / d, 0, 3)); returns the
// squared error. Truncating a non-negative value + 0.5 rounds without a libm call (the search
// calls this ~33 times per block).
float q2_codes(const float* v, float d, float m, uint8_t* q) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  float err = 0.0f;
  for (int j = 0; j < kQuantBlock; ++j) {
    q[j] = uint8_t(int(std::clamp((v[j] - m) * inv, 0.0f, 3.0f) + 0.5f));
    const float diff = v[j] - (d * float(q[j]) + m);
    err += diff * diff;
  }
  return err;
}

// Q2_1 (d, m) search: for each (lo, hi) = (min + a * range, max - b * range) with a, b in
// {0, .05, .1, .15}, assign codes on the grid lo + d * q, refit (d, m) by least squares for those
// codes, round both to f16, and keep the pair with the lowest squared error. 16 x 2 fits per block.
void best_q2_params(const float* v, uint16_t* d_out, uint16_t* m_out) {
  float lo = v[0], hi = v[0];
  for (int j = 1; j < kQuantBlock; ++j) { lo = std::min(lo, v[j]); hi = std::max(hi, v[j]); }
  *d_out = f32_to_f16(0.0f);
  *m_out = f32_to_f16(lo);
  uint8_t q[kQuantBlock];
  float best = q2_codes(v, 0.0f, f16_to_f32(*m_out), q);
  const float range = hi - lo;
  if (range <= 0.0f) return;
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      const float l = lo + 0.05f * float(a) * range, h = hi - 0.05f * float(b) * range;
      float d = (h - l) / 3.0f, m = l;
      for (int fit = 0; fit < 2; ++fit) {
        const uint16_t d16 = f32_to_f16(d), m16 = f32_to_f16(m);
        const float err = q2_codes(v, f16_to_f32(d16), f16_to_f32(m16), q);
        if (err < best) { best = err; *d_out = d16; *m_out = m16; }
        // Least squares of v ~ d * q + m over the current codes.
        float sq = 0, sqq = 0, sv = 0, sqv = 0;
        for (int j = 0; j < kQuantBlock; ++j) {
          sq += q[j]; sqq += float(q[j]) * q[j]; sv += v[j]; sqv += float(q[j]) * v[j];
        }
        const float det = kQuantBlock * sqq - sq * sq;
        if (det <= 0.0f) break;
        d = (kQuantBlock * sqv - sq * sv) / det;
        m = (sv - d * sq) / kQuantBlock;
        if (!(d > 0.0f)) break;
      }
    }
  }
}

void quantize_q2_1(const float* src, int64_t cols, uint8_t* dst) {
  const int64_t nb = (cols + kQuantBlock - 1) / kQuantBlock;
  float v[kQuantBlock];
  uint8_t q[kQuantBlock];
  for (int64_t b = 0; b < nb; ++b) {
    load_block(src, cols, b, v);
    uint16_t d16, m16;
    best_q2_params(v, &d16, &m16);
    q2_codes(v, f16_to_f32(d16), f16_to_f32(m16), q);
    uint8_t* block = dst + b * kQ2_1BlockBytes;
    std::memcpy(block, &d16, 2);
    std::memcpy(block + 2, &m16, 2);
    for (int j = 0; j < 8; ++j)
      block[4 + j] = uint8_t(q[4 * j] | (q[4 * j + 1] << 2) | (q[4 * j + 2] << 4) | (q[4 * j + 3] << 6));
  }
}

void dequantize_q2_1(const uint8_t* src, int64_t cols, float* dst) {
  for (int64_t start = 0, b = 0; start < cols; start += kQuantBlock, ++b) {
    const uint8_t* block = src + b * kQ2_1BlockBytes;
    uint16_t d16, m16;
    std::memcpy(&d16, block, 2);
    std::memcpy(&m16, block + 2, 2);
    const float d = f16_to_f32(d16), m = f16_to_f32(m16);
    const int64_t n = std::min<int64_t>(kQuantBlock, cols - start);
    for (int64_t j = 0; j < n; ++j) dst[start + j] = d * float((block[4 + j / 4] >> (2 * (j % 4))) & 3) + m;
  }
}

}  // namespace

void quantize_row(WeightType type, const float* src, int64_t cols, uint8_t* dst) {
  switch (type) {
    case WeightType::F32:
      std::memcpy(dst, src, size_t(cols) * 4);
      return;
    case WeightType::F16:
      for (int64_t i = 0; i < cols; ++i) {
        const uint16_t h = f32_to_f16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case WeightType::BF16:
      for (int64_t i = 0; i < cols; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case WeightType::Q8_0: quantize_q8_0(src, cols, dst); return;
    case WeightType::Q4_0: quantize_q4_0(src, cols, dst); return;
    case WeightType::MXFP4: quantize_mxfp4(src, cols, dst); return;
    case WeightType::Q2_1: quantize_q2_1(src, cols, dst); return;
  }
}

void dequantize_row(WeightType type, const uint8_t* src, int64_t cols, float* dst) {
  switch (type) {
    case WeightType::F32:
      std::memcpy(dst, src, size_t(cols) * 4);
      return;
    case WeightType::F16:
    case WeightType::BF16:
      for (int64_t i = 0; i < cols; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = type == WeightType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    case WeightType::Q8_0:
    case WeightType::Q4_0: {
      const bool q8 = type == WeightType::Q8_0;
      const int64_t bytes = q8 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
      for (int64_t start = 0, b = 0; start < cols; start += kQuantBlock, ++b) {
        const uint8_t* block = src + b * bytes;
        uint16_t d16;
        std::memcpy(&d16, block, 2);
        const float d = f16_to_f32(d16);
        const int64_t n = std::min<int64_t>(kQuantBlock, cols - start);
        for (int64_t j = 0; j < n; ++j) {
          int q;
          if (q8) {
            q = reinterpret_cast<const int8_t*>(block + 2)[j];
          } else {
            const uint8_t byte = block[2 + (j & 15)];
            q = int(j < 16 ? (byte & 0xf) : (byte >> 4)) - 8;
          }
          dst[start + j] = d * float(q);
        }
      }
      return;
    }
    case WeightType::MXFP4: dequantize_mxfp4(src, cols, dst); return;
    case WeightType::Q2_1: dequantize_q2_1(src, cols, dst); return;
  }
}

bool row_group_type(WeightType type) {
  return type == WeightType::Q8_0 || type == WeightType::Q4_0 || type == WeightType::Q2_1;
}

namespace {

// Bytes of the per-row header (scale, minimum) at the start of a row-major block.
int block_header_bytes(WeightType type) { return type == WeightType::Q2_1 ? 4 : 2; }

// One block column: src_blocks[r] (row r's block, row-major layout) <-> the group block `gb`.
void interleave_block(WeightType type, const uint8_t* const* src_blocks, uint8_t* gb) {
  for (int r = 0; r < kRowGroup; ++r) {
    const uint8_t* sb = src_blocks[r];
    std::memcpy(gb + 2 * r, sb, 2);                                              // d
    if (type == WeightType::Q2_1) std::memcpy(gb + 32 + 2 * r, sb + 2, 2);        // m
    const uint8_t* q = sb + block_header_bytes(type);
    uint8_t* lanes = gb + block_header_bytes(type) * kRowGroup;  // after d[16] (and m[16])
    if (type == WeightType::Q8_0) {
      for (int k = 0; k < 8; ++k) std::memcpy(lanes + 64 * k + 4 * r, q + 4 * k, 4);
    } else if (type == WeightType::Q4_0) {
      for (int j = 0; j < 4; ++j) std::memcpy(lanes + 64 * j + 4 * r, q + 4 * j, 4);
    } else {  // Q2_1: element e of the row-major block is in byte e / 4, bits 2 * (e % 4)
      for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 4; ++i) {
          uint8_t byte = 0;
          for (int s = 0; s < 4; ++s) {
            const int e = 16 * j + 4 * s + i;
            byte |= uint8_t(((q[e / 4] >> (2 * (e % 4))) & 3) << (2 * s));
          }
          lanes[64 * j + 4 * r + i] = byte;
        }
    }
  }
}

// Row r's block back from the group block `gb`: dst[block_bytes].
void deinterleave_block(WeightType type, const uint8_t* gb, int r, uint8_t* dst) {
  std::memcpy(dst, gb + 2 * r, 2);
  if (type == WeightType::Q2_1) std::memcpy(dst + 2, gb + 32 + 2 * r, 2);
  uint8_t* q = dst + block_header_bytes(type);
  const uint8_t* lanes = gb + block_header_bytes(type) * kRowGroup;
  if (type == WeightType::Q8_0) {
    for (int k = 0; k < 8; ++k) std::memcpy(q + 4 * k, lanes + 64 * k + 4 * r, 4);
  } else if (type == WeightType::Q4_0) {
    for (int j = 0; j < 4; ++j) std::memcpy(q + 4 * j, lanes + 64 * j + 4 * r, 4);
  } else {
    std::memset(q, 0, 8);
    for (int e = 0; e < kQuantBlock; ++e) {
      const int j = e / 16, s = (e % 16) / 4, i = e % 4;
      const int code = (lanes[64 * j + 4 * r + i] >> (2 * s)) & 3;
      q[e / 4] |= uint8_t(code << (2 * (e % 4)));
    }
  }
}

}  // namespace

void interleave_row_group(WeightType type, const uint8_t* rows, int64_t cols, uint8_t* group) {
  const int64_t bb = weight_block_bytes(type), nb = (cols + kQuantBlock - 1) / kQuantBlock;
  const uint64_t row_bytes = weight_row_bytes(type, cols);
  const uint8_t* src_blocks[kRowGroup];
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < kRowGroup; ++r) src_blocks[r] = rows + uint64_t(r) * row_bytes + b * bb;
    interleave_block(type, src_blocks, group + b * kRowGroup * bb);
  }
}

void deinterleave_row_group(WeightType type, const uint8_t* group, int64_t cols, uint8_t* rows) {
  const int64_t bb = weight_block_bytes(type), nb = (cols + kQuantBlock - 1) / kQuantBlock;
  const uint64_t row_bytes = weight_row_bytes(type, cols);
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kRowGroup; ++r)
      deinterleave_block(type, group + b * kRowGroup * bb, r, rows + uint64_t(r) * row_bytes + b * bb);
}

void dequantize_group_row(WeightType type, const uint8_t* blocks, int lane, int64_t cols, float* dst) {
  const int64_t bb = weight_block_bytes(type);
  uint8_t block[kQ8_0BlockBytes];  // the largest block of a row-group type
  for (int64_t start = 0, b = 0; start < cols; start += kQuantBlock, ++b) {
    deinterleave_block(type, blocks + b * kRowGroup * bb, lane, block);
    dequantize_row(type, block, std::min<int64_t>(kQuantBlock, cols - start), dst + start);
  }
}

void dequantize_view_piece(const WeightView& w, int64_t r, int64_t c0, int64_t n, float* dst) {
  const uint64_t offset = uint64_t(c0 / weight_block_size(w.type)) * uint64_t(weight_block_bytes(w.type));
  if (!w.grouped()) {
    dequantize_row(w.type, w.row(r) + offset, n, dst);
    return;
  }
  dequantize_group_row(w.type, w.group(r / w.row_group) + offset * uint64_t(w.row_group), int(r % w.row_group), n,
                       dst);
}

void interleave_matrix(WeightType type, const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const uint64_t group_bytes = weight_row_bytes(type, cols) * kRowGroup;
  for (int64_t g = 0; g < rows / kRowGroup; ++g) interleave_row_group(type, src + g * group_bytes, cols, dst + g * group_bytes);
}

}  // namespace mote
