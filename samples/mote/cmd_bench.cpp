// mote bench: prefill and decode speed, expert-store behaviour and peak memory of one run, as
// one JSON object on stdout. The prompt is seeded pseudo-random token ids (no tokenizer needed);
// decoding is greedy and ignores EOS, so every run does exactly --prompt + --gen tokens.
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_roofline.h"
#include "cli.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "session/session.h"

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

double ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : double(a) / double(b); }

ExpertStats minus(const ExpertStats& a, const ExpertStats& b) {
  ExpertStats d;
  d.accesses = a.accesses - b.accesses;
  d.hits = a.hits - b.hits;
  d.misses = a.misses - b.misses;
  d.bytes_read = a.bytes_read - b.bytes_read;
  d.evictions = a.evictions - b.evictions;
  d.io_stall_ns = a.io_stall_ns - b.io_stall_ns;
  d.prefetch_reads = a.prefetch_reads - b.prefetch_reads;
  d.prefetch_hits = a.prefetch_hits - b.prefetch_hits;
  d.prefetch_unused = a.prefetch_unused - b.prefetch_unused;
  d.prefetch_ns = a.prefetch_ns - b.prefetch_ns;
  d.read_ns = a.read_ns - b.read_ns;
  return d;
}

nlohmann::ordered_json store_json(const ExpertStats& s) {
  return {{"accesses", s.accesses},         {"hits", s.hits},
          {"misses", s.misses},             {"evictions", s.evictions},
          {"bytes_read", s.bytes_read},     {"io_stall_ms", double(s.io_stall_ns) / 1e6},
          {"prefetch_reads", s.prefetch_reads}, {"prefetch_hits", s.prefetch_hits},
          {"prefetch_unused", s.prefetch_unused}, {"read_ms", double(s.read_ns) / 1e6}};
}

struct DecodeRun {
  double seconds = 0;
  ExpertStats experts;          // during decoding only
  SpeculationStats speculation;
};

// Greedy decoding of n tokens after a prefill (logits: the prefill's last row), plain or with
// MTP drafts verified two tokens per pass; the same tokens either way.
Result<DecodeRun> timed_decode(Session& s, ExpertStore& store, std::vector<float>& logits, int64_t n, bool mtp) {
  const int64_t V = s.vocab_size();
  DecodeRun run;
  const ExpertStats before = store.stats();
  const auto t0 = std::chrono::steady_clock::now();
  int32_t pending = argmax(logits.data(), V);
  int64_t emitted = 1;
  if (!mtp) {
    for (; emitted < n; ++emitted) {
      MOTE_RETURN_IF_ERROR(s.decode(pending, logits.data()));
      pending = argmax(logits.data(), V);
    }
  } else {
    const size_t vocab = static_cast<size_t>(V);
    std::vector<float> q(vocab), verify(2 * vocab);
    MOTE_RETURN_IF_ERROR(s.mtp_begin(pending, q.data()));
    while (emitted < n) {
      const int32_t draft = argmax(q.data(), V);
      MOTE_RETURN_IF_ERROR(s.mtp_verify(pending, draft, verify.data()));
      ++run.speculation.steps;
      const int32_t target = argmax(verify.data(), V);
      if (target != draft || emitted + 1 == n) {
        MOTE_RETURN_IF_ERROR(s.mtp_reject(target, q.data()));
        pending = target, emitted += 1;
        continue;
      }
      ++run.speculation.accepted;
      pending = argmax(verify.data() + V, V);
      MOTE_RETURN_IF_ERROR(s.mtp_accept(draft, pending, q.data()));
      emitted += 2;
    }
  }
  run.seconds = seconds_since(t0);
  store.wait_idle();
  run.experts = minus(store.stats(), before);
  return run;
}

