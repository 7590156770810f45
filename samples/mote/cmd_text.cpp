// mote tokenize / mote run -p / mote chat: the text front end over Engine + text generation.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "session/engine.h"
#include "session/text_generation.h"

namespace mote::cli {

namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str());
  return 1;
}

float parse_float(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0') throw std::runtime_error(flag + ": '" + text + "' is not a number");
  return v;
}

Result<std::unique_ptr<Engine>> open_engine(const Args& args) {
  EngineOptions options;
  options.chat_template = args.get("--chat-template");
  options.model = model_options(args);
  return Engine::open(args.positional[0], options);
}

}  // namespace

bool use_mtp(const Model& model, const Args& args) { return model.has_mtp() && !args.has("--no-mtp"); }

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
  auto engine = open_engine(args);
  if (!engine) return fail(engine.status());
  auto tokenizer = (*engine)->require_tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  // --no-special: no BOS and control-token text kept plain; --(no-)parse-special sets the latter.
  EncodeOptions encode;
  encode.add_special = !args.has("--no-special");
  encode.parse_special = args.has("--parse-special") || (encode.add_special && !args.has("--no-parse-special"));
  std::vector<int32_t> ids;
  if (Status st = (*tokenizer)->encode(args.get("--text"), encode, &ids); !st) return fail(st);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  std::printf("%s\n", out.c_str());
  return 0;
}

int cmd_run_text(const Args& args) {
  const TextGenerationOptions options = generation_options(args);
  auto engine = open_engine(args);
  if (!engine) return fail(engine.status());
  SessionOptions session_options;
  session_options.max_context = parse_int("--ctx", args.get("--ctx", "4096"), 1, 1 << 24);
  session_options.mtp = use_mtp((*engine)->model(), args);
  auto session = Session::create((*engine)->model(), session_options);
  if (!session) return fail(session.status());
  auto result = generate_text(**engine, **session, args.get("-p"), options, [](int32_t, std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  std::fflush(stdout);  // the statistics go to stderr: keep them after the text
  if (!result) return fail(result.status());
  if (args.has("--stats"))
    std::fprintf(stderr, "prompt %lld tokens (%.1f tok/s), generated %lld tokens (%.1f tok/s)\n",
                 (long long)result->prompt_tokens, result->prompt_tokens / std::max(1e-9, result->prefill_seconds),
                 (long long)result->generated_tokens,
                 result->generated_tokens / std::max(1e-9, result->decode_seconds));
  if (args.has("--stats") && result->draft_steps > 0)
    std::fprintf(stderr, "MTP speculation: %lld drafts, %lld accepted (%.1f%%)\n", (long long)result->draft_steps,
                 (long long)result->drafts_accepted, 100.0 * double(result->drafts_accepted) / double(result->draft_steps));
  if (args.has("--stats")) print_expert_stats((*engine)->model());
  return 0;
}

}  // namespace mote::cli
