// mote plan FILE: the memory plan of --expert-budget auto (mote_model_get_memory_plan) and a
// decode-speed prediction from speeds measured now: the expert read speed of this file
// (mote_model_measure_expert_reads) and the memory read bandwidth (bench_roofline.h). All through
// the public C API. The model is opened with every expert resident in the mapping and nothing is
// read but the measured sample, so planning costs no memory.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "bench_roofline.h"
#include "capi.h"

namespace mote::cli {

namespace {

struct PlanFlags {
  int32_t ctx = 4096;
  int64_t kv_at = -1;  // position whose KV read is counted; -1: ctx / 2
  uint64_t mem_limit = 0;
  int32_t threads = 0;
  double read_seconds = 1.0;
  bool json = false;
};

PlanFlags plan_flags(const Args& args) {
  PlanFlags f;
  if (args.positional.size() != 1) throw std::runtime_error("plan takes one FILE (mote plan --help)");
  f.ctx = int32_t(parse_int("--ctx", args.get("--ctx", "4096"), 1, 1 << 24));
  if (args.has("--kv-at")) f.kv_at = parse_int("--kv-at", args.get("--kv-at"), 0, f.ctx - 1);
  if (args.has("--mem-limit")) {
    f.mem_limit = parse_size("--mem-limit", args.get("--mem-limit"));
    if (f.mem_limit == 0) throw std::runtime_error("--mem-limit must be > 0 (omit it to detect the memory)");
  }
  if (args.has("--threads")) f.threads = int32_t(parse_int("--threads", args.get("--threads"), 0, 4096));
  if (args.has("--read-seconds")) {
    const std::string text = args.get("--read-seconds");
    char* end = nullptr;
    f.read_seconds = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(f.read_seconds > 0) || f.read_seconds > 60)
      throw std::runtime_error("--read-seconds must be a number of seconds in (0, 60], not '" + text + "'");
  }
  f.json = args.has("--json");
  return f;
}

// Expected hit rate per token over the MoE layers. With learned routing statistics
// (mote_expert_entry.learned, README "Learning expert cache"): the cache keeps the plan's slots'
// worth of the experts the statistics rank hottest over all layers, as the learned pre-load does.
// Else each layer's share of the slots applied to its use counts (uniform while it has none).
double hit_rate(const mote_model* model, const mote_memory_plan& plan, std::string* from) {
  *from = "uniform routing";
  if (plan.all_resident) return 1.0;
  if (!plan.fits || plan.n_experts == 0) return 0.0;
  int32_t n_layers = 0, n_experts = 0;
  size_t count = 0;
  mote_model_get_expert_map(model, &n_layers, &n_experts, nullptr, 0, &count);
  std::vector<mote_expert_entry> map(count);
  if (count == 0 || n_layers == 0 ||
      mote_model_get_expert_map(model, &n_layers, &n_experts, map.data(), map.size(), &count) != MOTE_OK)
    return double(plan.slots) / double(plan.n_experts);
  std::vector<double> learned(count);
  bool has_learned = false;
  for (size_t i = 0; i < count; ++i) {
    learned[i] = map[i].learned;
    has_learned = has_learned || learned[i] > 0;
  }
  if (has_learned) {
    *from = "learned routing statistics";
    const int64_t main_slots = plan.slots * int64_t(count) / plan.n_experts;  // MTP layers' share left out
    return mote_expected_hit_rate(learned.data(), learned.size(), main_slots);
  }
  const int64_t per_layer = plan.slots * n_experts / plan.n_experts;  // the plan's share of one layer
  double sum = 0;
  std::vector<double> uses(size_t(n_experts), 0.0);
  for (int32_t l = 0; l < n_layers; ++l) {
    for (int32_t e = 0; e < n_experts; ++e) {
      uses[size_t(e)] = double(map[size_t(l) * n_experts + e].uses);
      if (uses[size_t(e)] > 0) *from = "use counts since open";
    }
    sum += mote_expected_hit_rate(uses.data(), uses.size(), per_layer);
  }
  return sum / n_layers;
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / (1 << 20));
  return text;
}

void print_text(const nlohmann::json& j) {
  const auto& m = j["memory"];
  std::printf("memory found:     %s (%s)\n", mib(m["available_bytes"]).c_str(),
              m["source"].get<std::string>().c_str());
  if (m["cgroup_limit_bytes"].get<uint64_t>() > 0)
    std::printf("  cgroup limit %s, in use %s; MemAvailable %s\n", mib(m["cgroup_limit_bytes"]).c_str(),
                mib(m["cgroup_usage_bytes"]).c_str(), mib(m["mem_available_bytes"]).c_str());
  std::printf("dense weights:    %s\n", mib(m["dense_bytes"]).c_str());
  std::printf("KV cache:         %s (%d tokens)\n", mib(m["kv_bytes"]).c_str(), m["plan_context"].get<int>());
  std::printf("scratch:          %s\n", mib(m["scratch_bytes"]).c_str());
  std::printf("margin:           %s\n", mib(m["margin_bytes"]).c_str());
  const auto& e = j["experts"];
  if (!j["fits"].get<bool>()) {
    std::printf("experts:          DO NOT FIT: not even %d slots of %s (--expert-budget auto fails)\n",
                e["experts_per_token"].get<int>(), mib(e["slot_bytes"]).c_str());
  } else if (e["all_resident"].get<bool>()) {
    std::printf("experts:          all %lld resident (%s; no budget)\n", (long long)e["experts"].get<int64_t>(),
                mib(e["total_bytes"]).c_str());
  } else {
    std::printf("expert budget:    %s: %lld of %lld experts (%.1f%%) in slots of %s; experts total %s\n",
                mib(e["budget_bytes"]).c_str(), (long long)e["slots"].get<int64_t>(),
                (long long)e["experts"].get<int64_t>(), 100.0 * e["slot_share"].get<double>(),
                mib(e["slot_bytes"]).c_str(), mib(e["total_bytes"]).c_str());
  }
  const auto& p = j["prediction"];
  std::printf("expected hit rate %.1f%% (%s)\n", 100.0 * p["hit_rate"].get<double>(),
              p["hit_rate_from"].get<std::string>().c_str());
  std::printf("per token:        %s from memory, %s of experts from disk\n",
              mib(p["memory_bytes_per_token"]).c_str(), mib(p["disk_bytes_per_token"]).c_str());
  std::printf("measured:         memory %.1f GB/s, expert reads %.2f GB/s%s\n", p["memory_bw_gbs"].get<double>(),
              p["disk_gbs"].get<double>(), p["disk_direct_io"].get<bool>() ? " (O_DIRECT)" : " (page cache possible)");
  std::printf("predicted decode: %.2f tok/s (memory and disk roofline, compute left out)\n",
              p["tok_s"].get<double>());
}

}  // namespace

