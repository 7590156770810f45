// mote bench: prefill and decode speed, expert-store behaviour and peak memory of one run, as
// one JSON object on stdout, on the public C API (mote.h). The prompt is seeded pseudo-random
// token ids (no tokenizer needed); decoding is greedy and ignores EOS, so every run does exactly
// --prompt + --gen tokens. Unless --no-warmup, a throwaway session first runs a short prefill and
// a few decode steps, so that the timed runs do not pay for the first touch of the mapped weights
// (page faults, reads from disk) or cold caches of the expert store.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_roofline.h"
#include "bench_tiers.h"
#include "capi.h"

namespace mote::cli {
namespace {

constexpr uint64_t kRssSlackBytes = 64ull << 20;  // code, allocator, page tables, stacks

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> seeded_prompt(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int32_t& id : ids) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    id = int32_t(x % uint64_t(vocab));
  }
  return ids;
}

// The first n tokens of the text file at `path` (tokenized with BOS as the model asks); an error
// names the file when it cannot be read or holds fewer than n tokens. Returns the exit code (0 = ok).
int text_tokens(const mote_model* model, const std::string& path, size_t n, std::vector<int32_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mote: error: --text %s: cannot read the file\n", path.c_str());
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t count = 0;
  mote_status st = mote_tokenize(model, text.data(), text.size(), 1, nullptr, 0, &count);
  if (st != MOTE_OK && st != MOTE_ERR_BUFFER_TOO_SMALL) return fail_c(st);
  out->resize(count);
  if (count > 0 && (st = mote_tokenize(model, text.data(), text.size(), 1, out->data(), count, &count)) != MOTE_OK)
    return fail_c(st);
  if (count < n) {
    std::fprintf(stderr, "mote: error: --text %s: %zu tokens, --prompt + --gen need %zu\n", path.c_str(), count, n);
    return 1;
  }
  out->resize(n);
  return 0;
}

// Greedy choice: the first id of the largest logit (lowest id on ties).
int32_t argmax(const std::vector<float>& logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

double ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : double(a) / double(b); }

// The counters of `a` minus those of `b` (the cache geometry and settings are a's).
mote_expert_stats minus(const mote_expert_stats& a, const mote_expert_stats& b) {
  mote_expert_stats d = a;
  d.accesses = a.accesses - b.accesses;
  d.hits = a.hits - b.hits;
  d.misses = a.misses - b.misses;
  d.bytes_read = a.bytes_read - b.bytes_read;
  d.evictions = a.evictions - b.evictions;
  d.io_stall_ms = a.io_stall_ms - b.io_stall_ms;
  d.prefetch_reads = a.prefetch_reads - b.prefetch_reads;
  d.prefetch_hits = a.prefetch_hits - b.prefetch_hits;
  d.prefetch_unused = a.prefetch_unused - b.prefetch_unused;
  d.read_ms = a.read_ms - b.read_ms;
  return d;
}

nlohmann::ordered_json store_json(const mote_expert_stats& s) {
  return {{"accesses", s.accesses},         {"hits", s.hits},
          {"misses", s.misses},             {"evictions", s.evictions},
          {"bytes_read", s.bytes_read},     {"io_stall_ms", s.io_stall_ms},
          {"prefetch_reads", s.prefetch_reads}, {"prefetch_hits", s.prefetch_hits},
          {"prefetch_unused", s.prefetch_unused}, {"read_ms", s.read_ms}};
}

// The expert counters; with wait, after the reads still in flight (prefetch) have completed, so
// that they count.
mote_status expert_stats(mote_model* model, bool wait, mote_expert_stats* out) {
  if (wait)
    if (mote_status st = mote_model_wait_expert_io(model); st != MOTE_OK) return st;
  return mote_model_get_expert_stats(model, out);
}

// Tokens per prefill pass (--batch; 0: the library's default).
int64_t g_batch = 0;

