// mote-convert: Hugging Face DeepSeek-V3/V2 checkpoint folder -> .mote file.
//
//   mote-convert <hf_dir> -o <file.mote> [--weights T] [--expert-weights T] [--attn-weights T]
//                [--shared-expert-weights T] [--embed-weights T] [--output-weights T]
//                [--no-mtp] [--chunk-mb N] [--threads N] [--row-major] [--quiet]
//
// Exit status: 0 success; 1 conversion error (one line "mote-convert: error: <message>" on
// stderr, no output or temporary file left behind); 2 bad command line. SIGINT/SIGTERM/SIGHUP
// also remove the temporary file before the process dies.
//
// Memory bound. Weights are streamed: tensor bytes are read with pread (never mmapped) in
// chunks of R = max(1, C / (4 * cols)) rows, C = --chunk-mb MiB, through three reused buffers
// (source bytes, f32 values, output bytes), each at most max(C, 4 * cols) bytes (row-grouped
// tensors round R down to a multiple of 16, at least 16: max(C, 64 * cols), plus one 16-row
// scratch group); the MTP alias
// check uses two C-byte buffers before those exist, and blobs stream through 1 MiB. Nothing
// else scales with the weight bytes, so
//     peak RSS <= B + 3 * max(C, 4 * max_cols) + M
// B ~ 4 MiB: process baseline (binary, libstdc++, allocator; measured 4.2 MiB on a tiny model).
// M: metadata proportional to the tensor COUNT, not their size (parsed safetensors headers,
//    expected-tensor list, writer plan, FlatBuffer built twice): <= ~1.3 KiB per tensor
//    (measured 82 MiB for 62,575 tensors in one safetensors file), ~120 MiB for DeepSeek-V3's
//    92k tensors.
// The tokenizer files are loaded once at the start (pipeline/blobs.h check_tokenizer_files) and
// freed before any weight is read, so the peak is the larger of the two: 217 MiB, 1.8 s for
// gpt-oss's 28 MB tokenizer.json (107 MiB Qwen3, 70 MiB DeepSeek-V3), what the runtime's
// loader costs anyway.
// Measured: 540 MB F32 checkpoint (41 tensors) -> Q8_0: 13 MiB with --chunk-mb 4, 40 MiB with
// 16 (the default), 149 MiB with 64. tests/converter/memory_test.cpp checks < 64 MiB at 4.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "pipeline/convert.h"
#include "pipeline/options.h"
#include "pipeline/progress.h"
#include "writer/temp_files.h"

namespace {


}  // namespace

int main(int argc, char** argv) {
  using namespace mote::convert;
  std::optional<Options> options;
  try {
    options = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "mote-convert: error: %s\nusage: mote-convert <hf_dir> -o <file.mote> [options]; "
                         "see mote-convert --help\n", e.what());
    return 2;
  }
  if (!options) return 0;  // --help
  mote::convert::remove_temp_on_signals(options->output);
  Progress progress(options->quiet);
  try {
    const ConvertSummary s = convert_checkpoint(*options, progress);
    progress.print_notes();
    const double mb_out = double(s.file_bytes) / 1e6, mb_in = double(s.source_bytes) / 1e6;
    std::fprintf(stderr,
                 "mote-convert: wrote %s: %llu tensors (%llu aliases), %llu segments, %llu experts, "
                 "%llu blobs, MTP %s, %.1f MB in %.2f s (%.1f MB/s read, %.1f MB/s written)\n",
                 options->output.c_str(), (unsigned long long)s.tensors, (unsigned long long)s.aliases,
                 (unsigned long long)s.segments, (unsigned long long)s.experts, (unsigned long long)s.blobs,
                 s.has_mtp ? "kept" : "absent", mb_out, s.seconds,
                 s.seconds > 0 ? mb_in / s.seconds : 0.0, s.seconds > 0 ? mb_out / s.seconds : 0.0);
    return 0;
  } catch (const std::bad_alloc&) {
    progress.end_line();
    std::fprintf(stderr, "mote-convert: error: out of memory\n");
  } catch (const std::exception& e) {
    progress.end_line();
    std::fprintf(stderr, "mote-convert: error: %s\n", e.what());
  }
  return 1;
}