int cmd_plan(const Args& args) {
  PlanFlags f;
  try {
    f = plan_flags(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s\n", e.what());
    return 2;
  }
  mote_model_params params = mote_model_params_default();
  params.n_threads = f.threads;
  params.mem_limit_bytes = f.mem_limit;
  params.plan_context = f.ctx;
  // The learned routing statistics, read only (no budget: nothing is pre-loaded, and a model
  // that routes no token writes nothing back): the default file, or --expert-stats PATH|off.
  const std::string stats = args.get("--expert-stats");
  params.expert_learn = stats != "off" ? 1 : 0;
  if (!stats.empty() && stats != "off") params.expert_stats_path = args.flags.at("--expert-stats").c_str();
  mote_model* raw = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &raw); st != MOTE_OK) return fail_c(st);
  ModelPtr model(raw);
  mote_memory_plan plan{};
  mote_model_info info{};
  if (mote_status st = mote_model_get_memory_plan(model.get(), &plan); st != MOTE_OK) return fail_c(st);
  if (mote_status st = mote_model_get_info(model.get(), &info); st != MOTE_OK) return fail_c(st);
  // KV bytes one token reads at --kv-at (default: the middle of the planning context).
  mote_session_params sp = mote_session_params_default();
  sp.max_context = f.ctx;
  sp.mtp = 0;
  mote_session* s = nullptr;
  if (mote_status st = mote_session_create(model.get(), &sp, &s); st != MOTE_OK) return fail_c(st);
  SessionPtr session(s);
  uint64_t kv_read = 0;
  if (mote_status st = mote_session_get_kv_read_bytes(s, f.kv_at >= 0 ? f.kv_at : f.ctx / 2, &kv_read); st != MOTE_OK) return fail_c(st);
  session.reset();
  double disk_bps = 0;
  int32_t direct = 0;
  if (info.n_routed_experts > 0 && !plan.all_resident)
    if (mote_status st = mote_model_measure_expert_reads(model.get(), f.read_seconds, &disk_bps, &direct);
        st != MOTE_OK)
      return fail_c(st);
  const double mem_gbs = measure_read_bandwidth_gbs(info.n_threads, bandwidth_buffer_bytes(model.get()));
  std::string hit_from;
  const double hit = hit_rate(model.get(), plan, &hit_from);
  const double expert_bytes = double(info.n_experts_per_tok) * plan.n_moe_layers * info.expert_bytes;
  const double memory_bytes = info.dense_bytes_per_token + expert_bytes + double(kv_read);
  const double disk_bytes = (1.0 - hit) * expert_bytes;
  const double seconds = memory_bytes / (mem_gbs * 1e9) + (disk_bytes > 0 && disk_bps > 0 ? disk_bytes / disk_bps : 0);
  nlohmann::json j;
  j["file"] = args.positional[0];
  j["fits"] = plan.fits != 0;
  j["memory"] = {{"available_bytes", plan.available_bytes},   {"source", plan.source},
                 {"mem_available_bytes", plan.mem_available_bytes}, {"cgroup_limit_bytes", plan.cgroup_limit_bytes},
                 {"cgroup_usage_bytes", plan.cgroup_usage_bytes}, {"dense_bytes", plan.dense_bytes},
                 {"kv_bytes", plan.kv_bytes},                   {"plan_context", plan.plan_context},
                 {"scratch_bytes", plan.scratch_bytes},         {"margin_bytes", plan.margin_bytes}};
  j["experts"] = {{"all_resident", plan.all_resident != 0}, {"budget_bytes", plan.expert_budget_bytes},
                  {"slots", plan.slots}, {"experts", plan.n_experts},
                  {"slot_share", plan.n_experts > 0 ? double(plan.slots) / double(plan.n_experts) : 1.0},
                  {"slot_bytes", plan.slot_bytes}, {"total_bytes", plan.expert_total_bytes},
                  {"moe_layers", plan.n_moe_layers}, {"experts_per_token", info.n_experts_per_tok}};
  j["prediction"] = {{"hit_rate", hit},
                     {"hit_rate_from", plan.all_resident ? std::string("every expert resident") : hit_from},
                     {"kv_read_bytes_per_token", kv_read},
                     {"memory_bytes_per_token", memory_bytes},
                     {"disk_bytes_per_token", disk_bytes},
                     {"memory_bw_gbs", mem_gbs},
                     {"disk_gbs", disk_bps / 1e9},
                     {"disk_direct_io", direct != 0},
                     {"tok_s", seconds > 0 ? 1.0 / seconds : 0.0}};
  if (f.json) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    print_text(j);
  }
  return 0;
}

}  // namespace mote::cli
