// Direct .mote output: the converter pipeline (converter/pipeline/convert.h) reads a generated
// checkpoint (SafetensorsFile::generated) whose bytes are the ones synthesize() would write to
// safetensors (values.h: a pure function of seed, tensor name and element index, in the tensor's
// checkpoint dtype). So the file equals `mote-synth -o DIR` + `mote-convert DIR` byte for byte,
// while streaming: nothing but the converter's chunk buffers scales with the model size.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "hf/error.h"
#include "pipeline/convert.h"
#include "pipeline/options.h"
#include "pipeline/progress.h"
#include "synth.h"

namespace mote::synth {

namespace {

convert::StDtype st_dtype(Dtype d) {
  switch (d) {
    case Dtype::F32: return convert::StDtype::F32;
    case Dtype::F16: return convert::StDtype::F16;
    case Dtype::F8_E4M3: return convert::StDtype::F8_E4M3;
    case Dtype::U8: return convert::StDtype::U8;
    default: return convert::StDtype::BF16;
  }
}

// Fills `count` elements from `begin` of `t` into dst, split across up to `threads` threads
// (the converter's own reads are single-threaded; generation is the costly part).
void fill_parallel(const PlannedTensor& t, uint64_t begin, uint64_t count, uint8_t* dst, unsigned threads) {
  const size_t es = dtype_size(t.dtype);
  if (threads <= 1 || count < 65536) return fill_values(t.values, t.dtype, begin, count, dst);
  const uint64_t per = (count + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < threads; ++k) {
    const uint64_t b = std::min(count, per * k), e = std::min(count, per * (k + 1));
    if (b < e) pool.emplace_back([&, b, e] { fill_values(t.values, t.dtype, begin + b, e - b, dst + b * es); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace

void synthesize_mote(const Options& opt) {
  const nlohmann::json config = read_config(opt);
  // `plan` is shared with the generator; the checkpoint (and the generator) die inside
  // convert_checkpoint, before `plan` does.
  const std::vector<PlannedTensor> plan = plan_tensors(config, opt);
  const std::string source = opt.source_name.empty()
                                 ? "mote-synth:" + std::filesystem::path(opt.config_path).filename().string()
                                 : opt.source_name;
  std::vector<std::string> args = {source, "-o", opt.out_dir};
  args.insert(args.end(), opt.convert_args.begin(), opt.convert_args.end());
  if (opt.quiet) args.push_back("--quiet");
  std::optional<convert::Options> copt;
  try {
    copt = convert::parse_options(args);
  } catch (const convert::UsageError& e) {
    throw SynthError(e.what());
  }
  if (!copt) return;
  std::unordered_map<std::string, size_t> by_name;
  std::vector<convert::StTensorInfo> infos;
  uint64_t off = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedTensor& t = plan[i];
    by_name.emplace(t.name, i);
    infos.push_back({t.name, st_dtype(t.dtype), t.shape, off, off + t.bytes()});
    off += t.bytes();
  }
  const unsigned threads = copt->threads ? copt->threads : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  auto gen = [&plan, &by_name, threads](const convert::StTensorInfo& info, uint64_t offset, void* dst, uint64_t size) {
    const PlannedTensor& t = plan[by_name.at(info.name)];
    const size_t es = dtype_size(t.dtype);
    if (offset % es != 0 || size % es != 0) convert::fail("internal: unaligned read of generated tensor " + t.name);
    fill_parallel(t, offset / es, size / es, static_cast<uint8_t*>(dst), threads);
  };
  convert::ConvertSource src;
  src.config_json = config.dump();
  src.config_path = opt.config_path;
  src.checkpoint = convert::Checkpoint::of_file(
      convert::SafetensorsFile::generated("<generated from " + opt.config_path + ">", std::move(infos), gen));
  src.blob_dir = opt.tokenizer_dir;
  convert::Progress progress(copt->quiet);
  const convert::ConvertSummary s = convert::convert_checkpoint(*copt, progress, std::move(src));
  progress.print_notes();
  if (!opt.quiet)
    std::fprintf(stderr, "mote-synth: wrote %s: %llu tensors, %llu experts, %llu blobs, MTP %s, %.1f MB in %.2f s (%.1f MB/s)\n",
                 opt.out_dir.c_str(), (unsigned long long)s.tensors, (unsigned long long)s.experts,
                 (unsigned long long)s.blobs, s.has_mtp ? "kept" : "absent", double(s.file_bytes) / 1e6, s.seconds,
                 s.seconds > 0 ? double(s.file_bytes) / 1e6 / s.seconds : 0.0);
}

}  // namespace mote::synth
