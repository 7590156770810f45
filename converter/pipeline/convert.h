// The conversion: HF checkpoint folder -> .mote file, in one streaming pass.
//
//   1. config.json -> HfConfig; safetensors headers -> Checkpoint (no weight bytes read).
//   2. Expected tensor list (arch/expected.h: the family's mapping), each resolved against the checkpoint: present,
//      same shape, decodable dtype, FP8 scale present with the right shape. MTP layers are kept
//      when the config declares them, the checkpoint has them and --no-mtp is not given.
//   3. Layout plan (every offset fixed before a byte is written): segment 0 = globals
//      (embed_tokens, norm, lm_head); per layer one segment of its non-expert tensors followed
//      by one segment per routed expert (gate, up, down); blobs last. MTP embed_tokens and
//      shared_head.head whose source bytes equal the main ones are aliases (no bytes). Matrices the
//      runtime only multiplies are stored in row groups of 16 (pipeline/layout.h) unless
//      --row-major.
//   4. Stream every tensor through TensorConverter (quantise rows, then interleave row groups)
//      into MoteWriter; finish() renames the
//      temporary file onto the output. Any exception unwinds the writer, which deletes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hf/checkpoint.h"
#include "pipeline/options.h"
#include "pipeline/progress.h"

namespace mote::convert {

struct ConvertSummary {
  uint64_t tensors = 0;        // entries in the tensor table (aliases included)
  uint64_t aliases = 0;
  uint64_t segments = 0;
  uint64_t experts = 0;        // routed experts, all layers
  uint64_t blobs = 0;
  uint64_t ignored = 0;        // checkpoint tensors not used (scales consumed excluded)
  bool has_mtp = false;
  uint64_t source_bytes = 0;   // bytes of the tensors read from the checkpoint
  uint64_t file_bytes = 0;     // size of the .mote file
  uint64_t peak_buffer_bytes = 0;
  double seconds = 0;
};

// Throws ConvertError (or std::exception) on failure, leaving no output or temporary file.
ConvertSummary convert_checkpoint(const Options& options, Progress& progress);

// A source other than a checkpoint folder: mote-synth's direct .mote output hands the converter
// generated weights (a Checkpoint of SafetensorsFile::generated) so the file is exactly what
// converting the equivalent folder writes. options.input_dir is then only the provenance string.
struct ConvertSource {
  std::string config_json;                 // config.json text
  std::string config_path;                 // names the config in messages
  std::unique_ptr<Checkpoint> checkpoint;  // consumed by the conversion
  std::string blob_dir;                    // tokenizer / generation files folder; "" for none
};
ConvertSummary convert_checkpoint(const Options& options, Progress& progress, ConvertSource source);

}  // namespace mote::convert
