#include "pipeline/options.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace mote::convert {

namespace {

WeightType parse_type(const std::string& flag, const std::string& value) {
  WeightType t;
  if (!parse_weight_type(value.c_str(), &t))
    throw UsageError("unknown weight type '" + value + "' for " + flag + " (expected f32, f16, bf16, q8_0, q4, q2)");
  return t;
}

uint64_t parse_count(const std::string& flag, const std::string& value, uint64_t lo, uint64_t hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw UsageError("invalid value '" + value + "' for " + flag + " (expected an integer in [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "])");
  return v;
}

}  // namespace

WeightType WeightRecipe::type_for(fb::TensorClass cls, size_t dims) const {
  if (dims < 2) return WeightType::F32;
  switch (cls) {
    case fb::TensorClass::Norm:
    case fb::TensorClass::Router: return WeightType::F32;
    case fb::TensorClass::Embedding: return embedding.value_or(base);
    case fb::TensorClass::Output: return output.value_or(default_output());
    case fb::TensorClass::Attention: return attention.value_or(base);
    case fb::TensorClass::SharedExpert: return shared_expert.value_or(base);
    case fb::TensorClass::RoutedExpert: return routed_expert.value_or(base);
    case fb::TensorClass::DenseFfn: return base;
  }
  return base;
}

std::string WeightRecipe::describe() const {
  auto name = [&](const std::optional<WeightType>& t) { return std::string(weight_type_name(t.value_or(base))); };
  return std::string("default=") + weight_type_name(base) + " routed_expert=" + name(routed_expert) +
         " shared_expert=" + name(shared_expert) + " attention=" + name(attention) +
         " embedding=" + name(embedding) + " output=" + weight_type_name(output.value_or(default_output())) + " norm,router=f32";
}

const char* usage_text() {
  return "usage: mote-convert <hf_dir> -o <file.mote> [--weights f32|f16|bf16|q8_0|q4|q2]\n"
         "         [--expert-weights T] [--attn-weights T] [--shared-expert-weights T]\n"
         "         [--embed-weights T] [--output-weights T] [--no-mtp] [--chunk-mb N]\n"
         "         [--threads N] [--row-major] [--quiet]\n"
         "  --weights T                default type of every weight matrix (default q8_0)\n"
         "  --expert-weights T         routed experts (q2: Q2_1, 3.0 bits/weight, meant for experts)\n"
         "  --attn-weights T           attention projections (q_a/q_b/q/kv_a/kv_b/o)\n"
         "  --shared-expert-weights T  shared experts\n"
         "  --embed-weights T          token embeddings\n"
         "  --output-weights T         lm_head (default: --weights, but q8_0 when that is q4 or q2)\n"
         "  --no-mtp                   drop the multi-token-prediction layer\n"
         "  --chunk-mb N               MiB per streaming conversion chunk (default 16)\n"
         "  --threads N                conversion threads (default: CPU count, at most 8)\n"
         "  --row-major                store every matrix row-major (default: q8_0/q4/q2 matrices used\n"
         "                             only by matmul, e.g. experts and projections, in row groups of 16\n"
         "                             rows, the SIMD kernels' layout; embeddings and kv_b stay row-major)\n"
         "  --quiet                    no progress line\n"
         "Norms, the router and e_score_correction_bias are always f32.\n";
}

std::optional<Options> parse_options(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (flag.rfind("--", 0) == 0 && flag.find('=') != std::string::npos) {
      inline_value = flag.substr(flag.find('=') + 1);
      flag = flag.substr(0, flag.find('='));
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError("missing value for " + flag);
      return args[++i];
    };
    if (flag == "-h" || flag == "--help") {
      std::fputs(usage_text(), stdout);
      return std::nullopt;
    } else if (flag == "-o" || flag == "--output") {
      o.output = value();
    } else if (flag == "--weights") {
      o.recipe.base = parse_type(flag, value());
    } else if (flag == "--expert-weights") {
      o.recipe.routed_expert = parse_type(flag, value());
    } else if (flag == "--attn-weights") {
      o.recipe.attention = parse_type(flag, value());
    } else if (flag == "--shared-expert-weights") {
      o.recipe.shared_expert = parse_type(flag, value());
    } else if (flag == "--embed-weights") {
      o.recipe.embedding = parse_type(flag, value());
    } else if (flag == "--output-weights") {
      o.recipe.output = parse_type(flag, value());
    } else if (flag == "--chunk-mb") {
      o.chunk_mb = parse_count(flag, value(), 1, 65536);
    } else if (flag == "--threads") {
      o.threads = unsigned(parse_count(flag, value(), 1, 256));
    } else if ((flag == "--no-mtp" || flag == "--quiet" || flag == "--row-major") && inline_value) {
      throw UsageError(flag + " takes no value");
    } else if (flag == "--no-mtp") {
      o.no_mtp = true;
    } else if (flag == "--row-major") {
      o.row_major = true;
    } else if (flag == "--quiet" || flag == "-q") {
      o.quiet = true;
    } else if (flag.size() > 1 && flag[0] == '-') {
      throw UsageError("unknown option " + flag);
    } else {
      positional.push_back(flag);
    }
  }
  if (positional.empty()) throw UsageError("missing input folder <hf_dir>");
  if (positional.size() > 1) throw UsageError("unexpected argument '" + positional[1] + "'");
  o.input_dir = positional[0];
  if (o.output.empty()) throw UsageError("missing -o <file.mote>");
  return o;
}

}  // namespace mote::convert
