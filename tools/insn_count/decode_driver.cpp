// Decode-kernel driver for instruction counting (scripts/count-insn.sh): one quantised matrix
// [rows, cols] of random codes with valid f16 scales, one token of quantised activations, and
// `reps` calls of one ISA's QDotRowsFn over the whole matrix (r0 = 0, r1 = rows, b0 = 0, all
// blocks, n_tokens = 1): the matrix-vector product of a decode step. The counting script runs it
// under qemu with logging limited to the kernel's code, so the set-up here is never counted;
// running it with two values of `reps` shows the count is exactly linear in the calls.
//   decode_driver <isa: neon|avx2|avx512|reference> <q4_0|q2_1|q8_0> <row|grouped> <rows> <cols> <reps>
// Prints the weight bytes and a checksum of the outputs (so the calls cannot be optimised away).
// Not part of any build: the script compiles it against the standalone kernel library.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/kernels/isa.h"
#include "kernels/quant.h"

using namespace mote;

namespace {

uint32_t g_state = 12345;
uint32_t next_u32() {  // xorshift32: cheap under the emulator
  g_state ^= g_state << 13;
  g_state ^= g_state >> 17;
  g_state ^= g_state << 5;
  return g_state;
}

// A row-major matrix of random codes; each block's f16 scale (and Q2_1 minimum) is a small
// normal number (exponent 0x0b..0x0c, random mantissa), never NaN or Inf.
std::vector<uint8_t> random_rows(WeightType type, int64_t rows, int64_t cols) {
  const int64_t bb = weight_block_bytes(type), nb = (cols + 31) / 32;
  std::vector<uint8_t> data(static_cast<size_t>(rows * nb * bb));
  for (size_t i = 0; i < data.size(); i += 4) {
    const uint32_t v = next_u32();
    std::memcpy(&data[i], &v, data.size() - i < 4 ? data.size() - i : 4);
  }
  const int n_half = type == WeightType::Q2_1 ? 2 : 1;
  for (int64_t b = 0; b < rows * nb; ++b)
    for (int h = 0; h < n_half; ++h) {
      const uint16_t f16 = uint16_t(0x2c00 | (next_u32() & 0x07ff));
      std::memcpy(&data[size_t(b * bb + 2 * h)], &f16, 2);
    }
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s <isa> <q4_0|q2_1|q8_0> <row|grouped> <rows> <cols> <reps>\n", argv[0]);
    return 2;
  }
  const cpu::IsaOps* ops = cpu::isa_ops(argv[1]);
  if (!ops) {
    std::fprintf(stderr, "decode_driver: ISA %s not compiled in or not supported by this CPU\n", argv[1]);
    return 2;
  }
  WeightType type;
  if (std::strcmp(argv[2], "q2_1") == 0) type = WeightType::Q2_1;
  else if (!parse_weight_type(argv[2], &type)) {
    std::fprintf(stderr, "decode_driver: unknown type %s\n", argv[2]);
    return 2;
  }
  const bool grouped = std::strcmp(argv[3], "grouped") == 0;
  const int64_t rows = std::atoll(argv[4]), cols = std::atoll(argv[5]);
  const int reps = std::atoi(argv[6]);
  if (rows <= 0 || cols <= 0 || reps < 0 || (grouped && rows % kRowGroup != 0)) {
    std::fprintf(stderr, "decode_driver: bad shape (grouped needs rows %% 16 == 0)\n");
    return 2;
  }
  std::vector<uint8_t> data = random_rows(type, rows, cols);
  if (grouped) {
    std::vector<uint8_t> g(data.size());
    interleave_matrix(type, data.data(), rows, cols, g.data());
    data.swap(g);
  }
  WeightView w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  w.row_stride = weight_row_bytes(type, cols);
  w.data = data.data();
  w.row_group = grouped ? kRowGroup : 1;
  const cpu::QDotRowsFn fn = cpu::qdot_for(*ops, w);
  if (!fn) {
    std::fprintf(stderr, "decode_driver: %s has no %s %s loop\n", argv[1], argv[2], argv[3]);
    return 2;
  }
  const int64_t nb = (cols + 31) / 32;
  std::vector<float> x(static_cast<size_t>(nb * 32));
  for (float& v : x) v = float(int32_t(next_u32() % 2001) - 1000) / 1000.0f;
  std::vector<cpu::ActBlock> acts(static_cast<size_t>(nb));
  cpu::quantize_acts_ref(x.data(), cols, acts.data());
  std::vector<float> y(static_cast<size_t>(rows));
  for (int i = 0; i < reps; ++i) fn(w, 0, rows, 0, nb, acts.data(), 1, y.data(), rows, false);
  double sum = 0;
  for (float v : y) sum += v;
  std::printf("isa=%s type=%s layout=%s rows=%lld cols=%lld weight_bytes=%llu fn=%p checksum=%.6g\n", ops->name,
              argv[2], argv[3], (long long)rows, (long long)cols, (unsigned long long)(rows * w.row_stride),
              reinterpret_cast<void*>(fn), sum);
  return 0;
}
