// mote: command-line front end of the runtime.
//   mote inspect FILE
//   mote logits FILE --ids 1,2,3 --out PATH [--mode prefill|decode]
//   mote run FILE --ids 1,2,3 [-n 32]
// Errors print one line "mote: error: ..." and exit 1 (2 for usage errors).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: mote <command> FILE [options]\n"
               "  inspect FILE                                   print metadata as JSON\n"
               "  logits FILE --ids 1,2,3 --out PATH [--mode prefill|decode]\n"
               "                                                 write float32 logits [n_ids, vocab]\n"
               "  run FILE --ids 1,2,3 [-n 32] [--ignore-eos]     greedy continuation, prints ids\n");
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
      return cmd_logits(parse_args(argc, argv, 2, {"--ids", "--out", "--mode"}, {}));
    if (command == "run") return cmd_run(parse_args(argc, argv, 2, {"--ids", "-n"}, {"--ignore-eos"}));
    std::fprintf(stderr, "mote: error: unknown command '%s'\n", command.c_str());
    usage(stderr);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s\n", e.what());
    return 2;
  }
}
