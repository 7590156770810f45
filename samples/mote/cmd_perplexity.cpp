// mote perplexity FILE --text PATH [--ctx 128] [--max-tokens N]: perplexity of a model on a text.
// Protocol (the same as tools/train/eval_demo.py, so the numbers compare with PyTorch's): the
// text is tokenized once (BOS first when the tokenizer adds one); windows of ctx + 1 tokens start
// every ctx tokens; each window's first ctx tokens run from an empty context (one prefill) and
// score the ctx tokens that follow. perplexity = exp(mean negative log-likelihood), in double.
// On the C API: mote_tokenize and mote_session_eval (all positions' logits of one batch).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "capi.h"
#include "cli.h"

namespace mote::cli {
namespace {

// -log softmax(logits)[target], computed in double. logits: [vocab].
double nll(const float* logits, int64_t vocab, int32_t target) {
  double max = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max = std::max(max, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max);
  return std::log(sum) + max - double(logits[target]);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the text");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text's ids with BOS when the tokenizer adds one.
mote_status tokenize_all(const mote_model* model, const std::string& text, std::vector<int32_t>* ids) {
  size_t count = 0;
  ids->resize(text.size() + 8);
  mote_status st = mote_tokenize(model, text.data(), text.size(), 1, ids->data(), ids->size(), &count);
  if (st == MOTE_ERR_BUFFER_TOO_SMALL) {
    ids->resize(count);
    st = mote_tokenize(model, text.data(), text.size(), 1, ids->data(), ids->size(), &count);
  }
  ids->resize(st == MOTE_OK ? count : 0);
  return st;
}

// "\r[perplexity] 1234/5000 tokens, ppl so far 12.3" on a terminal, rewritten in place.
void show_progress(int64_t scored, int64_t total, double nll_sum, bool done) {
  static const bool tty = isatty(STDERR_FILENO);
  if (!tty && !done) return;
  std::fprintf(stderr, "%s[perplexity] %lld/%lld tokens, ppl%s %.4f%s", tty ? "\r" : "", (long long)scored,
               (long long)total, done ? "" : " so far", std::exp(nll_sum / double(std::max<int64_t>(scored, 1))),
               tty && !done ? "" : "\n");
  std::fflush(stderr);
}

struct Scores {
  double total = 0;
  int64_t scored = 0, windows = 0;
};

mote_status score_windows(mote_session* session, const std::vector<int32_t>& ids, int64_t ctx, int64_t vocab,
                          Scores* out) {
  std::vector<float> logits(size_t(ctx * vocab));
  const int64_t to_score = int64_t(ids.size()) - 1;
  for (int64_t start = 0; start < to_score; start += ctx) {
    const int64_t n = std::min<int64_t>(ctx, to_score - start);
    if (mote_status st = mote_session_reset(session); st != MOTE_OK) return st;
    if (mote_status st = mote_session_eval(session, ids.data() + start, size_t(n), 1, logits.data(), logits.size());
        st != MOTE_OK)
      return st;
    for (int64_t i = 0; i < n; ++i) out->total += nll(logits.data() + i * vocab, vocab, ids[size_t(start + i + 1)]);
    out->scored += n;
    ++out->windows;
    show_progress(out->scored, to_score, out->total, false);
  }
  show_progress(out->scored, to_score, out->total, true);
  return MOTE_OK;
}

}  // namespace

int cmd_perplexity(const Args& args) {
  if (!args.has("--text")) throw std::runtime_error("perplexity needs --text PATH");
  const int64_t ctx = parse_int("--ctx", args.get("--ctx", "128"), 1, 1 << 20);
  const int64_t max_tokens = parse_int("--max-tokens", args.get("--max-tokens", "0"), 0, INT64_MAX);
  const std::string path = args.get("--text");
  const mote_model_params params = c_model_params(args);
  std::string text;
  try {
    text = read_text(path);
  } catch (const std::exception& e) {
    return std::fprintf(stderr, "mote: error: %s\n", e.what()), 1;
  }
  mote_model* opened = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &opened); st != MOTE_OK) return fail_c(st);
  const ModelPtr model(opened);
  mote_model_info info{};
  mote_model_get_info(model.get(), &info);
  std::vector<int32_t> ids;
  if (mote_status st = tokenize_all(model.get(), text, &ids); st != MOTE_OK) return fail_c(st);
  if (max_tokens > 0 && int64_t(ids.size()) > max_tokens + 1) ids.resize(size_t(max_tokens + 1));
  if (int64_t(ids.size()) < 2)
    return std::fprintf(stderr, "mote: error: %s: fewer than 2 tokens to score\n", path.c_str()), 1;

  mote_session_params sp = mote_session_params_default();
  sp.max_context = int32_t(ctx);
  sp.max_batch = int32_t(std::min<int64_t>(ctx, 512));
  sp.mtp = 0;
  mote_session* created = nullptr;
  if (mote_status st = mote_session_create(model.get(), &sp, &created); st != MOTE_OK) return fail_c(st);
  const SessionPtr session(created);
  Scores s;
  const auto t0 = std::chrono::steady_clock::now();
  if (mote_status st = score_windows(session.get(), ids, ctx, info.vocab_size, &s); st != MOTE_OK) return fail_c(st);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::ordered_json out = {{"model", args.positional[0]}, {"text", path},
                                {"perplexity", std::exp(s.total / double(s.scored))},
                                {"mean_nll", s.total / double(s.scored)}, {"tokens_scored", s.scored},
                                {"windows", s.windows}, {"ctx", ctx}, {"seconds", seconds},
                                {"tok_s", double(s.scored) / seconds}};
  mote_expert_stats e{};
  if (mote_model_get_expert_stats(model.get(), &e) == MOTE_OK && e.budget_bytes > 0) {
    out["expert_budget_bytes"] = e.budget_bytes;
    out["expert_hit_rate"] = e.accesses ? double(e.hits) / double(e.accesses) : 0.0;
    out["prefetch_hit_rate"] = e.prefetch_reads ? double(e.prefetch_hits) / double(e.prefetch_reads) : 0.0;
    out["bytes_read_per_token"] = double(e.bytes_read) / double(s.scored);
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace mote::cli