// mtp: MOTE_MTP_OFF, MOTE_MTP_ADAPTIVE or MOTE_MTP_ALWAYS.
mote_status create_session(mote_model* model, int64_t max_context, int32_t mtp, mote_kv_type kv_type, SessionPtr* out) {
  mote_session_params sp = mote_session_params_default();
  sp.max_context = int32_t(max_context);
  if (g_batch > 0) sp.max_batch = int32_t(g_batch);
  sp.mtp = mtp;
  sp.kv_type = kv_type;
  mote_session* s = nullptr;
  const mote_status st = mote_session_create(model, &sp, &s);
  out->reset(s);
  return st;
}

struct DecodeRun {
  mote_stats stats{};             // the session's: decode speed, MTP verify passes and drafts kept
  mote_expert_stats experts{};    // during the generation call only
};

// Greedy decoding of n tokens after the prompt, plain (mtp false) or with MTP drafts verified two
// tokens per pass, through mote_generate_tokens (no tokenizer needed); the same tokens either
// way. The prompt but its last id is evaluated first, so the expert counters cover the call that
// evaluates the last id and decodes (one pass more than the decoding itself).
mote_status timed_decode(mote_model* model, const std::vector<int32_t>& prompt, int64_t n, int32_t mtp,
                         mote_kv_type kv_type, DecodeRun* run) {
  SessionPtr session;
  if (mote_status st = create_session(model, int64_t(prompt.size()) + n + 2, mtp, kv_type, &session); st != MOTE_OK)
    return st;
  if (prompt.size() > 1)
    if (mote_status st = mote_session_eval(session.get(), prompt.data(), prompt.size() - 1, 0, nullptr, 0); st != MOTE_OK)
      return st;
  mote_expert_stats before{}, after{};
  if (mote_status st = expert_stats(model, false, &before); st != MOTE_OK) return st;
  mote_generate_params gp = mote_generate_params_default();  // greedy sampling
  gp.max_tokens = int32_t(n);
  gp.ignore_eos = 1;
  if (mote_status st = mote_generate_tokens(session.get(), &prompt.back(), 1, &gp, nullptr, nullptr); st != MOTE_OK)
    return st;
  if (mote_status st = expert_stats(model, true, &after); st != MOTE_OK) return st;
  run->experts = minus(after, before);
  return mote_session_get_stats(session.get(), &run->stats);
}

mote_status warm_up(mote_model* model, const std::vector<int32_t>& prompt, mote_kv_type kv_type);

