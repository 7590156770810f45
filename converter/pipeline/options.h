// Command line of mote-convert and the weight type chosen for each tensor class.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "mote/mote_generated.h"

namespace mote::convert {

// Per-class output types. Unset overrides fall back to `base` (--weights).
struct WeightRecipe {
  WeightType base = WeightType::Q8_0;
  std::optional<WeightType> routed_expert, attention, shared_expert, embedding, output;

  // Output type of a tensor of class `cls` with `dims` dimensions: norms, the router and every
  // 1-D tensor stay F32; the others follow their class override or `base`.
  WeightType type_for(fb::TensorClass cls, size_t dims) const;
  // "default=q8_0 routed_expert=q4_0 ..." (stored as provenance).
  std::string describe() const;
  // lm_head follows `base`, except that a 4-bit (or 2-bit) base keeps lm_head at Q8_0: its error
  // lands on every logit directly (llama.cpp's 4-bit recipes likewise keep the output at 6+ bits).
  // Costs vocab*H bytes extra, ~1% of a DeepSeek-V3 file.
  WeightType default_output() const {
    return base == WeightType::Q4_0 || base == WeightType::Q2_1 ? WeightType::Q8_0 : base;
  }
};

struct Options {
  std::string input_dir;
  std::string output;
  WeightRecipe recipe;
  bool no_mtp = false;
  // --row-major: no row groups (every tensor row-major, as format 1 laid them out), to compare
  // layouts; the file is still format version 2.
  bool row_major = false;
  uint64_t chunk_mb = 16;  // MiB of f32 per conversion chunk (peak RSS ~ 3x this, see main.cpp)
  unsigned threads = 0;    // 0 = hardware concurrency (capped at 8)
  bool quiet = false;
};

// Thrown for a bad command line; main prints the message and a usage hint, exit status 2.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& m) : std::runtime_error(m) {}
};

// Parses argv[1..argc). Returns nullopt for --help (usage already printed to stdout).
std::optional<Options> parse_options(const std::vector<std::string>& args);
const char* usage_text();

}  // namespace mote::convert
