// mote-to-gguf IN.mote OUT.gguf: the same weights as a GGUF file llama.cpp loads (mote_to_gguf.h).
#include <cstdio>
#include <exception>
#include <string>

#include "mote_to_gguf.h"

namespace {

const char* kUsage =
    "usage: mote-to-gguf IN.mote OUT.gguf [options]\n"
    "  --name NAME   general.name (default: IN's file name without .mote)\n"
    "  --pre NAME    tokenizer.ggml.pre (default by family: qwen2 for Qwen, olmo for OLMoE)\n"
    "  --tokenizer DIR  tokenizer.json (+ tokenizer_config.json, chat_template.jinja) from DIR\n"
    "                instead of the ones IN embeds (for a .mote written without a tokenizer)\n"
    "  --verify      check IN's segment checksums first (a full read)\n"
    "  --quiet       no progress on stderr\n"
    "Families: qwen3_moe (qwen3moe), qwen2_moe (qwen2moe), olmoe. Weight types: Q8_0 and Q4_0 are\n"
    "copied exactly (row groups de-interleaved), F32/F16/BF16 as they are (1-D as F32).\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "mote-to-gguf: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string in, out;
  mote::gguf::Options options;
  bool verify = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return std::fputs(kUsage, stdout), 0;
    if (a == "--name" || a == "--pre" || a == "--tokenizer") {
      if (i + 1 >= argc) return usage_error(a + " needs a value");
      (a == "--name" ? options.name : a == "--pre" ? options.pre : options.tokenizer_dir) = argv[++i];
    } else if (a == "--quiet") {
      options.quiet = true;
    } else if (a == "--verify") {
      verify = true;
    } else if (!a.empty() && a[0] == '-') {
      return usage_error("unknown option " + a);
    } else if (in.empty()) {
      in = a;
    } else if (out.empty()) {
      out = a;
    } else {
      return usage_error("one input and one output, got '" + a + "' too");
    }
  }
  if (in.empty() || out.empty()) return usage_error("needs IN.mote and OUT.gguf");
  try {
    auto file = mote::MoteFile::open(in);
    if (!file) throw std::runtime_error(file.status().message());
    if (verify)
      if (mote::Status st = (*file)->verify_checksums(true); !st) throw std::runtime_error(st.message());
    mote::gguf::Plan plan = mote::gguf::plan_gguf(**file, options);
    for (const std::string& note : plan.notes) std::fprintf(stderr, "mote-to-gguf: note: %s\n", note.c_str());
    mote::gguf::write_gguf(**file, plan, out, options.quiet);
    uint64_t bytes = 0;
    for (const auto& t : plan.tensors) bytes += t.info.bytes;
    std::fprintf(stderr, "mote-to-gguf: wrote %s: %zu tensors, %llu metadata keys, %.1f MB of tensor data\n", out.c_str(),
                 plan.tensors.size(), (unsigned long long)plan.meta.count(), double(bytes) / 1e6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote-to-gguf: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
