// mote-synth: writes a Hugging Face checkpoint (config.json, safetensors shards,
// model.safetensors.index.json) with seeded random weights for any supported config, streaming.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "synth.h"
#include "writer/temp_files.h"

namespace {


const char* kUsage =
    "usage: mote-synth --config CONFIG.json -o OUT_DIR|FILE.mote [options]\n"
    "  --seed N          value seed (default 0); same seed -> identical files\n"
    "  --dtype D         bf16 (default), f16 or f32 for non-FP8 tensors\n"
    "  --shard-mb N      maximum shard size in MiB (default 2048)\n"
    "  --layers N        override num_hidden_layers (first_k_dense_replace is lowered to N-1\n"
    "                    when it would leave no MoE layer)\n"
    "  --set KEY=VALUE   override a top-level config.json key after --layers (VALUE is JSON, else\n"
    "                    a string), e.g. --set n_routed_experts=32; repeatable\n"
    "  --fp8             DeepSeek-V3 style F8_E4M3 linears with F32 128x128 weight_scale_inv\n"
    "  --quiet           no progress on stderr\n"
    "  --route-skew S    Zipf-like expert popularity per layer (exponent S, 0 = off = uniform\n"
    "                    random routing; recommended 0.3, see README)\n"
    "  --route-locality G  head 0 of attention layer 0 attends uniformly, its output scaled by G:\n"
    "                    a slowly varying running mean in every router's input (0 = off; README)\n"
    "  --dry-run         print tensor count, bytes and shard count; write nothing\n"
    "Direct .mote output (-o FILE.mote, or --mote): the quantised file mote-convert would write from\n"
    "the checkpoint above, byte for byte, streamed with no checkpoint on disk. mote-convert's flags:\n"
    "  --weights T (f32|f16|bf16|q8_0|q4|q2, default q8_0), --expert-weights T, --attn-weights T,\n"
    "  --shared-expert-weights T, --embed-weights T, --output-weights T (default: --weights, q8_0\n"
    "  when that is q4/q2), --no-mtp, --chunk-mb N, --threads N, --row-major; see mote-convert --help\n"
    "  --tokenizer DIR   embed DIR's tokenizer.json / tokenizer_config.json / tokenizer.model /\n"
    "                    generation_config.json as mote-convert embeds a checkpoint folder's\n"
    "  --source-name S   provenance source recorded in the file (default mote-synth:<config name>;\n"
    "                    mote-convert records its input folder)\n"
    "Model types: every family mote-convert supports (deepseek_v3, deepseek_v2, mixtral, qwen2_moe,\n"
    "qwen3_moe, olmoe, llama, qwen2, gpt_oss).\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "mote-synth: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

uint64_t parse_uint(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || v[0] == '-' || errno != 0) usage_error(flag + " needs a non-negative integer, got '" + v + "'");
  return n;
}

mote::synth::Options parse_args(int argc, char** argv) {
  mote::synth::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--config") o.config_path = value();
    else if (a == "-o" || a == "--output") o.out_dir = value();
    else if (a == "--seed") o.seed = parse_uint(a, value());
    else if (a == "--shard-mb") {
      const uint64_t mb = parse_uint(a, value());
      if (mb == 0) usage_error("--shard-mb must be positive");
      o.shard_bytes = mb << 20;
    } else if (a == "--layers") o.layers = int(parse_uint(a, value()));
    else if (a == "--fp8") o.fp8 = true;
    else if (a == "--set") {
      const std::string kv = value();
      const size_t eq = kv.find('=');
      if (eq == 0 || eq == std::string::npos) usage_error("--set needs KEY=VALUE, got '" + kv + "'");
      o.overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--mote") o.mote = true;
    else if (a == "--route-skew" || a == "--route-locality") {
      const std::string v = value();
      char* end = nullptr;
      const float x = std::strtof(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(x >= 0 && x <= 64)) usage_error(a + " needs a number in [0, 64], got '" + v + "'");
      (a == "--route-skew" ? o.route_skew : o.route_locality) = x;
    }
    else if (a == "--tokenizer") o.tokenizer_dir = value();
    else if (a == "--source-name") o.source_name = value();
    else if (a == "--weights" || a == "--expert-weights" || a == "--attn-weights" || a == "--shared-expert-weights" ||
             a == "--embed-weights" || a == "--output-weights" || a == "--chunk-mb" || a == "--threads") {
      o.convert_args.push_back(a);
      o.convert_args.push_back(value());
    } else if (a == "--no-mtp" || a == "--row-major") o.convert_args.push_back(a);
    else if (a == "--dry-run") o.dry_run = true;
    else if (a == "--dtype") {
      const std::string d = value();
      if (d == "bf16") o.dtype = mote::synth::Dtype::BF16;
      else if (d == "f16") o.dtype = mote::synth::Dtype::F16;
      else if (d == "f32") o.dtype = mote::synth::Dtype::F32;
      else usage_error("--dtype must be bf16, f16 or f32, got '" + d + "'");
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else usage_error("unknown argument '" + a + "'");
  }
  if (o.config_path.empty()) usage_error("--config is required");
  if (o.out_dir.empty()) usage_error("-o OUT_DIR is required");
  if (o.layers == 0) usage_error("--layers must be at least 1");
  const std::string& out = o.out_dir;
  if (out.size() > 5 && out.compare(out.size() - 5, 5, ".mote") == 0) o.mote = true;
  if (!o.mote && (!o.convert_args.empty() || !o.tokenizer_dir.empty() || !o.source_name.empty()))
    usage_error("--weights, --tokenizer and the other .mote flags need -o FILE.mote (or --mote)");
  if (o.mote && o.fp8) usage_error("--fp8 applies to checkpoints only (a .mote file has its own --weights)");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const mote::synth::Options opt = parse_args(argc, argv);
  try {
    if (opt.mote && !opt.dry_run) {
      mote::convert::remove_temp_on_signals(opt.out_dir);
      mote::synth::synthesize_mote(opt);
    } else {
      mote::synth::synthesize(opt);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote-synth: %s\n", e.what());
    return 1;
  }
  return 0;
}
