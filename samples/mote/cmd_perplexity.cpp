// mote perplexity FILE --text PATH [--ctx 128] [--max-tokens N]: perplexity of a model on a text.
// Protocol (the same as tools/train/eval_demo.py, so the numbers compare with PyTorch's): the
// text is tokenized once (BOS first when the tokenizer adds one); windows of ctx + 1 tokens start
// every ctx tokens; each window's first ctx tokens run from an empty context (one prefill) and
// score the ctx tokens that follow. perplexity = exp(mean negative log-likelihood), in double.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "session/engine.h"
#include "session/session.h"

namespace mote::cli {
namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str());
  return 1;
}

// -log softmax(logits)[target], computed in double. logits: [vocab].
double nll(const float* logits, int64_t vocab, int32_t target) {
  double max = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max = std::max(max, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max);
  return std::log(sum) + max - double(logits[target]);
}

}  // namespace

int cmd_perplexity(const Args& args) {
  if (!args.has("--text")) throw std::runtime_error("perplexity needs --text PATH");
  const int64_t ctx = parse_int("--ctx", args.get("--ctx", "128"), 1, 1 << 20);
  const int64_t max_tokens = parse_int("--max-tokens", args.get("--max-tokens", "0"), 0, INT64_MAX);
  const std::string path = args.get("--text");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(io_error(path + ": cannot open the text"));
  std::stringstream text;
  text << in.rdbuf();

  EngineOptions options;
  options.model = model_options(args);
  auto engine = Engine::open(args.positional[0], options);
  if (!engine) return fail(engine.status());
  auto tokenizer = (*engine)->require_tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  std::vector<int32_t> ids;
  if (Status st = (*tokenizer)->encode(text.str(), true, &ids); !st) return fail(st);
  if (max_tokens > 0 && int64_t(ids.size()) > max_tokens + 1) ids.resize(size_t(max_tokens + 1));
  if (int64_t(ids.size()) < 2) return fail(invalid_argument(path + ": fewer than 2 tokens to score"));

  SessionOptions so;
  so.max_context = ctx;
  so.max_batch = std::min<int64_t>(ctx, 512);
  auto session = Session::create((*engine)->model(), so);
  if (!session) return fail(session.status());
  const int64_t vocab = (*session)->vocab_size();
  std::vector<float> logits(size_t(ctx * vocab));
  double total = 0;
  int64_t scored = 0, windows = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t start = 0; start + 1 < int64_t(ids.size()); start += ctx) {
    const int64_t n = std::min<int64_t>(ctx, int64_t(ids.size()) - 1 - start);
    (*session)->reset();
    if (Status st = (*session)->prefill({ids.data() + start, size_t(n)}, logits.data(), LogitsMode::kAll); !st)
      return fail(st);
    for (int64_t i = 0; i < n; ++i) total += nll(logits.data() + i * vocab, vocab, ids[size_t(start + i + 1)]);
    scored += n;
    ++windows;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::ordered_json out = {{"model", args.positional[0]}, {"text", path},
                                {"perplexity", std::exp(total / double(scored))},
                                {"mean_nll", total / double(scored)}, {"tokens_scored", scored},
                                {"windows", windows}, {"ctx", ctx}, {"seconds", seconds},
                                {"tok_s", double(scored) / seconds}};
  const ExpertStore& store = (*engine)->model().expert_store();
  if (!store.resident()) {
    const ExpertStats e = store.stats();
    out["expert_budget_bytes"] = store.budget_bytes();
    out["expert_hit_rate"] = e.accesses ? double(e.hits) / double(e.accesses) : 0.0;
    out["prefetch_hit_rate"] = e.prefetch_reads ? double(e.prefetch_hits) / double(e.prefetch_reads) : 0.0;
    out["bytes_read_per_token"] = double(e.bytes_read) / double(scored);
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace mote::cli
