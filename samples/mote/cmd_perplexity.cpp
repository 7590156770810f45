// mote perplexity FILE --text PATH [--ctx 128] [--max-tokens N] [--kv-type T] [--kl-base T]:
// perplexity of a model on a text; with --kl-base, also the KL divergence of the next-token
// distributions with the KV cache stored as --kv-type against the same model with the cache
// stored as the base type (two sessions of one model, the same windows, in one run).
// Protocol (the same as tools/train/eval_demo.py, so the numbers compare with PyTorch's): the
// text is tokenized once (BOS first when the tokenizer adds one); windows of ctx + 1 tokens start
// every ctx tokens; each window's first ctx tokens run from an empty context (one prefill) and
// score the ctx tokens that follow. perplexity = exp(mean negative log-likelihood), in double.
// On the C API: mote_tokenize and mote_session_eval (all positions' logits of one batch).
#include <unistd.h>

#include <chrono>
#include <algorithm>
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

// KL(p || q) in nats of softmax(base) = p and softmax(test) = q, and whether their argmax agree.
double kl_divergence(const float* base, const float* test, int64_t vocab, bool* same_top) {
  double max_p = base[0], max_q = test[0];
  int64_t top_p = 0, top_q = 0;
  for (int64_t i = 1; i < vocab; ++i) {
    if (base[i] > max_p) max_p = base[i], top_p = i;
    if (test[i] > max_q) max_q = test[i], top_q = i;
  }
  double sum_p = 0, sum_q = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    sum_p += std::exp(double(base[i]) - max_p);
    sum_q += std::exp(double(test[i]) - max_q);
  }
  const double log_zp = std::log(sum_p) + max_p, log_zq = std::log(sum_q) + max_q;
  double kl = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double log_p = double(base[i]) - log_zp, log_q = double(test[i]) - log_zq;
    kl += std::exp(log_p) * (log_p - log_q);
  }
  *same_top = top_p == top_q;
  return std::max(kl, 0.0);
}

struct Scores {
  double total = 0;
  int64_t scored = 0, windows = 0;
  // With a base session: KL(base || this) per scored token, and top-1 agreement.
  std::vector<double> kl;
  int64_t same_top = 0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[size_t(std::min<double>(double(v.size() - 1), q * double(v.size() - 1) + 0.5))];
}

// base (optional): a session of the same model with another KV cache type, run on the same
// windows; its logits are the reference of the KL divergence.
mote_status score_windows(mote_session* session, mote_session* base, const std::vector<int32_t>& ids, int64_t ctx,
                          int64_t vocab, Scores* out) {
  std::vector<float> logits(size_t(ctx * vocab)), base_logits(base ? size_t(ctx * vocab) : 0);
  const int64_t to_score = int64_t(ids.size()) - 1;
  for (int64_t start = 0; start < to_score; start += ctx) {
    const int64_t n = std::min<int64_t>(ctx, to_score - start);
    if (mote_status st = mote_session_reset(session); st != MOTE_OK) return st;
    if (mote_status st = mote_session_eval(session, ids.data() + start, size_t(n), 1, logits.data(), logits.size());
        st != MOTE_OK)
      return st;
    for (int64_t i = 0; i < n; ++i) out->total += nll(logits.data() + i * vocab, vocab, ids[size_t(start + i + 1)]);
    if (base != nullptr) {
      if (mote_status st = mote_session_reset(base); st != MOTE_OK) return st;
      if (mote_status st = mote_session_eval(base, ids.data() + start, size_t(n), 1, base_logits.data(),
                                             base_logits.size());
          st != MOTE_OK)
        return st;
      for (int64_t i = 0; i < n; ++i) {
        bool same = false;
        out->kl.push_back(kl_divergence(base_logits.data() + i * vocab, logits.data() + i * vocab, vocab, &same));
        out->same_top += same;
      }
    }
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
  print_auto_budget(args, model.get());
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
  sp.kv_type = kv_type_from_args(args);
  mote_session* created = nullptr;
  if (mote_status st = mote_session_create(model.get(), &sp, &created); st != MOTE_OK) return fail_c(st);
  const SessionPtr session(created);
  SessionPtr base;
  if (args.has("--kl-base")) {
    mote_session_params bp = sp;
    bp.kv_type = parse_kv_type("--kl-base", args.get("--kl-base"));
    if (mote_status st = mote_session_create(model.get(), &bp, &created); st != MOTE_OK) return fail_c(st);
    base.reset(created);
  }
  Scores s;
  const auto t0 = std::chrono::steady_clock::now();
  if (mote_status st = score_windows(session.get(), base.get(), ids, ctx, info.vocab_size, &s); st != MOTE_OK)
    return fail_c(st);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::ordered_json out = {{"model", args.positional[0]}, {"text", path},
                                {"perplexity", std::exp(s.total / double(s.scored))},
                                {"mean_nll", s.total / double(s.scored)}, {"tokens_scored", s.scored},
                                {"windows", s.windows}, {"ctx", ctx}, {"seconds", seconds},
                                {"tok_s", double(s.scored) / seconds},
                                {"kv_type", kv_type_flag_name(sp.kv_type)}};
  mote_stats stats{};
  if (mote_session_get_stats(session.get(), &stats) == MOTE_OK) out["kv_cache_bytes"] = stats.kv_cache_bytes;
  if (base) {
    double sum = 0;
    for (double k : s.kl) sum += k;
    out["kl_base"] = args.get("--kl-base");
    out["kl_mean"] = sum / double(s.kl.size());
    out["kl_p99"] = percentile(s.kl, 0.99);
    out["kl_max"] = percentile(s.kl, 1.0);
    out["top1_agreement"] = double(s.same_top) / double(s.kl.size());
  }
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
