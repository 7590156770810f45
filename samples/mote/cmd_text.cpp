// mote tokenize / mote run -p on the public C API (mote.h), and the generation flags shared with
// mote chat (generation_options).
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "capi.h"
#include "cli.h"
#include "interrupt.h"
#include "session/text_generation.h"

namespace mote::cli {

namespace {

float parse_float(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0') throw std::runtime_error(flag + ": '" + text + "' is not a number");
  return v;
}

int stream_token(void*, int32_t, const char* text, size_t len) {
  std::fwrite(text, 1, len, stdout);
  std::fflush(stdout);
  return interrupt_requested() ? 1 : 0;
}

void print_run_stats(const mote_model* model, const mote_session* session) {
  mote_stats s{};
  if (mote_session_get_stats(session, &s) != MOTE_OK) return;
  std::fprintf(stderr, "prompt %lld tokens (%.1f tok/s), generated %lld tokens (%.1f tok/s), ended by %s\n",
               (long long)s.prompt_tokens, s.prefill_tok_s, (long long)s.generated_tokens, s.decode_tok_s,
               stop_reason_name(s.stop_reason));
  if (s.draft_steps > 0)
    std::fprintf(stderr,
                 "MTP speculation: %lld drafts, %lld accepted (%.1f%%), %lld steps plain (predicted speed-up of "
                 "drafting %.2f)\n",
                 (long long)s.draft_steps, (long long)s.drafts_accepted,
                 100.0 * double(s.drafts_accepted) / double(s.draft_steps), (long long)s.draft_skipped,
                 s.draft_speedup_predicted);
  print_c_expert_stats(model);
}

}  // namespace

TextGenerationOptions generation_options(const Args& args) {
  TextGenerationOptions o;
  o.max_tokens = parse_int("-n", args.get("-n", "256"), 1, 1 << 20);
  // The defaults are the C API's (mote_sampling_params_default): greedy unless --temp T > 0, and
  // then top-k 40, top-p 0.95, min-p 0.05, so the same settings give the same text in both.
  // (The filters do not change a greedy choice.)
  SamplingParams& s = o.sampling;
  s.temperature = parse_float("--temp", args.get("--temp", "0"));
  s.top_k = int32_t(parse_int("--top-k", args.get("--top-k", "40"), 0, 1 << 30));
  s.top_p = parse_float("--top-p", args.get("--top-p", "0.95"));
  s.min_p = parse_float("--min-p", args.get("--min-p", "0.05"));
  s.repetition_penalty = parse_float("--repeat-penalty", args.get("--repeat-penalty", "1"));
  s.presence_penalty = parse_float("--presence-penalty", args.get("--presence-penalty", "0"));
  s.frequency_penalty = parse_float("--frequency-penalty", args.get("--frequency-penalty", "0"));
  s.seed = uint64_t(parse_int("--seed", args.get("--seed", "0"), 0, INT64_MAX));
  if (args.has("--stop")) o.stop.push_back(args.get("--stop"));
  o.ignore_eos = args.has("--ignore-eos");
  o.parse_special = !args.has("--no-parse-special");  // run -p: untrusted prompt text stays plain
  return o;
}

int cmd_tokenize(const Args& args) {
  if (!args.has("--text")) throw std::runtime_error("tokenize needs --text \"...\"");
  mote_model_params params = c_model_params(args);
  mote_model* opened = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &opened); st != MOTE_OK) return fail_c(st);
  const ModelPtr model(opened);
  // --no-special: no BOS and control-token text kept plain; --(no-)parse-special sets the latter.
  const bool add_special = !args.has("--no-special");
  const bool parse_special = args.has("--parse-special") || (add_special && !args.has("--no-parse-special"));
  const std::string text = args.get("--text");
  std::vector<int32_t> ids(text.size() + 8);
  size_t count = 0;
  mote_status st = mote_tokenize_ex(model.get(), text.data(), text.size(), add_special, parse_special, ids.data(),
                                    ids.size(), &count);
  if (st == MOTE_ERR_BUFFER_TOO_SMALL) {
    ids.resize(count);
    st = mote_tokenize_ex(model.get(), text.data(), text.size(), add_special, parse_special, ids.data(), ids.size(),
                          &count);
  }
  if (st != MOTE_OK) return fail_c(st);
  std::string out;
  for (size_t i = 0; i < count; ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  std::printf("%s\n", out.c_str());
  return 0;
}

// Ctrl-C stops the generation: the text so far stays printed, --stats still reports, exit 130
// (128 + SIGINT, as a shell reports a process the signal ended).
int cmd_run_text(const Args& args) {
  GenerateFlags flags;
  c_generate_params(args, &flags);
  ModelPtr model;
  SessionPtr session;
  if (int rc = open_c(args, &model, &session); rc != 0) return rc;
  install_interrupt_handler(130);
  const std::string prompt = args.get("-p");
  const mote_status st =
      mote_generate(session.get(), prompt.data(), prompt.size(), &flags.params, &stream_token, nullptr);
  const bool stopped = st == MOTE_ERR_CANCELLED;
  const std::string error = st != MOTE_OK && !stopped ? mote_last_error() : "";  // before other calls
  mote_stats stats{};
  mote_session_get_stats(session.get(), &stats);
  if (stats.last_generated_tokens > 0 || st == MOTE_OK) std::printf("\n");  // end the streamed line
  std::fflush(stdout);  // the statistics and errors go to stderr: keep them after the text
  if (st != MOTE_OK && !stopped)
    return std::fprintf(stderr, "mote: error: %s\n", error.empty() ? mote_status_string(st) : error.c_str()), 1;
  if (args.has("--stats")) print_run_stats(model.get(), session.get());
  return stopped ? 130 : 0;
}

}  // namespace mote::cli
