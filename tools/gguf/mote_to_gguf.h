// mote-to-gguf: a .mote file as a GGUF (version 3) file llama.cpp loads, on the same weights.
//
// Supported: the GQA MoE families whose llama.cpp architecture takes Hugging Face's tensors
// unpermuted (NEOX RoPE): qwen3_moe -> "qwen3moe", olmoe -> "olmoe", qwen2_moe -> "qwen2moe".
// Weight types: Q8_0 and Q4_0 are copied exactly (mote's blocks are byte-for-byte ggml's
// block_q8_0 / block_q4_0, kernels/quant.h); row groups are de-interleaved back to row-major
// (deinterleave_row_group, lossless). F32/F16/BF16 matrices are copied; 1-D tensors (norms,
// biases) are written as F32 (lossless). MXFP4 and Q2_1 are refused (one line), as are rows whose
// length is not a multiple of 32 (mote pads them, ggml cannot).
// Routed experts become one stacked tensor per layer and projection: blk.L.ffn_{gate,up,down}_exps
// with ggml ne = {in, out, n_expert} (expert e's rows at e * out).
// Tokenizer: the embedded tokenizer.json (+ tokenizer_config.json, chat_template) becomes
// tokenizer.ggml.* (model "gpt2": byte-level BPE only); a file without one is refused unless
// Options::tokenizer_dir names a folder with tokenizer.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/mote_file.h"
#include "gguf_writer.h"

namespace mote::gguf {

// One GGUF tensor and the .mote tensors it is made of (concatenated along the outermost dimension:
// several for stacked experts, else one).
struct PlannedTensor {
  TensorInfo info;
  std::vector<const fb::Tensor*> parts;
  bool to_f32 = false;  // a 1-D F16/BF16 tensor widened to F32
};

struct Plan {
  Metadata meta;
  std::vector<PlannedTensor> tensors;
  std::vector<std::string> notes;  // e.g. MTP layers left out
};

struct Options {
  std::string name;          // general.name (default: the input's file name without .mote)
  std::string pre;           // tokenizer.ggml.pre override (default: by family)
  std::string tokenizer_dir; // tokenizer files from this folder instead of the .mote's blobs
  bool quiet = false;
};

// The tokenizer files behind tokenizer.ggml.*; `source` names them in errors.
struct TokenizerFiles {
  std::string source;
  std::string tokenizer_json, tokenizer_config_json, chat_template;
};

// Throws std::runtime_error with a one-line message naming the file and what is unsupported.
Plan plan_gguf(const MoteFile& file, const Options& options);
// The .mote's tokenizer blobs (dir empty; throws when it has no tokenizer.json) or dir's files.
TokenizerFiles tokenizer_files(const MoteFile& file, const std::string& dir);
// Appends the tokenizer.ggml.* keys (and tokenizer.chat_template), ids checked against `file`'s
// vocab_size; throws when tokenizer.json is not a byte-level BPE.
void add_tokenizer_metadata(const MoteFile& file, const TokenizerFiles& files, const std::string& pre, Metadata* meta);
// Writes `plan` to `out` through "<out>.tmp-<pid>" renamed at the end, streaming each tensor in
// chunks of whole row groups (memory bounded by the chunk, not the model). Throws on error.
void write_gguf(const MoteFile& file, Plan& plan, const std::string& out, bool quiet);

}  // namespace mote::gguf
