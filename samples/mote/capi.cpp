#include "capi.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "session/text_generation.h"

namespace mote::cli {

TextGenerationOptions generation_options(const Args& args);  // cmd_text.cpp

// --backend, --vram-budget, --tier-mode (API version 7): a backend with device memory and the
// placement of the routed experts on it.
void device_params(const Args& args, mote_model_params* p) {
  const std::string backend = args.get("--backend", "cpu");
  if (backend != "cpu" && backend != "cuda" && backend != "staging")
    throw std::runtime_error("--backend must be cpu, cuda or staging");
  p->backend = backend == "staging" ? MOTE_BACKEND_STAGING : backend == "cuda" ? MOTE_BACKEND_CUDA : MOTE_BACKEND_CPU;
  if (args.has("--vram-budget")) p->vram_budget = parse_size("--vram-budget", args.get("--vram-budget"));
  if (args.has("--tier-mode")) {
    const std::string mode = args.get("--tier-mode");
    if (mode != "auto" && mode != "upload" && mode != "cpu")
      throw std::runtime_error("--tier-mode must be auto, upload or cpu");
    p->expert_tier_mode = mode == "upload" ? MOTE_TIER_MODE_UPLOAD : mode == "cpu" ? MOTE_TIER_MODE_CPU : MOTE_TIER_MODE_AUTO;
  }
  if ((args.has("--vram-budget") || args.has("--tier-mode")) && backend == "cpu")
    throw std::runtime_error("--vram-budget and --tier-mode need a backend with device memory (--backend cuda or staging)");
}

mote_model_params c_model_params(const Args& args) {
  mote_model_params p = mote_model_params_default();
  if (args.has("--threads")) p.n_threads = int32_t(parse_int("--threads", args.get("--threads"), 0, 4096));
  // Points into args, which outlives the model open of every command.
  if (args.has("--kernels")) p.kernels = args.flags.at("--kernels").c_str();
  if (args.has("--expert-budget")) {
    const std::string budget = args.get("--expert-budget");
    p.expert_budget_bytes = budget == "auto" ? MOTE_EXPERT_BUDGET_AUTO : parse_size("--expert-budget", budget);
  }
  if (args.has("--mem-limit")) {
    p.mem_limit_bytes = parse_size("--mem-limit", args.get("--mem-limit"));
    if (p.mem_limit_bytes == 0) throw std::runtime_error("--mem-limit must be > 0 (omit it to detect the memory)");
  }
  // The memory plan keeps room for the KV cache of the session the command opens.
  if (args.has("--ctx")) p.plan_context = int32_t(parse_int("--ctx", args.get("--ctx"), 1, 1 << 24));
  if (args.has("--expert-policy")) {
    const std::string policy = args.get("--expert-policy");
    if (policy != "lfu" && policy != "lru") throw std::runtime_error("--expert-policy must be lru or lfu");
    p.expert_policy = policy == "lru" ? MOTE_EXPERT_POLICY_LRU : MOTE_EXPERT_POLICY_LFU;
  }
  if (args.has("--expert-hot"))
    p.expert_hot_slots = int32_t(parse_int("--expert-hot", args.get("--expert-hot"), 0, 1 << 30));
  p.expert_prefetch = !args.has("--no-prefetch");
  // The learning expert cache (README "Learning expert cache"): on with a budget unless
  // --expert-stats off (or MOTE_EXPERT_STATS=off); --expert-stats PATH (or MOTE_EXPERT_STATS=PATH)
  // names the statistics file, which turns learning on even without a budget (to learn from a
  // resident run). Both pointers outlive the model open (args; the environment).
  const char* env_stats = std::getenv("MOTE_EXPERT_STATS");
  const char* stats = args.has("--expert-stats") ? args.flags.at("--expert-stats").c_str() : env_stats;
  const std::string stats_text = stats != nullptr ? stats : "";
  if (stats_text == "off") {
    p.expert_learn = 0;
  } else if (!stats_text.empty()) {
    p.expert_learn = 1;
    p.expert_stats_path = stats;
  } else {
    p.expert_learn = p.expert_budget_bytes != 0 ? 1 : 0;
  }
  const bool tuning = args.has("--expert-policy") || args.has("--expert-hot") || args.has("--no-prefetch");
  if (tuning && p.expert_budget_bytes == 0)
    throw std::runtime_error("--expert-policy, --expert-hot and --no-prefetch need --expert-budget");
  device_params(args, &p);
  if (args.has("--mem-limit") && p.expert_budget_bytes != MOTE_EXPERT_BUDGET_AUTO)
    throw std::runtime_error("--mem-limit needs --expert-budget auto (or use mote plan)");
  return p;
}

void c_generate_params(const Args& args, GenerateFlags* out) {
  // One parser for the flags (cmd_text.cpp), whatever API runs the command.
  const TextGenerationOptions o = generation_options(args);
  mote_generate_params& p = out->params;
  p = mote_generate_params_default();
  p.max_tokens = int32_t(o.max_tokens);
  mote_sampling_params& s = p.sampling;
  s.temperature = o.sampling.temperature;
  s.top_k = o.sampling.top_k;
  s.top_p = o.sampling.top_p;
  s.min_p = o.sampling.min_p;
  s.repetition_penalty = o.sampling.repetition_penalty;
  s.presence_penalty = o.sampling.presence_penalty;
  s.frequency_penalty = o.sampling.frequency_penalty;
  s.penalty_last_n = o.sampling.penalty_last_n;
  s.seed = o.sampling.seed;
  out->stops = o.stop;
  out->stop_ptrs.clear();
  for (const std::string& stop : out->stops) out->stop_ptrs.push_back(stop.c_str());
  p.stop = out->stop_ptrs.empty() ? nullptr : out->stop_ptrs.data();
  p.n_stop = out->stop_ptrs.size();
  p.ignore_eos = o.ignore_eos;
  p.parse_special = o.parse_special;
}

int fail_c(mote_status status) {
  const char* message = mote_last_error();
  std::fprintf(stderr, "mote: error: %s\n", message[0] != '\0' ? message : mote_status_string(status));
  return 1;
}

mote_kv_type parse_kv_type(const std::string& flag, const std::string& text) {
  if (text == "f32") return MOTE_KV_F32;
  if (text == "f16") return MOTE_KV_F16;
  if (text == "q8_0") return MOTE_KV_Q8_0;
  throw std::runtime_error(flag + ": '" + text + "' is not a KV cache type (f32, f16 or q8_0)");
}

const char* kv_type_flag_name(mote_kv_type type) {
  switch (type) {
    case MOTE_KV_F32: return "f32";
    case MOTE_KV_F16: return "f16";
    case MOTE_KV_Q8_0: return "q8_0";
  }
  return "?";
}

mote_kv_type kv_type_from_args(const Args& args) {
  const mote_kv_type fallback = mote_session_params_default().kv_type;
  return args.has("--kv-type") ? parse_kv_type("--kv-type", args.get("--kv-type")) : fallback;
}

void print_auto_budget(const Args& args, const mote_model* model) {
  mote_memory_plan p{};
  if (args.get("--expert-budget") != "auto" || mote_model_get_memory_plan(model, &p) != MOTE_OK) return;
  const auto mib = [](uint64_t b) { return double(b) / (1 << 20); };
  std::fprintf(stderr,
               "mote: expert budget auto: %.1f MiB available (%s) - dense %.1f - KV %.1f (%d tokens) - scratch %.1f - "
               "margin %.1f MiB: ",
               mib(p.available_bytes), p.source, mib(p.dense_bytes), mib(p.kv_bytes), p.plan_context,
               mib(p.scratch_bytes), mib(p.margin_bytes));
  if (p.all_resident)
    std::fprintf(stderr, "every expert resident (%.1f MiB)\n", mib(p.expert_total_bytes));
  else
    std::fprintf(stderr, "%.1f MiB, %lld of %lld experts\n", mib(p.expert_budget_bytes), (long long)p.slots,
                 (long long)p.n_experts);
}

int open_c(const Args& args, ModelPtr* model, SessionPtr* session, mote_context_policy policy) {
  mote_model_params params = c_model_params(args);
  const std::string chat_template = args.get("--chat-template");
  if (!chat_template.empty()) params.chat_template = chat_template.c_str();
  mote_model* m = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &m); st != MOTE_OK) return fail_c(st);
  model->reset(m);
  print_auto_budget(args, m);
  mote_session_params sp = mote_session_params_default();
  sp.max_context = int32_t(parse_int("--ctx", args.get("--ctx", "4096"), 1, 1 << 24));
  sp.mtp = !args.has("--no-mtp");
  sp.kv_type = kv_type_from_args(args);
  sp.context_policy = policy;
  mote_session* s = nullptr;
  if (mote_status st = mote_session_create(m, &sp, &s); st != MOTE_OK) return fail_c(st);
  session->reset(s);
  return 0;
}

const char* stop_reason_name(mote_stop_reason reason) {
  switch (reason) {
    case MOTE_STOP_MAX_TOKENS: return "max tokens";
    case MOTE_STOP_EOS: return "end of sequence";
    case MOTE_STOP_STRING: return "stop string";
    case MOTE_STOP_CANCELLED: return "stopped";
    case MOTE_STOP_ERROR: return "error";
    case MOTE_STOP_NONE: break;
  }
  return "none";
}

void print_c_expert_stats(const mote_model* model) {
  mote_expert_stats e{};
  if (mote_model_get_expert_stats(model, &e) != MOTE_OK || e.budget_bytes == 0) return;
  std::fprintf(stderr,
               "expert store: budget %llu bytes, accesses %llu, hits %llu, misses %llu, prefetched %llu (used %llu), "
               "bytes read %llu, io stall %.3f ms\n",
               (unsigned long long)e.budget_bytes, (unsigned long long)e.accesses, (unsigned long long)e.hits,
               (unsigned long long)e.misses, (unsigned long long)e.prefetch_reads, (unsigned long long)e.prefetch_hits,
               (unsigned long long)e.bytes_read, e.io_stall_ms);
}

}  // namespace mote::cli
