// mote-bench-tokenizer: encode throughput (MB/s) of every tokenizer in shared/data/tokenizers on
// a corpus (default: shared/data/corpora/war-and-peace.txt), single thread.
// Usage: mote-bench-tokenizer [shared_data_dir] [corpus_path]
// The first pass starts with an empty BPE word cache (cold); the best of three later passes is
// reported as warm. Decode throughput is reported for reference.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Entry {
  const char* name;
  const char* file;    // relative to tokenizers/
  const char* config;  // relative to tokenizers/, may be empty
  bool spm;
};

}  // namespace

int main(int argc, char** argv) {
  std::string data = argc > 1 ? argv[1] : "../shared/data";
  std::string corpus_path = argc > 2 ? argv[2] : data + "/corpora/war-and-peace.txt";
  std::string corpus;
  if (!read_file(corpus_path, &corpus)) {
    std::fprintf(stderr, "cannot read %s\n", corpus_path.c_str());
    return 1;
  }
  const Entry entries[] = {
      {"deepseek-v3", "deepseek-v3/tokenizer.json", "deepseek-v3/tokenizer_config.json", false},
      {"qwen3", "qwen3/tokenizer.json", "qwen3/tokenizer_config.json", false},
      {"gpt-oss", "gpt-oss/tokenizer.json", "gpt-oss/tokenizer_config.json", false},
      {"mixtral-8x7b (json)", "mixtral-8x7b/tokenizer.json", "mixtral-8x7b/tokenizer_config.json", false},
      {"olmoe", "olmoe/tokenizer.json", "", false},
      {"llama2 (model)", "llama2/tokenizer.model", "", true},
      {"mixtral-8x7b (model)", "mixtral-8x7b/tokenizer.model", "", true},
  };
  double mb = static_cast<double>(corpus.size()) / 1e6;
  std::printf("corpus %s: %.2f MB\n", corpus_path.c_str(), mb);
  std::printf("%-22s %8s %10s %12s %12s %12s\n", "tokenizer", "load s", "tokens", "cold MB/s", "warm MB/s", "decode MB/s");
  for (const Entry& e : entries) {
    std::string file, config;
    if (!read_file(data + "/tokenizers/" + e.file, &file)) {
      std::printf("%-22s missing\n", e.name);
      continue;
    }
    if (*e.config) read_file(data + "/tokenizers/" + e.config, &config);
    auto t0 = std::chrono::steady_clock::now();
    auto tok = e.spm ? mote::Tokenizer::from_sentencepiece_model(file) : mote::Tokenizer::from_hf_json(file, config);
    double load = seconds_since(t0);
    if (!tok.is_ok()) {
      std::printf("%-22s load failed: %s\n", e.name, tok.status().to_string().c_str());
      continue;
    }
    std::vector<int32_t> ids;
    t0 = std::chrono::steady_clock::now();
    mote::Status st = (*tok)->encode(corpus, false, &ids);
    double cold = seconds_since(t0);
    double warm = 1e30;
    for (int rep = 0; rep < 3 && st.is_ok(); ++rep) {
      t0 = std::chrono::steady_clock::now();
      st = (*tok)->encode(corpus, false, &ids);
      warm = std::min(warm, seconds_since(t0));
    }
    if (!st.is_ok()) {
      std::printf("%-22s encode failed: %s\n", e.name, st.to_string().c_str());
      continue;
    }
    t0 = std::chrono::steady_clock::now();
    auto text = (*tok)->decode(ids);
    double dec = seconds_since(t0);
    std::printf("%-22s %8.2f %10zu %12.1f %12.1f %12.1f\n", e.name, load, ids.size(), mb / cold, mb / warm, mb / dec);
  }
  return 0;
}
