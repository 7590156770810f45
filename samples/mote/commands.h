// The mote subcommands: name, one-line summary, --help text, accepted flags and entry point.
#pragma once

#include <string>
#include <vector>

#include "cli.h"

namespace mote::cli {

struct Command {
  const char* name;
  const char* summary;  // one line for `mote --help`
  const char* help;     // `mote NAME --help`
  std::vector<std::string> value_flags;
  std::vector<std::string> switches;
  int (*run)(const Args& args);
};

const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
// "0.3.0": libmote's mote_version().
const char* cli_version();

// mote serve (cmd_serve.cpp): the OpenAI-compatible server, or a one-line error where mote was
// built without cpp-httplib.
int cmd_serve(const Args& args);

}  // namespace mote::cli