// --mtp-compare: the same prompt decoded plainly and with MTP speculation, in one run.
int mtp_compare(const Args& args, Model& model, const std::vector<int32_t>& prompt, int64_t n_gen) {
  if (!model.has_mtp()) {
    std::fprintf(stderr, "mote: error: --mtp-compare needs a model with an MTP module (%s has none)\n",
                 args.positional[0].c_str());
    return 1;
  }
  nlohmann::ordered_json out = {{"model", args.positional[0]}, {"n_prompt", prompt.size()}, {"n_gen", n_gen}};
  for (bool mtp : {false, true}) {
    SessionOptions so;
    so.max_context = int64_t(prompt.size()) + n_gen + 2;
    so.mtp = mtp;
    auto session = Session::create(model, so);
    if (!session) return std::fprintf(stderr, "mote: error: %s\n", session.status().to_string().c_str()), 1;
    std::vector<float> logits(size_t((*session)->vocab_size()));
    if (Status st = (*session)->prefill(prompt, logits.data()); !st)
      return std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str()), 1;
    auto run = timed_decode(**session, model.expert_store(), logits, n_gen, mtp);
    if (!run) return std::fprintf(stderr, "mote: error: %s\n", run.status().to_string().c_str()), 1;
    const std::string suffix = mtp ? "_mtp" : "";
    out["decode_tok_s" + suffix] = double(n_gen) / run->seconds;
    out["bytes_read_per_token" + suffix] = double(run->experts.bytes_read) / double(n_gen);
    out["expert_accesses_per_token" + suffix] = double(run->experts.accesses) / double(n_gen);
    if (mtp) {
      out["mtp_acceptance"] = ratio(uint64_t(run->speculation.accepted), uint64_t(run->speculation.steps));
      out["mtp_verify_passes"] = run->speculation.steps;
    }
  }
  out["mtp_speedup"] = out["decode_tok_s_mtp"].get<double>() / out["decode_tok_s"].get<double>();
  out["expert_budget_bytes"] = model.expert_store().budget_bytes();
  out["peak_rss_bytes"] = peak_rss_bytes();
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

struct BenchRun {
  double open_s = 0, prefill_s = 0, decode_s = 0;  // seconds
  ExpertStats after_prefill, total, decode;        // expert store counters: prefill, whole run, decode
};

// The JSON of one bench run (see cmd_bench): speeds, roofline, expert cache, memory bound.
nlohmann::ordered_json bench_report(const Args& args, const Model& model, const Session& s, const ModelOptions& model_opts,
                                    const BenchRun& run, int64_t n_prompt, int64_t n_gen, double bandwidth_gbs) {
  const ExpertStore& store = model.expert_store();
  const ExpertStats& after_prefill = run.after_prefill;
  const ExpertStats& total = run.total;
  const ExpertStats& decode = run.decode;
  const double open_s = run.open_s, prefill_s = run.prefill_s, decode_s = run.decode_s;
  // Roofline: the weight bytes a decoded token touched (dense + the experts it used) at the
  // measured bandwidth, over the measured time per token; prefill GFLOP/s from the weights'
  // multiply-adds (top-k experts per token).
  const ActiveWeights aw = active_weights(model);
  const double experts_per_token = double(decode.accesses) / double(n_gen);
  const double active_bytes = aw.dense_bytes + experts_per_token * aw.expert_bytes;
  const double roofline = (active_bytes / (bandwidth_gbs * 1e9)) / (decode_s / double(n_gen));
  const double prefill_macs = double(n_prompt) * (aw.dense_macs + double(model.hparams().n_experts_per_tok) * aw.expert_macs);
  const uint64_t expert_cache = store.resident() ? store.total_expert_bytes()
                                                 : uint64_t(store.slot_count()) * store.slot_bytes();
  const uint64_t bound = model.dense_bytes() + expert_cache + s.kv_cache_bytes() + s.scratch_bytes() + kRssSlackBytes;
  const uint64_t peak = peak_rss_bytes();
  nlohmann::ordered_json out = {
      {"model", args.positional[0]},
      {"n_prompt", n_prompt},
      {"n_gen", n_gen},
      {"open_s", open_s},
      {"prefill_tok_s", double(n_prompt) / prefill_s},
      {"decode_tok_s", double(n_gen) / decode_s},
      {"memory_bw_gbs", bandwidth_gbs},
      {"active_bytes_per_token", active_bytes},
      {"roofline_ratio", roofline},
      {"prefill_gflops", 2.0 * prefill_macs / prefill_s / 1e9},
      {"threads", kernels::num_threads()},
      {"expert_budget_bytes", model_opts.expert_budget_bytes},
      {"expert_cache_bytes", expert_cache},
      {"expert_bytes_total", store.total_expert_bytes()},
      {"expert_slots", store.slot_count()},
      {"expert_slot_bytes", store.slot_bytes()},
      {"expert_policy", eviction_kind_name(store.policy())},
      {"expert_hot_slots", store.hot_slot_count()},
      {"prefetch", store.wants_prefetch()},
      {"direct_io", store.direct_io()},
      {"expert_hit_rate", ratio(total.hits, total.accesses)},
      {"decode_expert_hit_rate", ratio(decode.hits, decode.accesses)},
      {"prefetch_hit_rate", ratio(total.prefetch_hits, total.prefetch_reads)},
      {"bytes_read_per_token", double(decode.bytes_read) / double(n_gen)},
      {"prefill_bytes_read_per_token", double(after_prefill.bytes_read) / double(n_prompt)},
      {"io_stall_ms", double(total.io_stall_ns) / 1e6},
      {"decode_io_stall_ms", double(decode.io_stall_ns) / 1e6},
      {"expert_read_gbs", total.read_ns == 0 ? 0.0 : double(total.bytes_read) / double(total.read_ns)},
      {"decode_expert_read_gbs_wall", double(decode.bytes_read) / decode_s / 1e9},
      {"peak_rss_bytes", peak},
      {"dense_bytes", model.dense_bytes()},
      {"kv_cache_bytes", s.kv_cache_bytes()},
      {"scratch_bytes", s.scratch_bytes()},
      {"rss_bound_bytes", bound},
      {"rss_within_bound", peak <= bound},
      {"prefill", store_json(after_prefill)},
      {"decode", store_json(decode)},
  };
  return out;
}

}  // namespace

