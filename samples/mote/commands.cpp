// The command table: each subcommand's flags and --help text, and the checks that refuse flags a
// command would silently ignore (a flag that does nothing is worse than an error: the user
// believes it took effect).
#include "commands.h"

#include <mote/mote.h>

#include <cstdlib>
#include <stdexcept>

namespace mote::cli {
namespace {

#define MOTE_EXPERT_HELP                                                                           \
  "expert and thread flags:\n"                                                                     \
  "  --expert-budget SIZE  cap routed-expert memory (512M, 2G or bytes; default: all resident);\n" \
  "                        auto: plan it from the memory free (MemAvailable, cgroup limit)\n"   \
  "  --mem-limit SIZE      with --expert-budget auto: plan for this much memory instead\n"      \
  "  --expert-policy lfu|lru, --expert-hot N, --no-prefetch   (need --expert-budget)\n"           \
  "  --expert-stats PATH|off   learned routing statistics (default with a budget: the user cache\n" \
  "                        dir; the hottest experts are pre-loaded at open; env MOTE_EXPERT_STATS)\n" \
  "  --threads N           kernel threads (default 0 = all cores)\n"                              \
  "  --kernels NAME        kernel table: reference, avx2, avx512, avx512-amx, neon (default: the best)\n"       \
  "  --kv-type T           KV cache element type: f32, f16 (default), q8_0\n"                    \
  "  --backend cpu|cuda|staging  cuda: CUDA device 0 (a build with MOTE_CUDA=ON); staging: the\n" \
  "                        GPU test double (separate device memory; slow)\n"                    \
  "  --vram-budget SIZE    device memory for dense weights, KV and the device expert cache\n"   \
  "  --tier-mode auto|upload|cpu   experts missing from the device: measured choice per layer,\n" \
  "                        always uploaded, or always computed on the CPU (need cuda or staging)\n"

#define MOTE_SAMPLING_HELP                                                                         \
  "sampling flags (greedy unless --temp T > 0):\n"                                                 \
  "  --temp T              temperature (default 0 = greedy)\n"                                     \
  "  --top-k K --top-p P --min-p P   filters when sampling (defaults 40, 0.95, 0.05)\n"            \
  "  --seed S              random seed when sampling (same seed, same output)\n"                   \
  "  --repeat-penalty R --presence-penalty P --frequency-penalty F\n"                              \
  "  -n N                  tokens to generate (default 256)\n"                                     \
  "  --stop TEXT           stop before TEXT   --ignore-eos   --ctx N (KV cache tokens, 4096)\n"    \
  "  --no-mtp              no speculative decoding with the model's MTP module\n"

const char kInspectHelp[] =
    "usage: mote inspect FILE [--json]\n"
    "Summary of a .mote file: architecture, layers, experts, vocabulary, tensors by weight type,\n"
    "tokenizer and chat template, file size.\n"
    "  --json   the full metadata as one JSON object (for scripts: jq .bytes.routed_experts)\n";
const char kPlanHelp[] =
    "usage: mote plan FILE [--ctx N] [--mem-limit SIZE] [--json] [--threads N] [--read-seconds S] [--kv-at P]\n"
    "                 [--expert-stats PATH|off]\n"
    "The memory plan of --expert-budget auto and a decode-speed prediction: the memory found and\n"
    "where from, dense weights, KV cache at --ctx tokens, scratch, margin, the expert budget and\n"
    "slots, the expected hit rate (the learned routing statistics when there are some: the hottest\n"
    "experts over all layers cached; else uniform routing: slots / experts), expert bytes read from\n"
    "disk per token, and predicted tok/s from the\n"
    "expert read speed measured on this file (O_DIRECT, --read-seconds, default 1) and the memory\n"
    "read bandwidth measured now: 1 / (bytes read from memory per token / memory bandwidth +\n"
    "bytes read from disk per token / disk speed). Compute time is left out (an upper bound).\n"
    "  --ctx N           context tokens to keep room for (default 4096)\n"
    "  --kv-at P         count the KV cache read of the token at position P (default: ctx / 2)\n"
    "  --mem-limit SIZE  plan for this much memory instead of what is found (512M, 2G)\n"
    "  --expert-stats PATH|off   learned routing statistics (default: the file the CLI learns into)\n"
    "  --json            one JSON object\n";
const char kLogitsHelp[] =
    "usage: mote logits FILE --ids 1,2,3 --out PATH [--mode prefill|decode]\n"
    "Writes the logits at every position as float32 [n_ids, vocab] to PATH.\n"
    "  --mode   prefill (one batch, default) or decode (one token at a time); both agree\n" MOTE_EXPERT_HELP;
const char kRunHelp[] =
    "usage: mote run FILE -p TEXT [flags]    stream a continuation of TEXT\n"
    "       mote run FILE --ids 1,2,3 [-n 32] [--ignore-eos]   greedy continuation of ids, prints ids\n"
    "  --stats              speed (and expert cache) on stderr after the text (-p)\n"
    "  --no-parse-special   control-token text in the prompt stays plain text (-p)\n"
    "  Ctrl-C stops generation (exit 130).\n" MOTE_SAMPLING_HELP MOTE_EXPERT_HELP;
const char kBenchHelp[] =
    "usage: mote bench FILE [--prompt 32] [--gen 32] [--seed 1] [--text PATH] [--batch N] [--no-warmup]\n"
    "                  [--mtp-compare [--repeat R]]\n"
    "Prefill and decode speed, expert cache and memory of one run, as JSON, with the CPU model,\n"
    "its ISA flags and the kernel tables (available, active).\n"
    "Roofline: roofline_ratio = (weight_bytes_per_token + kv_bytes_per_token) x decode tok/s /\n"
    "memory_bw_gbs (read bandwidth measured in the same run); roofline_ratio_weights_only leaves\n"
    "the KV cache out. kv_bytes_per_token: the K/V (or MLA latent) rows every layer reads at the\n"
    "session's --kv-type, averaged over the decoded tokens (a sliding layer reads its window).\n"
    "  --batch N       tokens per prefill pass (default: the library's automatic choice)\n"
    "  --no-warmup     time from cold: by default a throwaway session first prefills up to 64\n"
    "                  tokens and decodes 4, so the first touch of the weights is not timed\n"
    "  --text PATH     real text instead of seeded random ids: the prompt is its first --prompt\n"
    "                  tokens and each decode step is fed the text's next token (routing follows the\n"
    "                  text; the model's own choice is not used)\n"
    "  --mtp-compare   decode plainly, with adaptive MTP drafting and drafting every step; the\n"
    "                  measured and the predicted speed-ups (--repeat R: medians of R rounds)\n"
    "bench learns routing statistics only with an explicit --expert-stats PATH (runs stay independent).\n" MOTE_EXPERT_HELP;
const char kPerplexityHelp[] =
    "usage: mote perplexity FILE --text PATH [--ctx 128] [--max-tokens N] [--kv-type T] [--kl-base T]\n"
    "Perplexity of a text file in windows of --ctx tokens, as JSON; progress on stderr.\n"
    "  --kl-base T   also run a session with KV type T on the same windows and report the KL\n"
    "                divergence KL(base || --kv-type) per token (mean, p99, max) and top-1 agreement\n" MOTE_EXPERT_HELP;
const char kTokenizeHelp[] =
    "usage: mote tokenize FILE --text TEXT [--no-special] [--parse-special | --no-parse-special]\n"
    "Prints the token ids of TEXT.\n"
    "  --no-special         no BOS, control-token text as plain text\n"
    "  --parse-special / --no-parse-special   set the control-token parsing alone\n";
const char kChatHelp[] =
    "usage: mote chat FILE [--system TEXT] [--chat-template NAME] [--session PATH] [flags]\n"
    "Interactive chat with the model's chat template. In the chat: /help, /reset, /stats, /save FILE,\n"
    "/load FILE, /quit. End a line with \\ to continue it, or wrap lines in \"\"\" ... \"\"\".\n"
    "Ctrl-C stops a reply (the conversation keeps it); Ctrl-C at an empty prompt or Ctrl-D quits.\n"
    "Line editing and history (~/.local/state/mote/history) on a terminal. When the context (--ctx)\n"
    "is full, the oldest turns are left out; the system prompt stays.\n"
    "  --system TEXT          the system prompt\n"
    "  --chat-template NAME   render with this family instead of the one detected at conversion\n"
    "  --session PATH         load the conversation from PATH if it exists, save it after each turn\n" MOTE_SAMPLING_HELP
        MOTE_EXPERT_HELP;

const char kServeHelp[] =
    "usage: mote serve FILE [--host 127.0.0.1] [--port 8080] [--slots 4] [--queue 64] [flags]\n"
    "An OpenAI-compatible local HTTP server: POST /v1/chat/completions, POST /v1/completions (streaming\n"
    "with \"stream\": true), GET /v1/models, GET /health, GET /metrics (Prometheus),\n"
    "GET /v1/experts (the expert cache per layer), and a web chat page at / with a live expert view.\n"
    "SIGINT/SIGTERM stop it.\n"
    "  --host ADDR            address to bind (default 127.0.0.1, loopback only)\n"
    "  --port N               port (default 8080; 0 = any free port, printed at start)\n"
    "  --slots N              concurrent generations, one session each (default 4)\n"
    "  --queue N              requests that may wait for a slot (default 64; more get 503)\n"
    "  --timeout S            longest wait in the queue, seconds (default 600)\n"
    "  --api-key KEY          require 'Authorization: Bearer KEY' on /v1/* and /metrics\n"
    "  --slot-dir DIR         keep each slot's conversation in DIR/slot-K.session across restarts\n"
    "  --model-name NAME      the model id clients use (default: the file name without extension)\n"
    "  --ctx N                context tokens per slot (default 4096)\n"
    "  --chat-template NAME   render with this family instead of the one detected at conversion\n"
    "  sampling flags set the defaults of what a request leaves out (--top-k, --min-p also apply\n"
    "  to requests that sample); -n N: default max_tokens (default: the room left in the context)\n" MOTE_SAMPLING_HELP MOTE_EXPERT_HELP;

#undef MOTE_EXPERT_HELP
#undef MOTE_SAMPLING_HELP

std::vector<std::string> join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<std::string> kSamplingValueFlags = {
    "-n",    "--temp", "--top-k", "--top-p", "--min-p", "--seed", "--repeat-penalty", "--presence-penalty",
    "--frequency-penalty", "--ctx", "--stop"};

// Throws naming the first of `flags` present: "`why`".
void refuse(const Args& args, const std::vector<std::string>& flags, const std::string& why) {
  for (const std::string& f : flags)
    if (args.has(f)) throw std::runtime_error(f + " " + why);
}

// The filters and the seed only act on sampling; with greedy decoding they would be ignored.
void refuse_greedy_only(const Args& args) {
  if (std::strtod(args.get("--temp", "0").c_str(), nullptr) > 0) return;
  refuse(args, {"--top-k", "--top-p", "--min-p", "--seed"},
         "only applies when sampling: add --temp T (T > 0), or drop the flag for greedy decoding");
}

int usage_error(const std::exception& e) {
  std::fprintf(stderr, "mote: error: %s\n", e.what());
  return 2;
}

int run_command_run(const Args& args) {
  try {
    if (args.has("-p") == args.has("--ids")) throw std::runtime_error("run needs exactly one of --ids or -p");
    if (args.has("--ids")) {
      // -n, --ignore-eos and the expert flags are the ones --ids takes (and --no-mtp, which scripts
      // pass to both forms: --ids never drafts, so it asks for what happens anyway).
      std::vector<std::string> ignored = join(kSamplingValueFlags, {"--chat-template", "--stats", "--no-parse-special"});
      ignored.erase(ignored.begin());  // -n
      refuse(args, ignored, "does not apply to run --ids (greedy token ids); use -p TEXT");
    } else {
      refuse(args, {"--chat-template"}, "does not apply to run -p (plain text, no chat template); use mote chat");
      refuse_greedy_only(args);
    }
  } catch (const std::exception& e) {
    return usage_error(e);
  }
  return args.has("-p") ? cmd_run_text(args) : cmd_run(args);
}

int run_command_chat(const Args& args) {
  try {
    refuse_greedy_only(args);
  } catch (const std::exception& e) {
    return usage_error(e);
  }
  return cmd_chat(args);
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = [] {
    // --kv-type goes wherever a session is made: every command with the expert flags.
    const std::vector<std::string> expert_values = join(kExpertValueFlags, {"--kv-type"});
    const std::vector<std::string> expert_switches = kExpertSwitches;
    const std::vector<std::string> sampling = join(kSamplingValueFlags, {"--chat-template"});
    return std::vector<Command>{
        {"inspect", "summary of a .mote file (--json: all metadata)", kInspectHelp, {}, {"--json"}, cmd_inspect},
        {"run", "stream a continuation of -p TEXT (or greedy ids of --ids)", kRunHelp,
         join(join({"--ids", "-p"}, sampling), expert_values),
         join({"--ignore-eos", "--stats", "--no-mtp", "--no-parse-special"}, expert_switches), run_command_run},
        {"chat", "interactive chat with the model's chat template", kChatHelp,
         join(join({"--system", "--session"}, sampling), expert_values),
         join({"--ignore-eos", "--no-mtp"}, expert_switches), run_command_chat},
        {"tokenize", "token ids of --text", kTokenizeHelp, {"--text"},
         {"--no-special", "--parse-special", "--no-parse-special"}, cmd_tokenize},
        {"logits", "float32 logits of --ids at every position", kLogitsHelp,
         join({"--ids", "--out", "--mode"}, expert_values), expert_switches, cmd_logits},
        {"perplexity", "perplexity of a text file, as JSON", kPerplexityHelp,
         join({"--text", "--ctx", "--max-tokens", "--kl-base"}, expert_values), expert_switches, cmd_perplexity},
        {"bench", "speed, expert cache and memory of one run, as JSON", kBenchHelp,
         join({"--prompt", "--gen", "--seed", "--batch", "--text", "--repeat"}, expert_values), join({"--mtp-compare", "--no-warmup"}, expert_switches), cmd_bench},
        {"plan", "memory plan of --expert-budget auto and predicted decode speed", kPlanHelp,
         {"--ctx", "--mem-limit", "--threads", "--read-seconds", "--kv-at", "--expert-stats"}, {"--json"}, cmd_plan},
        {"serve", "OpenAI-compatible local HTTP server (chat, completions, metrics)", kServeHelp,
         join(join({"--host", "--port", "--slots", "--queue", "--api-key", "--slot-dir", "--model-name", "--timeout"},
                   sampling),
              expert_values),
         join({"--no-mtp", "--ignore-eos"}, expert_switches), cmd_serve},
    };
  }();
  return table;
}

const Command* find_command(const std::string& name) {
  for (const Command& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

const char* cli_version() { return mote_version(); }

}  // namespace mote::cli