// --mtp-compare: the same prompt decoded plainly (mtp off), with adaptive MTP drafting (the
// default) and with a draft every step, in one run. The adaptive run's policy reports the
// speed-up it predicted from its own measurements (draft_speedup_predicted); the measured one
// of drafting is always / plain. --repeat R runs the three R times, interleaved (so a noisy
// machine hits them alike), and reports medians; the per-run ratios come from the same round.
// MOTE_TEST_FORCED_ACCEPTANCE (test hook, c_api_generate.cpp) forces the acceptance rate.
int mtp_compare(const Args& args, mote_model* model, const mote_model_info& info, const std::vector<int32_t>& prompt,
                int64_t n_gen) {
  if (!info.has_mtp) {
    std::fprintf(stderr, "mote: error: --mtp-compare needs a model with an MTP module (%s has none)\n",
                 args.positional[0].c_str());
    return 1;
  }
  const int64_t repeat = parse_int("--repeat", args.get("--repeat", "1"), 1, 100);
  nlohmann::ordered_json out = {{"model", args.positional[0]}, {"n_prompt", prompt.size()}, {"n_gen", n_gen},
                                {"repeat", repeat}};
  if (const char* forced = std::getenv("MOTE_TEST_FORCED_ACCEPTANCE")) out["forced_acceptance"] = forced;
  struct Mode {
    int32_t mtp;
    const char* suffix;
  };
  const Mode modes[] = {{MOTE_MTP_OFF, ""}, {MOTE_MTP_ADAPTIVE, "_mtp"}, {MOTE_MTP_ALWAYS, "_mtp_always"}};
  std::vector<double> tok_s[3], ratio_adaptive, ratio_always, predicted, acceptance, cost, drafted;
  for (int64_t r = 0; r < repeat; ++r) {
    for (int m = 0; m < 3; ++m) {
      DecodeRun run;
      if (mote_status st = timed_decode(model, prompt, n_gen, modes[m].mtp, kv_type_from_args(args), &run); st != MOTE_OK)
        return fail_c(st);
      tok_s[m].push_back(run.stats.decode_tok_s);
      const std::string suffix = modes[m].suffix;
      out["bytes_read_per_token" + suffix] = double(run.experts.bytes_read) / double(n_gen);
      out["expert_accesses_per_token" + suffix] = double(run.experts.accesses) / double(n_gen);
      if (modes[m].mtp == MOTE_MTP_ADAPTIVE) {
        predicted.push_back(run.stats.draft_speedup_predicted);
        acceptance.push_back(run.stats.draft_acceptance);
        cost.push_back(run.stats.draft_cost_ratio);
        const int64_t steps = run.stats.draft_steps + run.stats.draft_skipped;
        drafted.push_back(steps > 0 ? double(run.stats.draft_steps) / double(steps) : 0.0);
        out["mtp_verify_passes"] = run.stats.draft_steps;
        out["mtp_skipped_steps"] = run.stats.draft_skipped;
        out["mtp_probes"] = run.stats.draft_probes;
        out["mtp_dropped_drafts"] = run.stats.draft_dropped;  // draft rows the per-step gate dropped
      }
      if (modes[m].mtp == MOTE_MTP_ALWAYS)
        out["mtp_acceptance"] = ratio(uint64_t(run.stats.drafts_accepted), uint64_t(run.stats.draft_steps));
    }
    ratio_adaptive.push_back(tok_s[1].back() / tok_s[0].back());
    ratio_always.push_back(tok_s[2].back() / tok_s[0].back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  for (int m = 0; m < 3; ++m) out["decode_tok_s" + std::string(modes[m].suffix)] = median(tok_s[m]);
  out["mtp_speedup"] = median(ratio_adaptive);             // adaptive / plain
  out["mtp_speedup_always"] = median(ratio_always);        // measured speed-up of drafting every step
  out["mtp_speedup_predicted"] = median(predicted);        // the adaptive policy's prediction
  out["mtp_acceptance_estimate"] = median(acceptance);
  out["mtp_cost_ratio"] = median(cost);                    // draft step / plain step, measured
  out["mtp_drafted_fraction"] = median(drafted);           // adaptive: draft steps / all steps
  out["mtp_speedup_runs"] = ratio_adaptive;
  out["mtp_speedup_always_runs"] = ratio_always;
  mote_expert_stats e{};
  if (mote_status st = mote_model_get_expert_stats(model, &e); st != MOTE_OK) return fail_c(st);
  out["expert_budget_bytes"] = e.budget_bytes;
  out["peak_rss_bytes"] = peak_rss_bytes();
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

struct BenchRun {
  double open_s = 0, prefill_s = 0, decode_s = 0;     // seconds
  double warmup_s = 0;                                 // the warm-up (0 with --no-warmup)
  double kv_bytes_per_token = 0;                       // KV cache bytes a timed decode token read, averaged
  mote_expert_stats after_prefill{}, total{}, decode{};  // expert counters: prefill, whole run, decode
  mote_stats session{};                                // KV cache and scratch bytes
  mote_stats before{}, after_prefill_session{};        // the tier counters around the prefill
};

// A throwaway session: a prefill of up to 64 prompt tokens (enough that random ids route to
// nearly every expert: an expert of top-k of E stays unused with probability (1 - k/E)^64) and 4
// decode steps, so that every dense weight and most experts are paged in and the kernels' thread
// pool is up before anything is timed.
mote_status warm_up(mote_model* model, const std::vector<int32_t>& prompt, mote_kv_type kv_type) {
  constexpr size_t kPrefill = 64, kSteps = 4;
  const size_t n = std::min(prompt.size(), kPrefill);
  SessionPtr session;
  if (mote_status st = create_session(model, int64_t(n + kSteps), MOTE_MTP_OFF, kv_type, &session); st != MOTE_OK) return st;
  if (mote_status st = mote_session_eval(session.get(), prompt.data(), n, 0, nullptr, 0); st != MOTE_OK) return st;
  for (size_t i = 0; i < kSteps; ++i)
    if (mote_status st = mote_session_eval(session.get(), &prompt[i % n], 1, 0, nullptr, 0); st != MOTE_OK) return st;
  return mote_model_wait_expert_io(model);
}

// The KV cache bytes read by the decode tokens at positions first .. first + n - 1, averaged.
mote_status kv_bytes_per_token(const mote_session* session, int64_t first, int64_t n, double* out) {
  double sum = 0;
  for (int64_t p = first; p < first + n; ++p) {
    uint64_t bytes = 0;
    if (mote_status st = mote_session_get_kv_read_bytes(session, p, &bytes); st != MOTE_OK) return st;
    sum += double(bytes);
  }
  *out = sum / double(n);
  return MOTE_OK;
}

// The CPU and the kernel tables, for the JSON: which tables exist and which this model runs.
mote_status cpu_json(const mote_model* model, nlohmann::ordered_json* out) {
  const CpuDescription cpu = describe_cpu();
  const char* active = nullptr;
  if (mote_status st = mote_model_get_kernels(model, &active); st != MOTE_OK) return st;
  const char* names[8] = {};
  size_t n = 0;
  if (mote_status st = mote_available_kernels(names, 8, &n); st != MOTE_OK) return st;
  nlohmann::ordered_json flags = nlohmann::ordered_json::object();
  for (const auto& [flag, present] : cpu.flags) flags[flag] = present;
  (*out)["cpu_model"] = cpu.model;
  (*out)["cpu_flags"] = flags;
  (*out)["kernels"] = active;
  (*out)["kernels_available"] = std::vector<std::string>(names, names + n);
  return MOTE_OK;
}

// The JSON of one bench run (see cmd_bench): speeds, roofline, expert cache, memory bound.
nlohmann::ordered_json bench_report(const Args& args, const mote_model_info& info, const BenchRun& run, int64_t n_prompt,
                                    int64_t n_gen, double bandwidth_gbs) {
  const mote_expert_stats& after_prefill = run.after_prefill;
  const mote_expert_stats& total = run.total;
  const mote_expert_stats& decode = run.decode;
  const double open_s = run.open_s, prefill_s = run.prefill_s, decode_s = run.decode_s;
  // Roofline: the weight bytes a decoded token touched (dense + the experts it used) at the
  // measured bandwidth, over the measured time per token; prefill GFLOP/s from the weights'
  // multiply-adds (top-k experts per token).
  // Decode also reads the KV cache (run.kv_bytes_per_token): roofline_ratio counts both,
  // roofline_ratio_weights_only the weights alone (the figure roofline_ratio was before).
  const double experts_per_token = double(decode.accesses) / double(n_gen);
  const double active_bytes = info.dense_bytes_per_token + experts_per_token * info.expert_bytes;
  const double decode_tok_s = double(n_gen) / decode_s;
  const double roofline_weights = active_bytes * decode_tok_s / (bandwidth_gbs * 1e9);
  const double roofline = (active_bytes + run.kv_bytes_per_token) * decode_tok_s / (bandwidth_gbs * 1e9);
  const double prefill_macs =
      double(n_prompt) * (info.dense_macs_per_token + double(info.n_experts_per_tok) * info.expert_macs);
  const uint64_t expert_cache = total.slot_count == 0 ? total.total_bytes : uint64_t(total.slot_count) * total.slot_bytes;
  const uint64_t kv = run.session.kv_cache_bytes, scratch = run.session.scratch_bytes;
  const uint64_t bound = info.dense_bytes + expert_cache + kv + scratch + kRssSlackBytes;
  const uint64_t peak = peak_rss_bytes();
  nlohmann::ordered_json out = {
      {"model", args.positional[0]},
      {"n_prompt", n_prompt},
      {"n_gen", n_gen},
      {"open_s", open_s},
      {"prefill_tok_s", double(n_prompt) / prefill_s},
      {"decode_tok_s", decode_tok_s},
      {"warmup", run.warmup_s > 0},
      {"warmup_s", run.warmup_s},
      {"memory_bw_gbs", bandwidth_gbs},
      {"active_bytes_per_token", active_bytes},
      {"weight_bytes_per_token", active_bytes},
      {"kv_bytes_per_token", run.kv_bytes_per_token},
      {"roofline_ratio", roofline},
      {"roofline_ratio_weights_only", roofline_weights},
      {"prefill_gflops", 2.0 * prefill_macs / prefill_s / 1e9},
      {"threads", info.n_threads},
      {"expert_budget_bytes", total.budget_bytes},
      {"expert_cache_bytes", expert_cache},
      {"expert_bytes_total", total.total_bytes},
      {"expert_slots", total.slot_count},
      {"expert_slot_bytes", total.slot_bytes},
      {"expert_policy", total.policy == MOTE_EXPERT_POLICY_LRU ? "lru" : "lfu"},
      {"expert_hot_slots", total.hot_slots},
      {"prefetch", total.prefetch != 0},
      {"direct_io", total.direct_io != 0},
      {"expert_hit_rate", ratio(total.hits, total.accesses)},
      {"decode_expert_hit_rate", ratio(decode.hits, decode.accesses)},
      {"prefetch_hit_rate", ratio(total.prefetch_hits, total.prefetch_reads)},
      {"bytes_read_per_token", double(decode.bytes_read) / double(n_gen)},
      {"prefill_bytes_read_per_token", double(after_prefill.bytes_read) / double(n_prompt)},
      {"io_stall_ms", total.io_stall_ms},
      {"decode_io_stall_ms", decode.io_stall_ms},
      {"expert_read_gbs", total.read_ms == 0 ? 0.0 : double(total.bytes_read) / (total.read_ms * 1e6)},
      {"decode_expert_read_gbs_wall", double(decode.bytes_read) / decode_s / 1e9},
      {"peak_rss_bytes", peak},
      {"dense_bytes", info.dense_bytes},
      {"kv_type", kv_type_flag_name(kv_type_from_args(args))},
      {"kv_cache_bytes", kv},
      {"scratch_bytes", scratch},
      {"rss_bound_bytes", bound},
      {"rss_within_bound", peak <= bound},
      {"expert_stats_path", total.stats_path != nullptr ? total.stats_path : ""},
      {"expert_stats_learned", total.learned != 0},
      {"expert_stats_learned_tokens", total.learned_tokens},
      {"experts_preloaded", total.preloaded},
      {"prompt_source", args.has("--text") ? "text" : "random"},
      {"prefill", store_json(after_prefill)},
      {"decode", store_json(decode)},
  };
  return out;
}

// Prefill of the prompt, then n_gen greedy decode steps (one token per pass, no MTP), timed; the
// expert counters relative to `base` (taken before the prefill).
// forced (--text): the tokens fed to the decode steps instead of the greedy choice ([n_gen]) or empty.
mote_status run_plain(mote_model* model, mote_session* session, const std::vector<int32_t>& prompt, int64_t n_gen,
                      size_t vocab, const std::vector<int32_t>& forced, BenchRun* run) {
  mote_expert_stats base{}, after_prefill{}, total{};
  if (mote_status st = expert_stats(model, false, &base); st != MOTE_OK) return st;
  if (mote_status st = mote_session_get_stats(session, &run->before); st != MOTE_OK) return st;
  std::vector<float> logits(vocab);
  const auto t_prefill = std::chrono::steady_clock::now();
  if (mote_status st = mote_session_eval(session, prompt.data(), prompt.size(), 0, logits.data(), logits.size());
      st != MOTE_OK)
    return st;
  run->prefill_s = seconds_since(t_prefill);
  if (mote_status st = expert_stats(model, false, &after_prefill); st != MOTE_OK) return st;
  if (mote_status st = mote_session_get_stats(session, &run->after_prefill_session); st != MOTE_OK) return st;
  const auto t_decode = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_gen; ++i) {
    const int32_t next = forced.empty() ? argmax(logits) : forced[size_t(i)];
    if (mote_status st = mote_session_eval(session, &next, 1, 0, logits.data(), logits.size()); st != MOTE_OK)
      return st;
  }
  run->decode_s = seconds_since(t_decode);
  if (mote_status st = kv_bytes_per_token(session, int64_t(prompt.size()), n_gen, &run->kv_bytes_per_token); st != MOTE_OK)
    return st;
  if (mote_status st = expert_stats(model, true, &total); st != MOTE_OK) return st;
  run->after_prefill = minus(after_prefill, base);
  run->total = minus(total, base);
  run->decode = minus(total, after_prefill);
  return mote_session_get_stats(session, &run->session);
}

}  // namespace

int cmd_bench(const Args& args) {
  const int64_t n_prompt = parse_int("--prompt", args.get("--prompt", "32"), 1, 1 << 20);
  const int64_t n_gen = parse_int("--gen", args.get("--gen", "32"), 1, 1 << 20);
  const uint64_t seed = uint64_t(parse_int("--seed", args.get("--seed", "1"), 0, INT64_MAX));
  g_batch = parse_int("--batch", args.get("--batch", "0"), 0, 1 << 16);
  mote_model_params params = c_model_params(args);
  // Learning only when asked for by name: two bench runs must not influence each other.
  if (!args.has("--expert-stats") && std::getenv("MOTE_EXPERT_STATS") == nullptr) params.expert_learn = 0;
  const auto t_open = std::chrono::steady_clock::now();
  mote_model* raw = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &raw); st != MOTE_OK) return fail_c(st);
  const ModelPtr model(raw);
  const double open_s = seconds_since(t_open);
  print_auto_budget(args, model.get());
  mote_model_info info{};
  if (mote_status st = mote_model_get_info(model.get(), &info); st != MOTE_OK) return fail_c(st);
  std::vector<int32_t> prompt = seeded_prompt(n_prompt, info.vocab_size, seed), forced;
  if (args.has("--text")) {
    std::vector<int32_t> ids;
    if (int rc = text_tokens(model.get(), args.get("--text"), size_t(n_prompt + n_gen), &ids); rc != 0) return rc;
    prompt.assign(ids.begin(), ids.begin() + n_prompt);
    forced.assign(ids.begin() + n_prompt, ids.end());
  }
  if (args.has("--mtp-compare")) {
    if (!args.has("--no-warmup"))
      if (mote_status st = warm_up(model.get(), prompt, kv_type_from_args(args)); st != MOTE_OK) return fail_c(st);
    return mtp_compare(args, model.get(), info, prompt, n_gen);
  }
  // Before any weight is touched (opening maps the file and reads only its metadata): the
  // bandwidth the decode roofline is measured against, on the model's kernel thread count.
  const double bandwidth_gbs = measure_read_bandwidth_gbs(info.n_threads, bandwidth_buffer_bytes(model.get()));
  BenchRun run;
  run.open_s = open_s;
  // Before the timed session exists, so that the two sessions' buffers never add up in the peak RSS.
  if (!args.has("--no-warmup")) {
    const auto t_warm = std::chrono::steady_clock::now();
    if (mote_status st = warm_up(model.get(), prompt, kv_type_from_args(args)); st != MOTE_OK) return fail_c(st);
    run.warmup_s = seconds_since(t_warm);
  }
  SessionPtr session;
  if (mote_status st = create_session(model.get(), n_prompt + n_gen, MOTE_MTP_OFF, kv_type_from_args(args), &session); st != MOTE_OK) return fail_c(st);
  if (mote_status st = run_plain(model.get(), session.get(), prompt, n_gen, size_t(info.vocab_size), forced, &run);
      st != MOTE_OK)
    return fail_c(st);
  nlohmann::ordered_json out = bench_report(args, info, run, n_prompt, n_gen, bandwidth_gbs);
  out["backend"] = args.get("--backend", "cpu");
  out["tiers"] = tiers_json(model.get(), run.before, run.after_prefill_session, run.session);
  if (mote_status st = cpu_json(model.get(), &out); st != MOTE_OK) return fail_c(st);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace mote::cli
