// mote: command-line front end of the runtime. `mote --help` lists the commands, `mote CMD --help`
// one command's flags. Errors print one line "mote: error: ..." and exit 1 (2 for usage errors).
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"

namespace mote::cli {
namespace {

void usage(FILE* out) {
  std::fprintf(out, "usage: mote <command> FILE [options]   (mote <command> --help: that command's flags)\n");
  for (const Command& c : commands()) std::fprintf(out, "  %-11s %s\n", c.name, c.summary);
  std::fprintf(out, "  %-11s %s\n", "version", "print the version (also mote --version)");
}

int print_version() {
  std::printf("mote %s\n", cli_version());
  return 0;
}

// "unknown command 'chta'; did you mean 'chat'?"
int unknown_command(const std::string& name) {
  std::vector<std::string> names{"version"};
  for (const Command& c : commands()) names.push_back(c.name);
  const std::string near = closest(name, names);
  std::fprintf(stderr, "mote: error: unknown command '%s'%s (mote --help lists the commands)\n", name.c_str(),
               near.empty() ? "" : ("; did you mean '" + near + "'?").c_str());
  return 2;
}

int dispatch(int argc, char** argv) {
  const std::string name = argv[1];
  if (name == "--version" || name == "-V" || name == "version") return print_version();
  const Command* command = find_command(name);
  if (command == nullptr) return unknown_command(name);
  Args args;
  try {
    args = parse_args(argc, argv, 2, command->value_flags, command->switches);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s: %s (mote %s --help lists the flags)\n", command->name, e.what(),
                 command->name);
    return 2;
  }
  if (args.help) {
    std::fputs(command->help, stdout);
    return 0;
  }
  return command->run(args);
}

}  // namespace
}  // namespace mote::cli

int main(int argc, char** argv) {
  using namespace mote::cli;
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  try {
    return dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s\n", e.what());
    return 2;
  }
}
