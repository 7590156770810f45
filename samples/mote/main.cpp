// mote: command-line front end of the runtime.
//   mote inspect FILE
//   mote logits FILE --ids 1,2,3 --out PATH [--mode prefill|decode] [--expert-budget SIZE]
//   mote run FILE --ids 1,2,3 [-n 32] [--expert-budget SIZE]
//   mote run FILE -p "text" [-n 256] [sampling flags]
//   mote tokenize FILE --text "..." [--no-special]
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
               "    (logits, run --ids: --expert-budget SIZE [--expert-policy lru|lfu] caps routed-expert\n"
               "     memory, SIZE like 512M, 2G or bytes; default: every expert resident)\n"
               "  run FILE -p \"text\" [-n 256] [--stop S] [--stats]  streams generated text\n"
               "  tokenize FILE --text \"...\" [--no-special]     prints token ids (--no-special: no BOS)\n"
               "  chat FILE [--system TEXT] [--chat-template NAME] interactive chat; /reset /stats /quit\n"
               "sampling flags (run -p, chat): --temp T (0 = greedy, default) --top-k K --top-p P --min-p P\n"
               "  --repeat-penalty R --presence-penalty P --seed S --ctx N --ignore-eos\n");
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
    if (command == "logits")
      return cmd_logits(parse_args(argc, argv, 2, {"--ids", "--out", "--mode", "--expert-budget", "--expert-policy"}, {}));
    const std::vector<std::string> sampling = {"-n", "--temp", "--top-k", "--top-p", "--min-p", "--seed",
                                               "--repeat-penalty", "--presence-penalty", "--ctx", "--stop",
                                               "--chat-template"};
    auto with = [&](std::vector<std::string> flags) {
      flags.insert(flags.end(), sampling.begin(), sampling.end());
      return flags;
    };
    if (command == "run") {
      const Args args = parse_args(argc, argv, 2, with({"--ids", "-p", "--expert-budget", "--expert-policy"}), {"--ignore-eos", "--stats"});
      if (args.has("-p") == args.has("--ids")) throw std::runtime_error("run needs exactly one of --ids or -p");
      if (args.has("-p") && (args.has("--expert-budget") || args.has("--expert-policy")))
        throw std::runtime_error("--expert-budget is supported with run --ids only, not yet with -p");
      return args.has("-p") ? cmd_run_text(args) : cmd_run(args);
    }
    if (command == "tokenize")
      return cmd_tokenize(parse_args(argc, argv, 2, {"--text", "--chat-template"}, {"--no-special"}));
    if (command == "chat") return cmd_chat(parse_args(argc, argv, 2, with({"--system"}), {"--ignore-eos"}));
    std::fprintf(stderr, "mote: error: unknown command '%s'\n", command.c_str());
    usage(stderr);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s\n", e.what());
    return 2;
  }
}