int cmd_bench(const Args& args) {
  const int64_t n_prompt = parse_int("--prompt", args.get("--prompt", "32"), 1, 1 << 20);
  const int64_t n_gen = parse_int("--gen", args.get("--gen", "32"), 1, 1 << 20);
  const uint64_t seed = uint64_t(parse_int("--seed", args.get("--seed", "1"), 0, INT64_MAX));
  const ModelOptions model_opts = model_options(args);
  // First, while nothing else is resident: the bandwidth the decode roofline is measured against.
  const double bandwidth_gbs = args.has("--mtp-compare") ? 0.0 : measure_read_bandwidth_gbs(kernels::num_threads());
  const auto t_open = std::chrono::steady_clock::now();
  auto model = Model::open(args.positional[0], model_opts);
  if (!model) return std::fprintf(stderr, "mote: error: %s\n", model.status().to_string().c_str()), 1;
  const double open_s = seconds_since(t_open);
  SessionOptions session_opts;
  session_opts.max_context = n_prompt + n_gen;
  auto session = Session::create(**model, session_opts);
  if (!session) return std::fprintf(stderr, "mote: error: %s\n", session.status().to_string().c_str()), 1;
  Session& s = **session;
  ExpertStore& store = (*model)->expert_store();
  const std::vector<int32_t> prompt = seeded_prompt(n_prompt, s.vocab_size(), seed);
  if (args.has("--mtp-compare")) return mtp_compare(args, **model, prompt, n_gen);
  std::vector<float> logits(size_t(s.vocab_size()));

  store.reset_stats();
  const auto t_prefill = std::chrono::steady_clock::now();
  if (Status st = s.prefill(prompt, logits.data()); !st)
    return std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str()), 1;
  const double prefill_s = seconds_since(t_prefill);
  const ExpertStats after_prefill = store.stats();
  const auto t_decode = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_gen; ++i)
    if (Status st = s.decode(argmax(logits.data(), s.vocab_size()), logits.data()); !st)
      return std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str()), 1;
  const double decode_s = seconds_since(t_decode);
  store.wait_idle();
  const ExpertStats total = store.stats();
  const ExpertStats decode = minus(total, after_prefill);

  const BenchRun run{open_s, prefill_s, decode_s, after_prefill, total, decode};
  std::printf("%s\n", bench_report(args, **model, s, model_opts, run, n_prompt, n_gen, bandwidth_gbs).dump(2).c_str());
  return 0;
}

}  // namespace mote::cli