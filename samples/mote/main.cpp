// mote: command-line front end of the runtime.
//   mote inspect FILE
//   mote logits FILE --ids 1,2,3 --out PATH [--mode prefill|decode] [--expert-budget SIZE]
//   mote run FILE --ids 1,2,3 [-n 32] [--expert-budget SIZE]
//   mote run FILE -p "text" [-n 256] [sampling flags] [--expert-budget SIZE]
//   mote bench FILE [--prompt N] [--gen N] [--expert-budget SIZE]
//   mote perplexity FILE --text PATH [--ctx N] [--max-tokens N]
//   mote tokenize FILE --text "..." [--no-special] [--parse-special | --no-parse-special]
//   mote chat FILE [--chat-template NAME] [--system TEXT] [sampling flags]
// Errors print one line "mote: error: ..." and exit 1 (2 for usage errors).
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: mote <command> FILE [options]\n"
               "  inspect FILE                                   print metadata as JSON\n"
               "  logits FILE --ids 1,2,3 --out PATH [--mode prefill|decode]\n"
               "                                                 write float32 logits [n_ids, vocab]\n"
               "  run FILE --ids 1,2,3 [-n 32] [--ignore-eos]     greedy continuation, prints ids\n"
               "  run FILE -p \"text\" [-n 256] [--stop S] [--stats]  streams generated text\n"
               "                     (--no-parse-special: control-token text in the prompt stays plain)\n"
               "  bench FILE [--prompt 32] [--gen 32] [--seed 1] [--mtp-compare]\n"
               "                                                 speed, expert cache and memory as JSON\n"
               "  perplexity FILE --text PATH [--ctx 128] [--max-tokens N]  perplexity of a text, as JSON\n"
               "  tokenize FILE --text \"...\" [--no-special]     prints token ids (--no-special: no BOS, control\n"
               "                     tokens as plain text; --parse-special / --no-parse-special override the latter)\n"
               "  chat FILE [--system TEXT] [--chat-template NAME] interactive chat; /reset /stats /quit\n"
               "sampling flags (run -p, chat): --temp T (0 = greedy, default) --top-k K (40) --top-p P (0.95)\n"
               "  --min-p P (0.05) --repeat-penalty R --presence-penalty P --frequency-penalty F --seed S\n"
               "  --ctx N --ignore-eos\n"
               "  --no-mtp: no speculative decoding (default: the MTP module drafts when the model has one)\n"
               "expert flags (logits, run, chat, bench): --expert-budget SIZE caps routed-expert memory (SIZE\n"
               "  like 512M, 2G or bytes; default: every expert resident); with a budget: --expert-policy\n"
               "  lfu|lru (default lfu), --expert-hot N (slots pinned for the most used experts), --no-prefetch;\n"
               "  --threads N: kernel threads (default 0 = all cores)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    using namespace mote::cli;
    if (command == "inspect") return cmd_inspect(parse_args(argc, argv, 2, {}, {}));
    auto switches = [](std::vector<std::string> flags) {
      flags.insert(flags.end(), kExpertSwitches.begin(), kExpertSwitches.end());
      return flags;
    };
    auto plus_experts = [](std::vector<std::string> flags) {
      flags.insert(flags.end(), kExpertValueFlags.begin(), kExpertValueFlags.end());
      return flags;
    };
    if (command == "logits")
      return cmd_logits(parse_args(argc, argv, 2, plus_experts({"--ids", "--out", "--mode"}), kExpertSwitches));
    if (command == "perplexity")
      return cmd_perplexity(parse_args(argc, argv, 2, plus_experts({"--text", "--ctx", "--max-tokens"}), kExpertSwitches));
    if (command == "bench")
      return cmd_bench(parse_args(argc, argv, 2, plus_experts({"--prompt", "--gen", "--seed"}),
                                  switches({"--mtp-compare"})));
    const std::vector<std::string> sampling = {"-n", "--temp", "--top-k", "--top-p", "--min-p", "--seed",
                                               "--repeat-penalty", "--presence-penalty", "--frequency-penalty",
                                               "--ctx", "--stop", "--chat-template"};
    auto with = [&](std::vector<std::string> flags) {
      flags.insert(flags.end(), sampling.begin(), sampling.end());
      return plus_experts(flags);
    };
    if (command == "run") {
      const Args args = parse_args(argc, argv, 2, with({"--ids", "-p"}),
                                    switches({"--ignore-eos", "--stats", "--no-mtp", "--no-parse-special"}));
      if (args.has("-p") == args.has("--ids")) throw std::runtime_error("run needs exactly one of --ids or -p");
      return args.has("-p") ? cmd_run_text(args) : cmd_run(args);
    }
    if (command == "tokenize")
      return cmd_tokenize(parse_args(argc, argv, 2, {"--text", "--chat-template"},
                                     {"--no-special", "--parse-special", "--no-parse-special"}));
    if (command == "chat")
      return cmd_chat(parse_args(argc, argv, 2, with({"--system"}), switches({"--ignore-eos", "--no-mtp"})));
    std::fprintf(stderr, "mote: error: unknown command '%s'\n", command.c_str());
    usage(stderr);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s\n", e.what());
    return 2;
  }
}
