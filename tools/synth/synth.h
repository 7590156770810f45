// mote-synth core: the tensor plan of a config (DeepSeek-V3/V2 names from the converter's own
// expected list, OLMoE per its real checkpoint's names) and the streaming writer of a Hugging Face
// checkpoint (config.json, safetensors shards, model.safetensors.index.json).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "values.h"

namespace mote::synth {

struct SynthError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string config_path;
  std::string out_dir;
  uint64_t seed = 0;
  Dtype dtype = Dtype::BF16;
  uint64_t shard_bytes = 2048ull << 20;
  int layers = -1;  // -1: keep num_hidden_layers
  bool fp8 = false;
  bool quiet = false;
  bool dry_run = false;  // print the plan summary (tensors, bytes, shards), write nothing
  // --set KEY=JSON: top-level config.json overrides applied after --layers, in order (e.g. a
  // smaller n_routed_experts for CI at real widths). A value that is not JSON is a string.
  std::vector<std::pair<std::string, std::string>> overrides;
  // Direct .mote output (-o FILE.mote or --mote): the converter's command-line flags given to
  // mote-synth (--weights T, --expert-weights T, ..., --no-mtp, --chunk-mb N, --threads N,
  // --row-major), parsed by mote-convert's own parser; the tokenizer folder to embed ("" none);
  // the provenance source string ("" -> "mote-synth:<config file name>").
  // --route-skew S (> 0): Zipf-like expert popularity per layer (values.h Skew); 0 = off.
  float route_skew = 0;
  // --route-locality G (> 0): head 0 of attention layer 0 attends uniformly (zero queries)
  // and o_proj scales its output by G: a slowly varying running mean in every router's input.
  float route_locality = 0;
  bool mote = false;
  std::vector<std::string> convert_args;
  std::string tokenizer_dir;
  std::string source_name;
};

struct PlannedTensor {
  std::string name;
  std::vector<uint64_t> shape;  // PyTorch order: [out, in] or [n]
  Dtype dtype = Dtype::BF16;
  ValueSpec values;
  uint64_t elements() const;
  uint64_t bytes() const { return elements() * dtype_size(dtype); }
};

// Every tensor of the checkpoint, in file order. `config` already has the --layers override.
std::vector<PlannedTensor> plan_tensors(const nlohmann::json& config, const Options& opt);

// The config as written to config.json: opt.config_path with --layers, --set and --fp8 applied.
nlohmann::json read_config(const Options& opt);

// Writes the whole checkpoint into opt.out_dir (created if missing). Throws SynthError.
void synthesize(const Options& opt);

// Writes the .mote file opt.out_dir through mote-convert's pipeline (converter/pipeline), fed
// the values synthesize() would write instead of safetensors: byte-identical to converting that
// checkpoint with the same flags (and provenance source). Throws SynthError or ConvertError.
void synthesize_mote(const Options& opt);

}  // namespace mote::synth
